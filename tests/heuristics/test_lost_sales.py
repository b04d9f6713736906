"""Lost-sales heuristics: capped base-stock, myopic; against brute force and the exact DP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, ValidationError
from orkit.evaluation import evaluate
from orkit.heuristics import (
    BaseStockPolicy,
    CappedBaseStockPolicy,
    ConstantOrderPolicy,
    MyopicPolicy,
    Poisson,
    base_stock_level,
    myopic_order,
    optimize_capped_base_stock,
    solve_average_cost_dp,
)

PMF = np.array([0.2, 0.3, 0.3, 0.2])


def brute_myopic(x0, pipeline, lead_time, review_period, h=1.0, b=4.0):
    """Expected cost of every order by enumerating all demand sequences (independent oracle)."""
    periods = lead_time + review_period
    costs = []
    for q in range(0, 3 * periods + 4):
        total = 0.0
        for ds in itertools.product(range(PMF.size), repeat=periods):
            prob = np.prod(PMF[list(ds)])
            x = x0
            cost = 0.0
            for k, d in enumerate(ds):
                if k == lead_time:
                    x += q
                if k >= lead_time:
                    cost += h * max(x - d, 0) + b * max(d - x, 0)
                x = max(x - d, 0) + (pipeline[k] if k < lead_time else 0)
            total += prob * cost
        costs.append(total)
    return int(np.argmin(np.round(costs, 12)))


@pytest.mark.parametrize("lead_time, review_period", [(0, 1), (1, 1), (2, 1), (2, 2), (1, 3)])
def test_myopic_order_matches_enumeration(lead_time, review_period):
    states = [(0, (0, 0)), (2, (1, 0)), (5, (0, 3)), (1, (4, 2))]
    x0 = torch.tensor([float(s[0]) for s in states])
    pipe = torch.tensor([list(s[1]) for s in states], dtype=torch.float32)
    got = myopic_order(x0, pipe, PMF, holding_cost=1.0, shortage_cost=4.0, lead_time=lead_time, review_period=review_period)
    want = [brute_myopic(s[0], s[1], lead_time, review_period) for s in states]
    assert got.tolist() == want


def test_myopic_without_lead_time_is_the_newsvendor_and_backorders_give_base_stock():
    x0 = torch.tensor([0.0, 3.0, 9.0])
    orders = myopic_order(x0, torch.zeros(3, 0), Poisson(5.0), holding_cost=1.0, shortage_cost=4.0, lead_time=0)
    assert orders.tolist() == [7.0, 4.0, 0.0]
    pipe = torch.tensor([[2.0], [0.0], [8.0]])
    back = myopic_order(x0, pipe, Poisson(5.0), holding_cost=1.0, shortage_cost=4.0, lead_time=1, review_period=2,
                        lost_sales=False)
    S = float(base_stock_level(1.0, 4.0, Poisson(5.0), 1, 2))
    assert back.tolist() == np.maximum(S - (x0 + pipe[:, 0]).numpy(), 0).tolist()


def test_myopic_policy_is_near_optimal_for_lead_time_one():
    """Zipkin (2008): the myopic policy is close to optimal for short lead times."""
    problem = InventoryProblem(lead_time=1, review_period=1, holding_cost=1.0, shortage_cost=9.0, lost_sales=True,
                               warmup_periods=30)
    demand = np.random.default_rng(2).poisson(5.0, size=(800, 230)).astype(np.float32)
    policy = MyopicPolicy().fit(demand[:100], None, problem)  # empirical pmf of the training demand
    optimal = solve_average_cost_dp(Poisson(5.0), holding_cost=1.0, shortage_cost=9.0, lead_time=1).average_cost
    assert evaluate(policy, demand[100:], problem)["weighted_loss"] == pytest.approx(optimal, rel=0.015)


def test_capped_base_stock_nests_base_stock_and_constant_order():
    rng = np.random.default_rng(3)
    demand = rng.poisson(5.0, size=(200, 120)).astype(float)
    problem = InventoryProblem(lead_time=2, review_period=1, holding_cost=1.0, shortage_cost=9.0, lost_sales=True,
                               warmup_periods=20)
    losses = {
        name: evaluate(policy.fit(demand, None, problem), demand, problem)["weighted_loss"]
        for name, policy in {
            "capped": CappedBaseStockPolicy(),
            "base-stock": BaseStockPolicy(),
            "constant": ConstantOrderPolicy(),
        }.items()
    }
    assert losses["capped"] <= min(losses["base-stock"], losses["constant"]) + 1e-9
    optimal = solve_average_cost_dp(Poisson(5.0), holding_cost=1.0, shortage_cost=9.0, lead_time=2).average_cost
    assert losses["capped"] == pytest.approx(optimal, rel=0.03)


def test_capped_base_stock_per_sku_and_errors():
    demand = np.random.default_rng(4).poisson(3.0, size=(3, 60)).astype(float)
    problem = InventoryProblem(lead_time=1, review_period=1, lost_sales=True)
    levels, caps = optimize_capped_base_stock(demand, problem, per_sku=True)
    assert levels.shape == caps.shape == (3,)
    with pytest.raises(ValidationError, match="both be given"):
        CappedBaseStockPolicy(level=3.0)
