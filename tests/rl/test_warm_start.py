"""Warm start: after imitation the network orders what the teacher orders."""

from __future__ import annotations

import pytest
import torch

from orkit.core import ValidationError
from orkit.evaluation import evaluate
from orkit.heuristics import BaseStockPolicy
from orkit.rl import DDPGPolicy, DSPolicy, NetworkConfig, NeuralPolicy, PPOPolicy, build_network, imitate, make_head
from orkit.rl.warm_start import record_teacher


@pytest.fixture(scope="module")
def teacher(setting_1):
    train, validation, _, problem = setting_1
    return BaseStockPolicy().fit(train, validation, problem)


def test_imitation_orders_are_within_one_percent_of_the_teacher(setting_1, teacher):
    train, _, _, problem = setting_1
    network = build_network(train, problem, make_head("base"), NetworkConfig())
    losses = imitate(network, teacher, train, problem, epochs=300)
    assert losses[-1] < losses[0] / 100
    # on the teacher's own review-day states of the training trajectories
    encoded, teacher_orders = record_teacher(teacher, network, train, problem)
    with torch.no_grad():
        orders = network.orders(network.output(encoded), encoded)
    positive = teacher_orders > 0
    assert positive.sum() > 100
    assert float(((orders - teacher_orders).abs() / teacher_orders)[positive].max()) < 0.01
    assert float(torch.cat([orders[~positive], torch.zeros(1)]).max()) < 0.01 * float(teacher_orders.mean())
    # and in closed loop: the same training loss within 1%
    ours = evaluate(NeuralPolicy(network), train, problem)["weighted_loss"]
    assert ours == pytest.approx(evaluate(teacher, train, problem)["weighted_loss"], rel=0.01)


@pytest.mark.parametrize("cls, budget", [
    (DSPolicy, dict(max_epochs=0)),
    (PPOPolicy, dict(total_timesteps=1, num_steps=14)),
    (DDPGPolicy, dict(total_timesteps=1, learning_starts=10_000)),
])
def test_every_learner_starts_from_the_teacher(setting_1, teacher, cls, budget):
    train, validation, _, problem = setting_1
    policy = cls("base", warm_start=teacher, warm_start_epochs=300, hidden_sizes=(32, 32), **budget)
    policy.fit(train, validation, problem)
    expected = evaluate(teacher, validation, problem)["weighted_loss"]
    assert policy.history_[0]["validation_loss"] == pytest.approx(expected, rel=0.01)


def test_a_teacher_must_act(setting_1):
    train, validation, _, problem = setting_1
    with pytest.raises(ValidationError, match="warm_start must be a policy"):
        DSPolicy("base", warm_start=42.0, max_epochs=0).fit(train, validation, problem)
