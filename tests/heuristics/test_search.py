"""Parameters fitted by simulation (orkit.heuristics._search): the zooming grid finds the best value."""

from __future__ import annotations

import numpy as np
import pytest

from orkit.core import InventoryProblem
from orkit.evaluation import evaluate
from orkit.heuristics import BaseStockPolicy, ConstantOrderPolicy, optimize_base_stock_level, optimize_constant_order


@pytest.mark.parametrize("optimize, policy, seed, lead_time, candidates, below", [
    (optimize_base_stock_level, BaseStockPolicy, 1, 2, range(10, 30), None),
    # under lost sales the best constant order stays below the mean demand
    (optimize_constant_order, ConstantOrderPolicy, 0, 3, range(0, 12), 5.0),
])
def test_the_fitted_value_is_the_best_integer_value_under_lost_sales(optimize, policy, seed, lead_time, candidates,
                                                                     below):
    demand = np.random.default_rng(seed).poisson(5.0, size=(300, 100)).astype(float)
    problem = InventoryProblem(lead_time=lead_time, review_period=1, holding_cost=1.0, shortage_cost=9.0,
                               lost_sales=True)
    best = optimize(demand, problem, integer=True)[0]  # constant orders search real rates by default
    losses = {k: evaluate(policy(float(k)), demand, problem)["weighted_loss"] for k in candidates}
    assert losses[best] == pytest.approx(min(losses.values()), rel=1e-6)
    assert below is None or best < below
