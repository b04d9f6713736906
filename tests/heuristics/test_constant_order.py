"""Constant-order policy: fixed and fitted by simulation (the search itself: test_search.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, NotFittedError, Observation
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
