"""Dates in a long table: daily and weekly calendars, declared or inferred, and the errors that
say why a date column cannot be read."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from orkit.core.errors import DataError, ValidationError
from orkit.data import Dataset
from orkit.data.calendar import infer_freq, period_dates, to_day


def dated_frame(dates, skus=("A", "B")) -> pd.DataFrame:
    """Every SKU on every date; demand 1, 2, 3, ... in date order."""
    rows = [{"item": sku, "day": day, "units": float(t + 1)} for sku in skus for t, day in enumerate(dates)]
    return pd.DataFrame(rows)


def read(frame: pd.DataFrame, **options) -> Dataset:
    return Dataset.from_frame(frame, sku="item", date="day", demand="units", **options)


DAILY = ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]
MONDAYS = ["2024-01-01", "2024-01-08", "2024-01-15"]


# ---------------------------------------------------------------------------------- daily and weekly
def test_daily_dates_are_inferred_and_kept():
    ds = read(dated_frame(DAILY).sample(frac=1, random_state=0))
    assert ds.freq == "D" and ds.start_date == pd.Timestamp("2024-01-30")
    assert [str(d.date()) for d in ds.dates] == DAILY
    assert ds.period_start == 0 and ds.demand.tolist() == [[1, 2, 3, 4]] * 2


def test_weekly_dates_are_inferred():
    ds = read(dated_frame(MONDAYS))
    assert ds.freq == "W" and ds.n_periods == 3
    assert [str(d.date()) for d in ds.dates] == MONDAYS


@pytest.mark.parametrize("freq, n_periods", [("W", 3), ("D", 15)])
def test_declared_freq(freq, n_periods):
    if freq == "D":  # Mondays read as days: the days between are missing (zero-filled here)
        ds = read(dated_frame(MONDAYS), freq="D", fill_missing="zero")
        assert ds.demand[0].tolist() == [1] + [0] * 6 + [2] + [0] * 6 + [3]
    else:
        ds = read(dated_frame(MONDAYS), freq="W")
    assert ds.freq == freq and ds.n_periods == n_periods


def test_dates_as_datetime_date_objects_timestamps_and_time_zones():
    as_dates = dated_frame([datetime.date(2024, 1, 30), datetime.date(2024, 1, 31)])
    as_stamps = dated_frame(pd.to_datetime(["2024-01-30", "2024-01-31"]))
    zoned = dated_frame(pd.to_datetime(["2024-01-30 00:00", "2024-01-31 00:00"]).tz_localize("Europe/Berlin"))
    for frame in (as_dates, as_stamps, zoned):
        ds = read(frame)
        assert ds.start_date == pd.Timestamp("2024-01-30") and ds.n_periods == 2


# ---------------------------------------------------------------------------------- errors
def test_weekly_dates_on_different_weekdays_are_an_error_naming_the_row():
    frame = dated_frame(MONDAYS)
    frame.loc[4, "day"] = "2024-01-10"  # sku B, a Wednesday
    with pytest.raises(DataError, match=r"date column 'day' must fall on a weekly grid \(freq='W': every date a "
                                        r"Monday, like 2024-01-01\), got 2024-01-10, a Wednesday, at row 4 \(sku 'B'\)"):
        read(frame, freq="W")
    with pytest.raises(DataError, match=r"freq cannot be inferred .* dates are Mondays but 2024-01-10 is a Wednesday; "
                                        r"pass freq='W'"):
        read(frame)


@pytest.mark.parametrize("dates, message", [
    (["2024-01-01"], r"freq cannot be inferred from one date \(2024-01-01 in date column 'day'\); pass freq='D'"),
    (["2024-01-01", "2024-01-04", "2024-01-07"], r"dates are 3 days apart or a multiple of that .* neither daily nor "
                                                 r"weekly; pass freq='D' or freq='W'"),
])
def test_freq_that_cannot_be_inferred(dates, message):
    with pytest.raises(DataError, match=message):
        read(dated_frame(dates))


@pytest.mark.parametrize("value, message", [
    ("2024-13-45", r"date column 'day' must hold ISO dates such as 2024-01-31, got '2024-13-45' at row 2 \(sku 'A'\)"),
    ("31/01/2024", r"must hold ISO dates .*got '31/01/2024' at row 2"),
    ("yesterday", r"must hold ISO dates .*got 'yesterday' at row 2"),
    ("2024-02-01 13:30", r"date column 'day' must hold whole days \(no time of day\), got '2024-02-01 13:30' at row 2"),
    (None, r"date column 'day' must not have missing values, got an empty value at row 2 \(sku 'A'\)"),
])
def test_a_date_that_does_not_parse_names_value_row_and_sku(value, message):
    frame = dated_frame(DAILY)
    frame.loc[2, "day"] = value
    with pytest.raises(DataError, match=message):
        read(frame)


def test_numbers_in_a_date_column_and_dates_in_a_period_column():
    numbers = dated_frame(DAILY).assign(day=lambda f: np.arange(len(f)))
    with pytest.raises(DataError, match=r"date column 'day' must hold dates such as 2024-01-31, got numbers .*"
                                        r"integer periods are read with period='day'"):
        read(numbers)
    with pytest.raises(DataError, match=r"period column 'day' must hold integers, got dtype .*; for dates pass date='day'"):
        Dataset.from_frame(dated_frame(DAILY), sku="item", period="day", demand="units")


def test_period_and_date_together_and_freq_for_periods_are_refused():
    frame = dated_frame(DAILY).assign(period=lambda f: np.tile(np.arange(4), 2))
    with pytest.raises(ValidationError, match=r"give the time column as period=... .* or date=... .*, not both"):
        Dataset.from_frame(frame, sku="item", period="period", date="day", demand="units")
    with pytest.raises(ValidationError, match=r"freq applies to a date column, not to integer periods, got freq='D'"):
        Dataset.from_frame(frame.drop(columns="day"), sku="item", demand="units", freq="D")
    with pytest.raises(ValidationError, match=r"freq must be one of 'D', 'W' or None .*got 'M'"):
        read(dated_frame(DAILY), freq="M")


def test_errors_about_values_name_the_date():
    frame = dated_frame(DAILY)
    frame.loc[2, "units"] = -1.0
    with pytest.raises(DataError, match=r"demand must be >= 0, got -1.0 at sku 'A' date 2024-02-01 \(period 2\)"):
        read(frame)
    duplicated = pd.concat([dated_frame(DAILY), dated_frame(DAILY).iloc[[5]]], ignore_index=True)
    with pytest.raises(DataError, match=r"duplicate \(sku, date\) rows: sku 'B' date 2024-01-31 appears 2 times "
                                        r"\(rows 5, 8\); each SKU needs one row per date"):
        read(duplicated)


# ---------------------------------------------------------------------------------- the calendar travels
def test_subset_splits_and_derived_datasets_keep_the_calendar():
    ds = read(dated_frame(MONDAYS, skus=("A", "B", "C"))).with_split(["train", "validation", "test"])
    for part in (*ds.splits(), ds.subset([2, 0]), ds.random_split((1, 1, 1), seed=0),
                 ds.with_features("x", np.ones((3, 3))), ds.select_features([])):
        assert part.freq == "W" and part.start_date == pd.Timestamp("2024-01-01")
    assert "start_date='2024-01-01', freq='W'" in repr(ds)


def test_dataset_constructor_takes_a_calendar():
    ds = Dataset(np.ones((1, 3)), start_date="2024-03-31", freq="D")
    assert list(ds.dates.strftime("%Y-%m-%d")) == ["2024-03-31", "2024-04-01", "2024-04-02"]
    assert Dataset(np.ones((1, 3))).dates is None
    with pytest.raises(ValidationError, match=r"start_date and freq go together"):
        Dataset(np.ones((1, 3)), start_date="2024-03-31")
    with pytest.raises(ValidationError, match=r"start_date must be a date such as '2024-01-31', got 'soon'"):
        Dataset(np.ones((1, 3)), start_date="soon", freq="D")


# ---------------------------------------------------------------------------------- the module's functions
def test_infer_freq_and_period_dates():
    days = np.array([to_day("2024-01-01"), to_day("2024-01-02"), to_day("2024-01-05")])
    assert infer_freq(days, "d") == "D"
    assert infer_freq(days[[0]] + np.array([0, 14, 21]), "d") == "W"
    assert list(period_dates(to_day("2024-02-26"), "W", 2).strftime("%Y-%m-%d")) == ["2024-02-26", "2024-03-04"]
