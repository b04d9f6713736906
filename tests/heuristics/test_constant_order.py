"""Constant-order policy: fixed and fitted by simulation (the search itself: test_search.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, NotFittedError, Observation, ValidationError
from orkit.heuristics import ConstantOrderPolicy


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


def test_lost_sales_search_is_continuous_and_keeps_a_steady_state():
    """Issue 20: the search ran over integers and could pick a rate >= the mean demand (no steady
    state under lost sales). Poisson(5), L = 2, p = 9: the best rate lies strictly inside (4, 5)."""
    demand = np.random.default_rng(5).poisson(5.0, size=(200, 300)).astype(float)
    problem = InventoryProblem(lead_time=2, review_period=1, holding_cost=1.0, shortage_cost=9.0, lost_sales=True,
                               warmup_periods=50)
    quantity = ConstantOrderPolicy().fit(demand, None, problem).quantity_
    assert 4.0 < quantity < demand.mean()
    assert quantity != round(quantity)
    with pytest.raises(ValidationError, match="quantity must be below the mean demand of a review period"):
        ConstantOrderPolicy(5.5).fit(demand, None, problem)
    assert ConstantOrderPolicy(4.5).fit(demand, None, problem).quantity_ == 4.5
    per_sku = ConstantOrderPolicy(per_sku=True).fit(demand[:5], None, problem).quantity_
    assert np.all(per_sku < demand[:5].mean(axis=1))
