"""Two-stage with real calendars (issue 18 item 5): weekdays from dates, a forecast column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from orkit.core import DataError, InventoryProblem, ValidationError
from orkit.data import Dataset
from orkit.data.calendar import calendar_part, to_day
from orkit.evaluation import evaluate
from orkit.twostage import DemandForecaster, TwoStagePolicy

START = "2024-01-01"  # a Monday


def weekly_sales(n_skus=12, n_periods=84, seed=0, start=START):
    """Daily demand with a strong weekday pattern tied to the real date (Saturday peak)."""
    rng = np.random.default_rng(seed)
    days = to_day(start) + np.arange(n_periods)
    weekday = calendar_part(days, "weekday")
    level = rng.uniform(5.0, 20.0, size=n_skus)
    mean = level[:, None] * (1.0 + 0.8 * np.cos(2.0 * np.pi * (weekday - 5) / 7.0))[None, :]
    demand = rng.poisson(mean).astype(float)
    return Dataset(demand, mean[:, :, None], ["expected"], start_date=start, freq="D",
                   feature_roles={"expected": "forecast"}).with_calendar_features(["weekday"])


def shifted(data: Dataset, start: int, stop: int | None = None) -> Dataset:
    """Periods [start, stop) as a dataset of their own, keeping their dates."""
    stop = data.n_periods if stop is None else stop
    return Dataset(data.demand[:, start:stop], data.features[:, start:stop], data.feature_names,
                   start_date=data.start_date + pd.Timedelta(days=start), freq=data.freq,
                   feature_roles=data.feature_roles)


def small_forecaster(**kwargs):
    return DemandForecaster(HistGradientBoostingRegressor(max_iter=40, random_state=0), n_lags=3, n_threads=1,
                            use_features=False, **kwargs)


def weekday_column(forecaster, data):
    """The design's weekday of every (SKU, origin, step) row, and the date it forecasts."""
    design, _, _, _ = forecaster._rows(data, "data")
    origins = forecaster._origins(data.n_periods)
    # per step: k, then value, sin, cos of each calendar feature (or of each seasonal period)
    weekday = design[:, :, -3].reshape(data.n_skus, origins.size, forecaster.horizon_)
    target_day = to_day(data.start_date) + origins[:, None] + np.arange(forecaster.horizon_)[None, :]
    return weekday, target_day


def test_shifting_the_training_window_keeps_every_date_on_its_weekday():
    data = weekly_sales()
    for start in (0, 3):
        window = shifted(data, start, start + 56)
        forecaster = small_forecaster().fit(window, horizon=3)
        assert forecaster.calendar_ == (("weekday", "weekday"),) and forecaster.freq_ == "D"
        weekday, target_day = weekday_column(forecaster, window)
        assert np.array_equal(weekday[0], calendar_part(target_day, "weekday"))  # the date's own weekday
    # the period index modulo 7 (data without dates) moves with the window's first day
    plain = small_forecaster(calendar="periods").fit(shifted(data, 3, 59), horizon=3)
    weekday, target_day = weekday_column(plain, shifted(data, 3, 59))
    assert not np.array_equal(weekday[0], calendar_part(target_day, "weekday"))


def test_a_shifted_training_window_forecasts_as_well_with_calendar_features():
    """Trained on a window starting on Monday or three days later, tested on a window starting on
    another weekday: with weekdays from the dates the test error barely moves; with the period
    index modulo 7 the shifted model forecasts Saturday's peak on the wrong day. (Errors from
    origins with a week of history or more: the first origins of a window, with one or two
    days of history, depend on which weekdays start the training window either way.)"""
    data = weekly_sales(n_skus=20)
    test = shifted(data, 61)
    errors = {}
    for mode in ("auto", "periods"):
        for start in (0, 3):
            forecaster = small_forecaster(calendar=mode).fit(shifted(data, start, start + 56), horizon=3)
            forecasts, actuals, origins = forecaster.predict_origins(test)
            errors[mode, start] = float(np.abs(forecasts - actuals)[:, origins >= 7].mean())
    assert abs(errors["auto", 3] - errors["auto", 0]) < 0.05 * errors["auto", 0]
    assert errors["periods", 3] > 1.2 * errors["auto", 3]


def test_dated_data_without_calendar_features_is_refused_with_the_fix():
    data = weekly_sales().select_features(["expected"])
    with pytest.raises(DataError, match=r"has dates \(daily periods\) but no calendar feature.*with_calendar_features"):
        small_forecaster().fit(data, horizon=3)
    assert small_forecaster(calendar="periods").fit(data, horizon=3).calendar_ == ()
    with pytest.raises(DataError, match="calendar='features' needs features of role 'calendar'"):
        small_forecaster(calendar="features").fit(data, horizon=3)
    with pytest.raises(ValidationError, match="calendar must be one of"):
        small_forecaster(calendar="dates").fit(data, horizon=3)
    # data without dates keeps the period-based cycles
    bare = Dataset(data.demand)
    assert small_forecaster().fit(bare, horizon=3).calendar_ == ()


def test_the_forecast_column_replaces_the_regressor():
    data = weekly_sales()
    train, validation = data.subset(range(6)), data.subset(range(6, 12))
    forecaster = small_forecaster(forecast="expected").fit(train, horizon=3, validation=validation)
    assert forecaster.regressor_ is None and forecaster.input_names_ == ("weekday", "expected")
    forecasts, _, origins = forecaster.predict_origins(validation)
    expected = validation.feature("expected")[:, origins]
    np.testing.assert_allclose(forecasts, np.repeat(expected[:, :, None], 3, axis=2))
    assert forecaster.residuals_.shape == (6 * origins.size, 3)


def test_two_stage_with_a_forecast_column_orders_and_saves(tmp_path):
    data = weekly_sales(n_skus=15)
    train, validation, test = data.subset(range(5)), data.subset(range(5, 10)), data.subset(range(10, 15))
    problem = InventoryProblem(lead_time=1, review_period=1)
    policy = TwoStagePolicy(forecast="expected", n_scenarios=10, n_threads=1).fit(train, validation, problem)
    loss = evaluate(policy, test, problem)["weighted_loss"]
    assert np.isfinite(loss)
    policy.save(tmp_path / "p")
    loaded = TwoStagePolicy.load(tmp_path / "p")
    assert loaded.forecaster_.forecast_column_ == "expected" and loaded.forecaster_.regressor_ is None
    assert evaluate(loaded, test, problem)["weighted_loss"] == pytest.approx(loss, rel=1e-9)
    # a test set without the column: the error names it
    with pytest.raises(DataError, match=r"lacks feature\(s\) \['expected'\]"):
        evaluate(policy, test.select_features(["weekday"]), problem)


def test_a_missing_forecast_column_is_named_at_fit():
    data = weekly_sales()
    with pytest.raises(DataError, match="forecast column 'my_forecast' is not a feature of the training data; it has "
                                        r"\['expected', 'weekday'\]"):
        TwoStagePolicy(forecast="my_forecast", n_threads=1).fit(data, data, InventoryProblem(lead_time=1))
