"""The demand forecaster: feature construction, alignment with the simulator, accuracy, uncertainty."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge

from orkit.core import InventoryProblem, NotFittedError
from orkit.core.errors import DataError, ValidationError
from orkit.data import generate
from orkit.sim import simulate
from orkit.twostage import DemandForecaster, forecast_accuracy, history_features


@pytest.fixture(scope="module")
def contextual_splits():
    return generate("contextual", n_skus=150, n_periods=70, seed=3).splits()


@pytest.fixture(scope="module")
def normal_splits():
    return generate("iid-normal", n_skus=150, n_periods=60, mean=20.0, std=5.0, seed=4,
                    split_sizes=(50, 50, 50)).splits()


def test_history_features_match_a_plain_loop():
    rng = np.random.default_rng(0)
    width, n_lags = 10, 4
    history_length = rng.integers(0, width + 1, size=30)
    recent = rng.poisson(6.0, size=(30, width)).astype(float)
    recent[np.arange(width)[None, :] < (width - history_length)[:, None]] = 0.0  # zero padding
    level, variance, lags, stats = history_features(recent, history_length, n_lags=n_lags, level_floor=0.5)
    for r in range(30):
        seen = recent[r, width - history_length[r] :]
        mean = seen.mean() if seen.size else 0.0
        assert level[r] == pytest.approx(max(mean, 0.5))
        assert variance[r] == pytest.approx(seen.var(ddof=1) if seen.size >= 2 else 0.0)
        expected_lags = np.zeros(n_lags)
        expected_lags[: min(n_lags, width)] = recent[r, ::-1][:n_lags]
        np.testing.assert_allclose(lags[r], expected_lags / level[r])
        last_7 = recent[r, -7:][7 - min(history_length[r], 7) :]
        assert stats[r, 2] == pytest.approx((last_7.mean() if last_7.size else 0.0) / level[r])
        assert stats[r, 1] == history_length[r]


def test_backtest_forecasts_equal_what_the_policy_computes_from_observations(contextual_splits):
    """Training rows are built from exactly what the simulator shows a policy on a review day."""
    train, validation, test = contextual_splits
    forecaster = DemandForecaster(n_lags=5).fit(train, horizon=3)
    forecasts, actuals, origins = forecaster.predict_origins(test)
    seen: dict[int, np.ndarray] = {}

    class Recorder:
        def act(self, obs):
            seen[obs.period] = forecaster.predict(obs.recent_demand.numpy(), obs.period, obs.features.numpy(),
                                                  obs.feature_names)
            return torch.zeros(obs.n_skus)

    simulate(Recorder(), test, InventoryProblem(lead_time=1, review_period=2))
    assert len(seen) > 20
    for period, from_observation in seen.items():
        if period <= origins[-1]:
            np.testing.assert_allclose(from_observation, forecasts[:, period - 1], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(actuals[:, 0, :], np.asarray(test.demand)[:, 1:4])


def test_exogenous_features_carry_signal_on_the_contextual_generator(contextual_splits):
    train, _, test = contextual_splits
    with_features = forecast_accuracy(DemandForecaster().fit(train, horizon=3), test)
    without = forecast_accuracy(DemandForecaster(use_features=False).fit(train, horizon=3), test)
    assert with_features.loc["all", "mae"] < 0.9 * without.loc["all", "mae"]
    assert abs(with_features.loc["all", "bias"]) < 0.05 * with_features.loc["all", "mean_demand"]
    assert list(with_features.columns) == ["mae", "bias", "rmse", "mean_demand", "relative_mae"]
    assert list(with_features.index) == ["step 0", "step 1", "step 2", "all"]


def test_any_scikit_learn_regressor_can_be_wrapped(normal_splits):
    train, validation, test = normal_splits
    ridge = DemandForecaster(Ridge(alpha=1.0)).fit(train, horizon=2, validation=validation)
    assert forecast_accuracy(ridge, test).loc["all", "relative_mae"] < 0.3
    # a regressor that always predicts twice the level over-forecasts: the bias is positive
    double = DemandForecaster(DummyRegressor(strategy="constant", constant=2.0)).fit(train, horizon=2)
    accuracy = forecast_accuracy(double, test)
    assert accuracy.loc["all", "bias"] == pytest.approx(accuracy.loc["all", "mean_demand"], rel=0.1)
    assert ridge.regressor is not ridge.regressor_  # cloned, the argument is left untouched


def test_residual_quantiles_are_calibrated_on_test_data(normal_splits):
    train, validation, test = normal_splits
    forecaster = DemandForecaster().fit(train, horizon=2, validation=validation)
    _, actuals, origins = forecaster.predict_origins(test)
    demand = np.asarray(test.demand, dtype=float)
    covered = []
    for j, t in enumerate(origins[27::5]):  # origins with a full window of history
        recent = demand[:, t - 28 : t]
        quantiles = forecaster.predict_quantiles([0.1, 0.9], recent, t, test.features[:, t], test.feature_names)
        covered.append((actuals[:, 27 + 5 * j] <= quantiles[1]).mean())
        assert np.all(quantiles[0] <= quantiles[1])
    assert 0.84 <= np.mean(covered) <= 0.96


def test_scenarios_follow_the_residual_distribution_and_repeat_with_the_seed(normal_splits):
    train, validation, _ = normal_splits
    forecaster = DemandForecaster().fit(train, horizon=3, validation=validation)
    point = np.full((4, 3), 20.0)
    spread = np.array([1.0, 2.0, 5.0, 0.5])
    first = forecaster.sample_scenarios(point, spread, 200, np.random.default_rng(7))
    again = forecaster.sample_scenarios(point, spread, 200, np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    assert first.shape == (4, 200, 3) and first.min() >= 0
    # stratified on the total: scenario totals reproduce the residual totals' quantiles closely
    totals = np.sort(forecaster.residuals_.sum(axis=1))
    for i in range(4):
        scenario_totals = (first[i].sum(axis=1) - point[i].sum()) / spread[i]
        for q in (0.1, 0.5, 0.9):
            assert np.quantile(scenario_totals, q) == pytest.approx(np.quantile(totals, q), abs=0.1 * totals.std())


def test_same_seed_same_forecasts(contextual_splits):
    train, validation, test = contextual_splits
    one = DemandForecaster(random_state=3).fit(train, horizon=2, validation=validation)
    two = DemandForecaster(random_state=3).fit(train, horizon=2, validation=validation)
    np.testing.assert_array_equal(one.predict_origins(test)[0], two.predict_origins(test)[0])
    np.testing.assert_array_equal(one.residuals_, two.residuals_)


def test_errors_name_the_problem(contextual_splits):
    train, _, test = contextual_splits
    with pytest.raises(NotFittedError, match="DemandForecaster is not fitted yet"):
        DemandForecaster().predict(np.zeros((2, 28)), 5)
    with pytest.raises(ValidationError, match="regressor must be a scikit-learn regressor"):
        DemandForecaster(regressor="gbm").fit(train, horizon=2)
    with pytest.raises(ValidationError, match="horizon must be >= 1, got 0"):
        DemandForecaster().fit(train, horizon=0)
    with pytest.raises(ValidationError, match="seasonal_periods must be >= 2, got 1"):
        DemandForecaster(seasonal_periods=(1,)).fit(train, horizon=2)
    with pytest.raises(DataError, match="more than horizon = 3 periods"):
        DemandForecaster().fit(np.ones((3, 3)), horizon=3)
    fitted = DemandForecaster().fit(train, horizon=2)
    with pytest.raises(DataError, match="lacks feature"):
        fitted.predict(np.ones((2, 28)), 30, np.ones((2, 1)), ("price",))
    with pytest.raises(NotFittedError, match="residuals_"):
        fitted.predict_quantiles([0.5], np.ones((2, 28)), 30, np.ones((2, 10)), test.feature_names)


def test_a_sku_launched_late_is_forecast_from_its_age_not_the_calendar_period(contextual_splits):
    """At period 20 a SKU launched at period 15 has 5 periods of history (its window's earlier
    entries are zeros, not sales): its forecast is that of period 5 of a SKU of its own (no
    calendar features here, so only the history length differs), not that of 20 periods."""
    train, _, test = contextual_splits
    forecaster = DemandForecaster(n_lags=5, seasonal_periods=(), use_features=False).fit(train, horizon=3)
    recent = np.zeros((test.n_skus, 28))
    recent[:, -5:] = test.demand[:, 15:20]
    young = forecaster.predict_with_spread(recent, 20, first_period=np.full(test.n_skus, 15))
    own = forecaster.predict_with_spread(recent, 5)
    np.testing.assert_array_equal(young[0], own[0])
    np.testing.assert_array_equal(young[1], own[1])
    assert not np.allclose(young[1], forecaster.predict_with_spread(recent, 20)[1])  # 20 periods: a tighter spread
