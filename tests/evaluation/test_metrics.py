"""Metrics from the ledger against hand-computed values, and compare() on shared data."""

from __future__ import annotations

import pytest
import torch

from orkit.core import InventoryProblem, ValidationError
from orkit.evaluation import METRICS, compare, evaluate, metrics_from_ledger
from orkit.heuristics import BaseStockPolicy, ConstantOrderPolicy
from orkit.sim import simulate


def test_metrics_by_hand_backorders():
    # Same instance as test_backorders_lead_time_1_review_period_2_by_hand: counted days 3..7
    # y = [3, -3, 3, -1, 3], sales = [2, 3, 1, 3, 3], demand = [2, 6, 1, 4, 3]
    demand = torch.tensor([[3.0, 4, 5, 2, 6, 1, 4, 3]])
    problem = InventoryProblem(lead_time=1, review_period=2)
    m = metrics_from_ledger(simulate(BaseStockPolicy(10.0), demand, problem))
    assert m["weighted_loss"] == pytest.approx((0.1 * 9 + 0.9 * 4) / 5)
    assert m["holding_cost"] == pytest.approx(0.9) and m["shortage_cost"] == pytest.approx(3.6)
    assert m["fill_rate"] == pytest.approx(12 / 16)
    assert m["stockout_rate"] == pytest.approx(2 / 5)
    # cycles start at the arrival days 3, 5, 7: unmet demand on day 4 (cycle 1) and 6 (cycle 2)
    assert m["cycle_service_level"] == pytest.approx(1 / 3)
    assert m["average_on_hand"] == pytest.approx(9 / 5)
    assert m["turnover_days"] == pytest.approx((9 / 5) / (12 / 5))


def test_lean_and_full_give_the_same_metrics():
    g = torch.Generator().manual_seed(1)
    demand = torch.poisson(torch.full((50, 40), 5.0), generator=g)
    for lost in (False, True):
        problem = InventoryProblem(lead_time=2, review_period=3, lost_sales=lost)
        full = evaluate(ConstantOrderPolicy(14.0), demand, problem, ledger="full")
        lean = evaluate(ConstantOrderPolicy(14.0), demand, problem, ledger="lean")
        assert full == pytest.approx(lean, rel=1e-5)


def test_turnover_is_capped_and_covers_skus_without_sales():
    demand = torch.zeros(1, 10)
    led = simulate(ConstantOrderPolicy(1.0), demand, InventoryProblem(lead_time=0))
    m = metrics_from_ledger(led, turnover_cap=28)
    assert m["turnover_days"] == 28 and m["fill_rate"] == 1.0
    with pytest.raises(ValidationError, match="turnover_cap must be > 0"):
        metrics_from_ledger(led, turnover_cap=0)


def test_compare_scores_every_policy_on_the_same_paths():
    g = torch.Generator().manual_seed(2)
    demand = torch.poisson(torch.full((200, 30), 10.0), generator=g)
    problem = InventoryProblem(lead_time=1, review_period=1)
    table = compare({"low": BaseStockPolicy(15.0), "good": BaseStockPolicy(25.0)}, demand, problem)
    assert list(table.index) == ["low", "good"]
    assert list(table.columns) == [*METRICS, "seconds"]
    assert table.loc["good", "weighted_loss"] < table.loc["low", "weighted_loss"]
    assert table.loc["good", "weighted_loss"] == pytest.approx(
        evaluate(BaseStockPolicy(25.0), demand, problem)["weighted_loss"]
    )
    with pytest.raises(ValidationError, match="at least one policy"):
        compare({}, demand, problem)
