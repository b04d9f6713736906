"""Models trained on the Gymnasium adapter act as orkit policies (stable-baselines3 when installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orkit.evaluation import evaluate
from orkit.rl import GymModelPolicy
from orkit.sim import simulate
from orkit.sim.gym_env import InventoryEnv


class Recorder:
    """A stand-in model: orders up to 40 from the position, remembers what it saw."""

    def __init__(self, lead_time):
        self.lead_time, self.seen = lead_time, []

    def predict(self, x, deterministic=True):
        self.seen.append(np.array(x))
        return np.maximum(40.0 - x[:, 1 + self.lead_time], 0.0)[:, None], None


def test_the_model_sees_exactly_the_env_observation(setting_1):
    train, _, _, problem = setting_1
    model = Recorder(problem.lead_time)
    ledger = simulate(GymModelPolicy(model, lead_time=problem.lead_time, horizon=train.n_periods), train, problem)
    env = InventoryEnv(train.demand, problem, features=train.features)
    for path in range(train.n_skus):
        obs, _ = env.reset(options={"path": path})
        seen = iter(model.seen)
        for t in range(train.n_periods):
            if t >= problem.review_period and t % problem.review_period == 0:
                np.testing.assert_allclose(next(seen)[path], obs, rtol=1e-6)
            obs, *_ = env.step([float(ledger.order[path, t])])


def test_stable_baselines3_ppo_on_the_single_sku_env_acts_as_an_orkit_policy(setting_1):
    sb3 = pytest.importorskip("stable_baselines3")
    train, _, test, problem = setting_1
    env = InventoryEnv(train.demand, problem, features=train.features)
    model = sb3.PPO("MlpPolicy", env, n_steps=512, batch_size=128, n_epochs=2, seed=0, device="cpu")
    model.learn(total_timesteps=2048)
    policy = GymModelPolicy(model, lead_time=problem.lead_time, horizon=train.n_periods)
    ledger = simulate(policy, test, problem)
    assert 0.0 <= float(ledger.order.min()) and float(ledger.order.max()) <= problem.max_order
    assert math.isfinite(evaluate(policy, test, problem)["weighted_loss"])
