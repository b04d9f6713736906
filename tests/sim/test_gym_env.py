"""The Gymnasium adapter passes Gymnasium's checker and costs what the batched core costs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from orkit.core import InventoryProblem, ValidationError
from orkit.heuristics import BaseStockPolicy
from orkit.sim import simulate
from orkit.sim.gym_env import InventoryEnv


def test_passes_gymnasium_env_checker():
    demand = np.random.default_rng(0).poisson(5, size=(3, 20))
    check_env(InventoryEnv(demand, InventoryProblem(lead_time=2, review_period=2)), skip_render_check=True)


@pytest.mark.parametrize("lost", [False, True])
@pytest.mark.parametrize("lead_time,review_period", [(0, 1), (1, 2), (3, 1)])
def test_rewards_equal_minus_ledger_costs(lead_time, review_period, lost):
    rng = np.random.default_rng(lead_time * 10 + review_period)
    demand = rng.poisson(6, size=(4, 25)).astype(float)
    problem = InventoryProblem(lead_time=lead_time, review_period=review_period, lost_sales=lost)
    ledger = simulate(BaseStockPolicy(20.0), torch.tensor(demand), problem)
    env = InventoryEnv(demand, problem)
    for path in range(4):
        obs, _ = env.reset(options={"path": path})
        rewards = []
        for t in range(demand.shape[1]):
            ip = obs[1 + lead_time]
            obs, reward, terminated, truncated, info = env.step([max(20.0 - ip, 0.0)])
            rewards.append(reward)
            assert info["order"] == pytest.approx(ledger.order[path, t].item())
        assert truncated and not terminated
        counted = ledger.counted[path].numpy()
        np.testing.assert_allclose(-np.array(rewards)[counted], ledger.cost[path].numpy()[counted])


def test_rejects_per_sku_timing():
    with pytest.raises(ValidationError, match="one lead_time"):
        InventoryEnv(np.ones((2, 5)), InventoryProblem(lead_time=[1, 2]))
