"""Contextual newsvendors read the feature schema: categorical and calendar features one-hot."""

from __future__ import annotations

import numpy as np
import pytest

from orkit.core import InventoryProblem
from orkit.data import Dataset
from orkit.evaluation import evaluate
from orkit.heuristics import QuantileRegressionNewsvendorPolicy, WeightedSAANewsvendorPolicy

PROBLEM = InventoryProblem(lead_time=0, review_period=1)
LEVELS = np.array([5.0, 20.0, 8.0])  # the demand level of stores 0, 1, 2: not monotone in the code


def stores(n_skus: int, seed: int, roles=None) -> Dataset:
    rng = np.random.default_rng(seed)
    store = rng.integers(0, 3, size=n_skus)
    demand = rng.poisson(LEVELS[store][:, None], size=(n_skus, 30)).astype(float)
    return Dataset(demand, np.broadcast_to(store[:, None, None], (n_skus, 30, 1)).astype(float), ["store"],
                   feature_roles=roles)


def test_a_categorical_store_code_is_one_hot_and_fits_each_store():
    roles = {"store": "categorical"}
    train, test = stores(30, 0, roles), stores(60, 1, roles)
    policy = QuantileRegressionNewsvendorPolicy().fit(train, train, PROBLEM)
    assert policy.feature_names_ == ("store=0", "store=1", "store=2") and policy.categories_ == {"store": [0.0, 1.0, 2.0]}
    as_numbers = QuantileRegressionNewsvendorPolicy().fit(stores(30, 0), stores(30, 0), PROBLEM)
    assert as_numbers.feature_names_ == ("store",)
    one_hot_loss = evaluate(policy, test, PROBLEM)["weighted_loss"]
    numeric_loss = evaluate(as_numbers, stores(60, 1), PROBLEM)["weighted_loss"]
    assert one_hot_loss < 0.8 * numeric_loss  # a line through the codes cannot give 5, 20, 8


@pytest.mark.parametrize("make", [lambda: QuantileRegressionNewsvendorPolicy(demand_lags=2),
                                  lambda: WeightedSAANewsvendorPolicy(n_neighbors=5)])
def test_one_hot_inputs_save_and_load(make, tmp_path):
    roles = {"store": "categorical:0,1,2,3"}  # declared: a store without sales history keeps its column
    train, test = stores(20, 0, roles), stores(10, 1, roles)
    policy = make().fit(train, train, PROBLEM)
    assert policy.categories_ == {"store": [0.0, 1.0, 2.0, 3.0]}
    loaded = type(policy).load(policy.save(tmp_path / "p"))
    assert loaded.categories_ == policy.categories_ and loaded.feature_names_ == policy.feature_names_
    assert evaluate(loaded, test, PROBLEM)["weighted_loss"] == pytest.approx(
        evaluate(policy, test, PROBLEM)["weighted_loss"], rel=1e-12)
