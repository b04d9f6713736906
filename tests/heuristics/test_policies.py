"""Every heuristic behind the common Policy interface, through the registry."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from orkit.core import FittablePolicy, InventoryProblem, NotFittedError, Observation, Policy
from orkit.data import generate
from orkit.evaluation import evaluate
from orkit.experiments.registry import POLICIES, make_policy

HEURISTICS = [
    "base-stock",
    "constant-order",
    "newsvendor",
    "feature-linear-base-stock",
    "capped-base-stock",
    "myopic",
    "quantile-regression-newsvendor",
    "gradient-boosting-newsvendor",
    "weighted-saa-newsvendor",
    "dp-optimal",
    "empirical-dp",
]


@pytest.fixture(scope="module")
def poisson_p1():
    ds = generate("iid-poisson", n_skus=40, n_periods=30, rate=4.0, seed=0, split_sizes=(20, 10, 10))
    return (*ds.splits(), InventoryProblem(lead_time=1, review_period=1, lost_sales=True))


@pytest.mark.parametrize("name", HEURISTICS)
def test_registered_heuristic_follows_the_interface(name, setting_1, poisson_p1):
    assert name in POLICIES
    train, validation, test, problem = poisson_p1 if name == "dp-optimal" else setting_1
    policy = make_policy(name)
    assert isinstance(policy, Policy) and isinstance(policy, FittablePolicy)
    # the constructor stores its arguments only: every parameter is an attribute of the same name
    for param in inspect.signature(type(policy).__init__).parameters.values():
        if param.name != "self":
            assert getattr(policy, param.name) is param.default or getattr(policy, param.name) == param.default
    ip = torch.zeros(test.n_skus)
    obs = Observation(period=2, on_hand=ip, inventory_position=ip)
    with pytest.raises(NotFittedError):
        policy.act(obs)
    assert policy.fit(train, validation, problem) is policy
    learned = [k for k in vars(policy) if k.endswith("_") and not k.startswith("_")]
    assert learned, f"{name} learned nothing ending in '_'"
    metrics = evaluate(policy, test, problem)
    assert np.isfinite(metrics["weighted_loss"]) and metrics["weighted_loss"] > 0
    assert repr(policy).startswith(type(policy).__name__)
