"""PPO: tiny-budget smoke tests per regularization, determinism, GAE bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, ValidationError
from orkit.evaluation import evaluate
from orkit.rl import PPOConfig, PPOPolicy, train_ppo
from orkit.sim import simulate

TINY = dict(total_timesteps=280, num_steps=140, batch_size=64, update_epochs=2, hidden_sizes=(16, 16))


@pytest.mark.parametrize("regularization", ["none", "base", "coeff", "both"])
def test_smoke_every_regularization(setting_1, regularization):
    train, validation, test, problem = setting_1
    policy = PPOPolicy(regularization, **TINY).fit(train, validation, problem)
    assert [h["update"] for h in policy.history_] == [0, 1, 2]
    for h in policy.history_[1:]:
        assert h["timesteps"] == 140 * h["update"]  # 10 trajectories x 14 review periods
        assert all(math.isfinite(h[k]) for k in ("validation_loss", "policy_loss", "value_loss", "train_return"))
    ledger = simulate(policy, test, problem)
    assert 0.0 <= float(ledger.order.min()) and float(ledger.order.max()) <= problem.max_order
    assert math.isfinite(evaluate(policy, test, problem)["weighted_loss"])


def test_learning_rate_decays_linearly(setting_1):
    train, validation, _, problem = setting_1
    result = train_ppo(train, validation, problem, "base", PPOConfig(learning_rate=1e-3, total_timesteps=4 * 140,
                                                                     num_steps=140, update_epochs=1, hidden_sizes=(8,)))
    assert [h["learning_rate"] for h in result.history[1:]] == pytest.approx([1e-3, 7.5e-4, 5e-4, 2.5e-4])


def without_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def test_same_seed_same_numbers(setting_1):
    train, validation, _, problem = setting_1
    a = PPOPolicy("coeff", seed=1, **TINY).fit(train, validation, problem)
    b = PPOPolicy("coeff", seed=1, **TINY).fit(train, validation, problem)
    assert without_seconds(a.history_) == without_seconds(b.history_)
    sa, sb = a.policy_.network.state_dict(), b.policy_.network.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_short_run_learns_something(setting_1):
    """Far from converged, but 20 updates of the default Base network improve on the initial policy."""
    train, validation, _, problem = setting_1
    policy = PPOPolicy("base", total_timesteps=20 * 280, num_steps=280, hidden_sizes=(64, 64),
                       learning_rate=1e-3).fit(train, validation, problem)
    assert policy.best_validation_loss_ < 0.9 * policy.history_[0]["validation_loss"]


def test_needs_one_timing_for_every_sku(setting_1):
    train, validation, _, _ = setting_1
    problem = InventoryProblem(lead_time=np.arange(train.n_skus) % 2, review_period=1)
    with pytest.raises(ValidationError, match="PPO needs one lead_time and review_period"):
        PPOPolicy("base", **TINY).fit(train, train, problem)


def test_bad_hyperparameters_are_named(setting_1):
    train, validation, _, problem = setting_1
    with pytest.raises(ValidationError, match="gae_lambda must be <= 1"):
        PPOPolicy("base", gae_lambda=1.5).fit(train, validation, problem)
