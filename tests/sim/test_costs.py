"""Per-SKU holding, shortage and fixed ordering costs in the ledgers, the metrics and the Gymnasium
adapters: hand-computed charges, and a per-SKU run equal to one scalar run per SKU on every path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem
from orkit.evaluation import metrics_from_ledger, per_sku_costs, per_sku_loss
from orkit.heuristics import BaseStockPolicy
from orkit.sim import simulate
from orkit.sim.gym_vector import InventoryVectorEnv


def test_fixed_cost_is_charged_once_per_order_placed_in_counted_periods_by_hand():
    # S = 10, L = 1, P = 2 (the hand-computed ledger of test_simulator): orders 17, 7, 7 on the
    # review days 2, 4, 6; warm-up L + P = 3, so the orders of days 4 and 6 are charged.
    demand = torch.tensor([[3.0, 4, 5, 2, 6, 1, 4, 3]])
    problem = InventoryProblem(lead_time=1, review_period=2, holding_cost=0.1, shortage_cost=0.9, fixed_cost=2.5)
    for ledger in ("full", "lean"):
        led = simulate(BaseStockPolicy(10.0), demand, problem, ledger=ledger)
        m = metrics_from_ledger(led)
        assert m["fixed_cost"] == pytest.approx(2 * 2.5)
        assert m["holding_cost"] == pytest.approx(0.9) and m["shortage_cost"] == pytest.approx(3.6)
        assert m["total_cost"] == pytest.approx(0.9 + 3.6 + 5.0)
        assert per_sku_loss(led).item() == pytest.approx((0.9 + 3.6 + 5.0) / 5)
        assert per_sku_costs(led)["orders_placed"].tolist() == [2.0]


def test_no_order_no_charge_and_zero_fixed_cost_changes_nothing():
    # a level below every inventory position orders nothing: K is never charged
    demand = torch.full((2, 10), 3.0)
    problem = InventoryProblem(lead_time=0, review_period=1, initial_on_hand=100.0, fixed_cost=50.0)
    assert metrics_from_ledger(simulate(BaseStockPolicy(1.0), demand, problem))["fixed_cost"] == 0.0
    led = simulate(BaseStockPolicy(8.0), demand, problem.with_(fixed_cost=0.0), ledger="lean")
    assert led.orders_placed is None and metrics_from_ledger(led)["fixed_cost"] == 0.0


def per_sku_problem(lost: bool) -> InventoryProblem:
    return InventoryProblem(lead_time=2, review_period=1, lost_sales=lost, holding_cost=[0.1, 1.0, 0.5],
                            shortage_cost=[0.9, 2.0, 9.0], fixed_cost=[0.0, 4.0, 1.5])


@pytest.mark.parametrize("lost", [False, True])
def test_per_sku_costs_equal_one_scalar_run_per_sku(lost):
    rng = np.random.default_rng(3)
    demand = torch.tensor(rng.poisson(5, size=(3, 40)), dtype=torch.float64)
    problem = per_sku_problem(lost)
    levels = torch.tensor([14.0, 18.0, 9.0], dtype=torch.float64)
    runs = {ledger: simulate(BaseStockPolicy(levels), demand, problem, ledger=ledger) for ledger in ("full", "lean")}
    for i in range(3):
        alone = problem.subset([i])
        assert alone.holding_cost.shape == (1,)
        scalar = InventoryProblem(lead_time=2, review_period=1, lost_sales=lost, holding_cost=float(alone.holding_cost[0]),
                                  shortage_cost=float(alone.shortage_cost[0]), fixed_cost=float(alone.fixed_cost[0]))
        expected = simulate(BaseStockPolicy(levels[i].item()), demand[i:i + 1], scalar)
        for led in runs.values():
            got, want = per_sku_costs(led), per_sku_costs(expected)
            for key in ("holding_cost", "shortage_cost", "fixed_cost", "total_cost"):
                assert got[key][i].item() == pytest.approx(want[key][0].item(), rel=1e-12, abs=1e-12)
            assert per_sku_loss(led)[i].item() == pytest.approx(per_sku_loss(expected)[0].item(), rel=1e-12)
    full, lean = metrics_from_ledger(runs["full"]), metrics_from_ledger(runs["lean"])
    assert full == pytest.approx(lean, rel=1e-12)
    assert full["fixed_cost"] > 0


def test_compiled_and_differentiable_runs_charge_the_same_per_sku_costs():
    rng = np.random.default_rng(4)
    demand = torch.tensor(rng.poisson(5, size=(3, 30)), dtype=torch.float32)
    problem = per_sku_problem(False)
    policy = BaseStockPolicy(torch.tensor([14.0, 18.0, 9.0]))
    eager = per_sku_loss(simulate(policy, demand, problem, ledger="lean", fused=False))
    compiled = per_sku_loss(simulate(policy, demand, problem, ledger="lean", fused=True))
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)
    level = torch.tensor([14.0, 18.0, 9.0], requires_grad=True)
    loss = per_sku_loss(simulate(BaseStockPolicy(level), demand, problem, differentiable=True))
    torch.testing.assert_close(loss.detach(), eager, rtol=1e-5, atol=1e-5)
    loss.sum().backward()
    assert torch.isfinite(level.grad).all() and (level.grad != 0).all()


def test_per_sku_costs_must_match_the_data():
    problem = InventoryProblem(holding_cost=[0.1, 0.2])
    with pytest.raises(ValueError, match="holding_cost has 2 values but the data has 3 SKUs"):
        simulate(BaseStockPolicy(5.0), torch.ones(3, 5), problem)


def test_gym_vector_rewards_are_minus_the_ledger_costs_with_per_path_costs():
    rng = np.random.default_rng(5)
    demand = rng.poisson(6, size=(3, 25)).astype(float)
    problem = per_sku_problem(False).with_(lead_time=1, review_period=2)
    ledger = simulate(BaseStockPolicy(20.0), torch.tensor(demand), problem)
    envs = InventoryVectorEnv(demand, problem, num_envs=3)
    obs, _ = envs.reset(options={"paths": [2, 0, 1]})
    rewards = []
    for _ in range(demand.shape[1]):
        obs, reward, _, _, info = envs.step(np.maximum(20.0 - obs[:, 2], 0.0)[:, None])
        rewards.append(reward)
    counted = ledger.counted.numpy()[[2, 0, 1]]
    np.testing.assert_allclose(-np.stack(rewards, 1)[counted], ledger.cost.numpy()[[2, 0, 1]][counted], rtol=1e-12)
    assert ledger.fixed_cost.sum() > 0
    with pytest.raises(ValueError, match="one value per row of demand"):
        InventoryVectorEnv(demand[:2], problem, num_envs=1)
