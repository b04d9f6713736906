"""Contextual newsvendors: learn the conditional critical-ratio quantile from features."""

from __future__ import annotations

import numpy as np
import pytest

from orkit.core import InventoryProblem, ValidationError
from orkit.data import Dataset, generate
from orkit.evaluation import evaluate
from orkit.heuristics import (
    BaseStockPolicy,
    Empirical,
    GradientBoostingNewsvendorPolicy,
    QuantileRegressionNewsvendorPolicy,
    WeightedSAANewsvendorPolicy,
)

Z_90 = 1.2815515655446004
PROBLEM = InventoryProblem(lead_time=0, review_period=1)  # each order covers one period


def scaled_dataset(n_skus: int, n_periods: int, seed: int) -> Dataset:
    """Demand N(10 s, (2 s)^2) for a per-SKU scale s in [1, 5], seen as feature ``scale``."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(1.0, 5.0, size=n_skus)
    demand = np.maximum(10.0 * scale[:, None] + 2.0 * scale[:, None] * rng.standard_normal((n_skus, n_periods)), 0.0)
    features = np.broadcast_to(scale[:, None, None], (n_skus, n_periods, 1))
    return Dataset(demand, features, ["scale"])


@pytest.fixture(scope="module")
def data():
    train, test = scaled_dataset(120, 25, seed=0), scaled_dataset(300, 25, seed=1)
    oracle = BaseStockPolicy((10.0 + 2.0 * Z_90) * test.feature("scale")[:, 0])
    return train, test, evaluate(oracle, test, PROBLEM)["weighted_loss"]


def test_linear_quantile_regression_recovers_the_conditional_quantile(data):
    train, test, oracle = data
    policy = QuantileRegressionNewsvendorPolicy().fit(train, None, PROBLEM)
    assert policy.model_.coef_[0] == pytest.approx(10.0 + 2.0 * Z_90, rel=0.03)
    assert evaluate(policy, test, PROBLEM)["weighted_loss"] <= 1.02 * oracle


@pytest.mark.parametrize(
    "policy",
    [
        GradientBoostingNewsvendorPolicy(n_estimators=100),
        WeightedSAANewsvendorPolicy(weights="knn", n_neighbors=30),
        WeightedSAANewsvendorPolicy(weights="random-forest", n_estimators=50),
    ],
    ids=["gradient-boosting", "knn", "random-forest"],
)
def test_nonparametric_policies_use_the_features(data, policy):
    train, test, oracle = data
    policy.fit(train, None, PROBLEM)
    shared = BaseStockPolicy().fit(train, None, PROBLEM)  # ignores the features
    loss = evaluate(policy, test, PROBLEM)["weighted_loss"]
    assert loss <= 1.10 * oracle < evaluate(shared, test, PROBLEM)["weighted_loss"]


def test_random_forest_weights_match_the_definition(data):
    train, _, _ = data
    policy = WeightedSAANewsvendorPolicy(weights="random-forest", n_estimators=10).fit(train, None, PROBLEM)
    X = np.array([[1.5], [4.0]])
    samples, w = policy.weights_for(X)
    train_rows = np.repeat(train.feature("scale")[:, 1:25].reshape(-1, 1), 1, axis=0)  # review days 1..24
    leaves_q = policy.model_.apply(X)
    order = np.argsort(np.repeat(train.demand[:, 1:25], 1).reshape(-1), kind="stable")
    leaves_t = policy.model_.apply(train_rows)[order]
    expected = np.zeros_like(w)
    for t in range(leaves_q.shape[1]):
        same = leaves_t[None, :, t] == leaves_q[:, t, None]
        expected += same / same.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(w, expected / leaves_q.shape[1], atol=1e-12)
    np.testing.assert_allclose(policy._predict(X), Empirical(samples, w).ppf(0.9))


def test_setting_1_period_feature_helps():
    ds = generate("deepstock-1", seed=0)
    train, validation, test = ds.splits()
    problem = InventoryProblem(**ds.metadata["problem"])
    gbm = GradientBoostingNewsvendorPolicy(features="period_index", min_samples_leaf=5).fit(train, validation, problem)
    shared = BaseStockPolicy().fit(train, validation, problem)
    assert evaluate(gbm, test, problem)["weighted_loss"] < evaluate(shared, test, problem)["weighted_loss"]


def test_histogram_gradient_boosting_variant(data):
    from threadpoolctl import threadpool_limits

    train, test, oracle = data
    with threadpool_limits(limits=1):  # OpenMP threads spin badly on a busy 2-core CI machine
        policy = GradientBoostingNewsvendorPolicy(n_estimators=50, histogram=True).fit(train, None, PROBLEM)
        assert type(policy.model_).__name__ == "HistGradientBoostingRegressor"
        assert evaluate(policy, test, PROBLEM)["weighted_loss"] <= 1.15 * oracle


def test_demand_lags_and_errors():
    ds = generate("deepstock-2", seed=0)
    train, _, test = ds.splits()
    problem = InventoryProblem(**ds.metadata["problem"])
    policy = QuantileRegressionNewsvendorPolicy(features=[], demand_lags=2).fit(train, None, problem)
    assert policy.feature_names_ == ("demand_lag1", "demand_lag2")
    assert np.isfinite(evaluate(policy, test, problem)["weighted_loss"])
    with pytest.raises(ValidationError, match="features must be among"):
        QuantileRegressionNewsvendorPolicy(features=["nope"]).fit(train, None, problem)
    with pytest.raises(ValidationError, match="weights must be one of"):
        WeightedSAANewsvendorPolicy(weights="kernel").fit(train, None, problem)
