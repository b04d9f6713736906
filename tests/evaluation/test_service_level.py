"""A fill-rate target instead of a shortage cost (issue 18 item 4): the smallest base-stock level
whose ledger fill rate reaches the target."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from orkit.core import InventoryProblem, ValidationError
from orkit.data import Dataset
from orkit.evaluation import evaluate
from orkit.heuristics import BaseStockPolicy, FillRateBaseStockPolicy, fill_rate_base_stock_level


def test_the_level_meets_the_normal_loss_function_fill_rate():
    # L = 0, P = 1, backorders: on hand before demand is S every period, so the fill rate is
    # 1 - E[(D - S)^+] / mu = 1 - sigma G(k) / mu with G the standard normal loss function
    # (the P2 service of Silver, Pyke & Peterson, "Inventory Management and Production Planning
    # and Scheduling", 1998, with one-period protection)
    mu, sigma, beta = 20.0, 4.0, 0.95
    loss = lambda k: stats.norm.pdf(k) - k * stats.norm.sf(k)  # noqa: E731
    k = optimize.brentq(lambda k: sigma * loss(k) - (1 - beta) * mu, -3.0, 3.0)
    demand = np.random.default_rng(0).normal(mu, sigma, size=(50, 4000)).clip(min=0)
    problem = InventoryProblem(lead_time=0, review_period=1)
    level = fill_rate_base_stock_level(demand, problem, beta, integer=False)
    assert level[0] == pytest.approx(mu + k * sigma, rel=3e-3)


def test_each_sku_reaches_the_target_with_the_smallest_level():
    rng = np.random.default_rng(1)
    demand = np.stack([rng.poisson(3.0, 300), rng.poisson(30.0, 300)]).astype(float)
    data = Dataset(demand, sku_ids=["slow", "fast"])
    problem = InventoryProblem(lead_time=1, review_period=2, lost_sales=True)
    policy = FillRateBaseStockPolicy(0.9, per_sku=True).fit(data, None, problem)
    assert policy.per_sku_ and policy.sku_ids_.tolist() == ["slow", "fast"]
    for i in range(2):
        one = data.subset([i])
        level = float(policy.level_[i])
        assert level == int(level)  # integer demand, integer levels
        assert evaluate(BaseStockPolicy(level), one, problem)["fill_rate"] >= 0.9
        assert evaluate(BaseStockPolicy(level - 1), one, problem)["fill_rate"] < 0.9
    shared = FillRateBaseStockPolicy(0.9).fit(data, None, problem)
    assert not shared.per_sku_ and evaluate(shared, data, problem)["fill_rate"] >= 0.9


def test_bad_targets_and_unreachable_ones_are_refused():
    demand = np.full((2, 20), 5.0)
    with pytest.raises(ValidationError, match="fill_rate must be <= 1, got 1.5"):
        fill_rate_base_stock_level(demand, InventoryProblem(), 1.5)
    with pytest.raises(ValidationError, match="fill_rate must be > 0, got 0"):
        fill_rate_base_stock_level(demand, InventoryProblem(), 0.0)
    with pytest.raises(ValidationError, match="no base-stock level reaches the fill rate 0.99"):
        fill_rate_base_stock_level(demand, InventoryProblem(lead_time=0, max_order=2.0), 0.99)


def test_a_per_sku_level_refuses_skus_without_a_scored_training_period():
    # "late" is launched in period 18 of 20: with L + P = 3 periods of warm-up it has no scored
    # period, and would reach any target at level 0
    demand = np.random.default_rng(2).poisson(5.0, size=(3, 20)).astype(float)
    demand[2, :18] = 0.0
    data = Dataset(demand, sku_ids=["a", "b", "late"], life=(np.array([0, 0, 18]), np.array([19, 19, 19])))
    problem = InventoryProblem(lead_time=1, review_period=2)
    with pytest.raises(ValidationError, match=r"per-SKU fill-rate level .* 1 SKU\(s\) \('late'\) live too briefly"):
        FillRateBaseStockPolicy(0.9, per_sku=True).fit(data, None, problem)
    pooled = FillRateBaseStockPolicy(0.9).fit(data, None, problem)  # the pooled rate counts the others
    assert pooled.level_ > 0
    with pytest.raises(ValidationError, match="no training period is scored"):
        fill_rate_base_stock_level(np.ones((2, 3)), problem, 0.9)
