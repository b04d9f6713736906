"""The simulator reproduces the DeepStock synthetic timing (paper.md section 1).

The reference is a plain per-SKU Python loop written from the paper's text, line by line:
state I = (I^0, ..., I^L); the order is decided at the start of the day (review days only,
from day P on) and placed into pipeline slot L; demand arrives; the end-of-day inventory is
recorded; the pipeline shifts by one (slot 1 joins on-hand). Initial stock 0. Costs count from
day L + P on: h * (end inventory)^+ + b * (end inventory)^-, averaged per day, then over
trajectories.
"""

from __future__ import annotations

import pytest

from orkit.core import InventoryProblem
from orkit.data import generate
from orkit.evaluation import evaluate
from orkit.heuristics import BaseStockPolicy


def deepstock_loss_by_hand(demand_rows, level, L, P, h, b, max_order):
    losses = []
    for demand in demand_rows:
        state = [0.0] * (L + 1)  # I^0 on-hand, I^l arriving in l days
        cost, days = 0.0, 0
        for t, d in enumerate(demand):
            if t >= P and t % P == 0:  # review day, from day P on
                q = min(max(level - sum(state), 0.0), max_order)
                state[L] += q  # placed into pipeline slot L
            state[0] -= d  # demand arrives (backorders)
            end_inventory = state[0]
            if t >= L + P:  # costs counted from day L + P on
                cost += h * max(end_inventory, 0.0) + b * max(-end_inventory, 0.0)
                days += 1
            state = [state[0] + state[1]] + state[2:] + [0.0] if L > 0 else state  # shift
        losses.append(cost / days)
    return sum(losses) / len(losses)


@pytest.mark.parametrize("level", [25.0, 36.0, 41.5])
def test_setting_1_loss_equals_the_papers_timing(level):
    data = generate("deepstock-1", seed=0)
    _, _, test = data.splits()
    spec = data.metadata["problem"]
    problem = InventoryProblem(**spec)
    assert (problem.lead_time, problem.review_period) == (1, 2) and test.n_periods == 31
    expected = deepstock_loss_by_hand(
        test.demand.astype(float).tolist(), level, 1, 2, 0.1, 0.9, spec["max_order"]
    )
    for ledger in ("full", "lean"):
        got = evaluate(BaseStockPolicy(level), test, problem, ledger=ledger)["weighted_loss"]
        assert got == pytest.approx(expected, rel=1e-6)
