"""Constant-order policy: fixed and fitted by simulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, NotFittedError, Observation
from orkit.evaluation import evaluate
from orkit.heuristics import ConstantOrderPolicy, optimize_constant_order


def test_fitted_quantity_is_the_best_integer_quantity():
    demand = np.random.default_rng(0).poisson(5.0, size=(300, 100)).astype(float)
    problem = InventoryProblem(lead_time=3, review_period=1, holding_cost=1.0, shortage_cost=9.0, lost_sales=True)
    q = optimize_constant_order(demand, problem)[0]
    losses = {k: evaluate(ConstantOrderPolicy(float(k)), demand, problem)["weighted_loss"] for k in range(0, 12)}
    assert losses[q] == pytest.approx(min(losses.values()), rel=1e-6)
    assert q < 5  # under lost sales the best constant order stays below the mean demand


def test_review_period_orders_cover_the_cycle():
    demand = np.full((4, 40), 3.0)
    problem = InventoryProblem(lead_time=0, review_period=2, lost_sales=True)
    policy = ConstantOrderPolicy().fit(demand, None, problem)
    assert policy.quantity_ == 6.0


def test_fixed_fitted_and_unfitted():
    obs = Observation(period=1, on_hand=torch.zeros(3), inventory_position=torch.zeros(3))
    assert ConstantOrderPolicy(2.0).act(obs).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(NotFittedError, match="ConstantOrderPolicy is not fitted"):
        ConstantOrderPolicy().act(obs)
    demand = np.random.default_rng(1).poisson(4.0, size=(3, 50)).astype(float)
    per_sku = ConstantOrderPolicy(per_sku=True).fit(demand, None, InventoryProblem(lost_sales=True))
    assert per_sku.act(obs).shape == (3,)
