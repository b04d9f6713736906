"""DDPG: tiny-budget smoke tests per regularization, determinism, the replay buffer."""

from __future__ import annotations

import math

import pytest
import torch

from orkit.core import ValidationError
from orkit.evaluation import evaluate
from orkit.rl import DDPGPolicy, ReplayBuffer
from orkit.sim import simulate

TINY = dict(total_timesteps=168, num_envs=4, learning_starts=56, batch_size=32, eval_every=56, hidden_sizes=(16, 16))


@pytest.mark.parametrize("regularization", ["none", "base", "coeff", "both"])
def test_smoke_every_regularization(setting_1, regularization):
    train, validation, test, problem = setting_1
    policy = DDPGPolicy(regularization, **TINY).fit(train, validation, problem)
    assert [h["timesteps"] for h in policy.history_] == [0, 56, 112, 168]
    # one gradient step per collected step once learning has started (train_freq=1)
    assert [h["gradient_steps"] for h in policy.history_] == [0, 56, 112, 168]
    for h in policy.history_[2:]:
        assert all(math.isfinite(h[k]) for k in ("validation_loss", "critic_loss", "actor_loss"))
    ledger = simulate(policy, test, problem)
    assert 0.0 <= float(ledger.order.min()) and float(ledger.order.max()) <= problem.max_order
    assert math.isfinite(evaluate(policy, test, problem)["weighted_loss"])


def test_train_freq_sets_gradient_steps_per_collected_step(setting_1):
    train, validation, _, problem = setting_1
    policy = DDPGPolicy("base", **{**TINY, "train_freq": 14}).fit(train, validation, problem)
    assert policy.history_[-1]["gradient_steps"] == 168 // 14


@pytest.mark.parametrize("anneal_lr, expected", [(False, [1e-3] * 3), (True, [1e-3, 2e-3 / 3, 1e-3 / 3])])
def test_anneal_lr_decays_the_step_size_linearly(setting_1, anneal_lr, expected):
    """With anneal_lr the step size before each rollout's gradient steps is (1 - steps before it /
    budget) x learning_rate (rollouts of 56 steps: 0, 56 and 112 steps before them)."""
    train, validation, _, problem = setting_1
    policy = DDPGPolicy("base", learning_rate=1e-3, anneal_lr=anneal_lr, **TINY).fit(train, validation, problem)
    assert [h["learning_rate"] for h in policy.history_[1:]] == pytest.approx(expected)


def without_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def test_same_seed_same_numbers(setting_1):
    train, validation, _, problem = setting_1
    a = DDPGPolicy("both", seed=2, exploration_noise=0.1, **TINY).fit(train, validation, problem)
    b = DDPGPolicy("both", seed=2, exploration_noise=0.1, **TINY).fit(train, validation, problem)
    assert without_seconds(a.history_) == without_seconds(b.history_)
    sa, sb = a.policy_.network.state_dict(), b.policy_.network.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_replay_buffer_is_a_ring():
    buffer = ReplayBuffer(5, {"x": (2,), "r": ()})
    buffer.add(x=torch.zeros(3, 2), r=torch.tensor([0.0, 1.0, 2.0]))
    assert len(buffer) == 3
    buffer.add(x=torch.ones(4, 2), r=torch.tensor([3.0, 4.0, 5.0, 6.0]))
    assert len(buffer) == 5 and buffer.position == 2
    assert buffer.storage["r"].tolist() == [5.0, 6.0, 2.0, 3.0, 4.0]  # 0 and 1 overwritten
    sample = buffer.sample(64, torch.Generator().manual_seed(0))
    assert sample["x"].shape == (64, 2) and set(sample["r"].tolist()) <= {2.0, 3.0, 4.0, 5.0, 6.0}
    copy = ReplayBuffer(5, {"x": (2,), "r": ()})
    copy.load_state_dict(buffer.state_dict())
    assert torch.equal(copy.storage["r"], buffer.storage["r"]) and copy.position == 2 and len(copy) == 5
    with pytest.raises(ValidationError, match="add needs the fields"):
        buffer.add(x=torch.zeros(1, 2))


def test_replay_buffer_draws_many_minibatches_as_one():
    """``sample(count=k)`` is k calls of ``sample`` (the same random numbers, in order), fields
    kept apart in one row per transition; the generator is left where k calls leave it."""
    buffer = ReplayBuffer(50, {"obs": (3,), "grid": (2, 2), "r": ()})
    buffer.add(obs=torch.arange(120.0).view(40, 3), grid=torch.arange(160.0).view(40, 2, 2), r=torch.arange(40.0))
    one_by_one, at_once = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    calls = [buffer.sample(8, one_by_one) for _ in range(3)]
    batches = buffer.sample(8, at_once, count=3)
    assert batches["grid"].shape == (3, 8, 2, 2) and batches["r"].shape == (3, 8)
    for k in ("obs", "grid", "r"):
        assert torch.equal(batches[k], torch.stack([c[k] for c in calls]))
    assert torch.equal(batches["obs"][..., 0] / 3, batches["r"])  # rows stay whole
    assert torch.equal(torch.rand(2, generator=one_by_one), torch.rand(2, generator=at_once))
    assert buffer.sample(8, at_once, count=0)["grid"].shape == (0, 8, 2, 2)
    with pytest.raises(ValidationError, match="count >= 0, got batch_size=8, count=-1"):
        buffer.sample(8, at_once, count=-1)


def test_bad_hyperparameters_are_named(setting_1):
    train, validation, _, problem = setting_1
    with pytest.raises(ValidationError, match="tau must be <= 1"):
        DDPGPolicy("base", tau=2.0).fit(train, validation, problem)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_ddpg_trains_on_cuda(setting_1):
    """``device="cuda"``: networks, replay buffer and minibatches on the GPU (the fast path and
    the row-per-transition buffer there), scored by the common evaluation code."""
    train, validation, test, problem = setting_1
    policy = DDPGPolicy("base", device="cuda", seed=0, **TINY).fit(train, validation, problem)
    assert [h["gradient_steps"] for h in policy.history_] == [0, 56, 112, 168]
    for h in policy.history_[2:]:
        assert all(math.isfinite(h[k]) for k in ("validation_loss", "critic_loss", "actor_loss"))
    assert math.isfinite(evaluate(policy, test, problem)["weighted_loss"])
