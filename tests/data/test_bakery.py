"""The bakery data shipped with orkit (ddop 0.7.6, BSD-3-Clause): what loads, with which dates, and
the weekday finding checked on the demand itself.

Oracles are facts about the calendar and the source (ddop's description: 127,575 rows; the
German public holidays of 2016; Christmas closures), not figures copied from orkit's output.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from orkit.core.errors import ValidationError
from orkit.data import DATASETS, load
from orkit.data.datasets import BAKERY_DEMAND_FEATURES, BAKERY_FEATURES, bakery, dataset_path


@pytest.fixture(scope="module")
def data():
    return load("bakery")


def test_the_file_ships_in_the_package_with_its_licence_notice():
    path = dataset_path("bakery")
    assert path.is_file() and path.stat().st_size < 1_000_000  # small enough to ship
    licence = (path.parent / "LICENSE-ddop").read_text()
    assert "BSD 3-Clause" in licence and "The ddop developers" in licence
    assert "weekday" in (path.parent / "README.md").read_text()


def test_bakery_loads_105_daily_series_of_1215_days_with_real_dates(data):
    # ddop's description: 127,575 instances; 35 stores x products 101, 109, 110
    assert data.n_skus * data.n_periods == 127_575
    assert (data.n_skus, data.n_periods) == (105, 1215)
    assert data.freq == "D" and data.full_lives
    assert data.dates[0] == pd.Timestamp("2016-01-02") and data.dates[-1] == pd.Timestamp("2019-04-30")
    assert set(data.attributes["product"]) == {101, 109, 110} and data.attributes["store"].nunique() == 35
    assert data.sku_ids[0] == "S02-P101"
    assert data.feature_names == BAKERY_FEATURES


def test_about_twelve_percent_of_the_days_have_zero_demand(data):
    assert np.mean(data.demand == 0) == pytest.approx(0.1207, abs=5e-4)


def day(data, text: str) -> int:
    return int(data.dates.get_loc(pd.Timestamp(text)))


def test_the_dates_are_right_holidays_fall_on_their_dates(data):
    """German public holidays of 2016 are flagged on their true dates (Good Friday 25 March,
    Easter Monday 28 March, Day of German Unity 3 October, Christmas 25-26 December)."""
    holiday = data.feature("is_holiday")
    for text in ("2016-03-25", "2016-03-28", "2016-10-03", "2016-12-25", "2016-12-26"):
        assert (holiday[:, day(data, text)] == 1).all(), text
    for text in ("2016-03-24", "2016-03-29", "2016-10-04", "2016-12-27"):
        assert (holiday[:, day(data, text)] == 0).all(), text
    # every store is closed on Christmas Day and Boxing Day
    for year in (2016, 2017, 2018):
        for d in (25, 26):
            assert (data.demand[:, day(data, f"{year}-12-{d:02d}")] == 0).all()


def test_the_weekday_feature_comes_from_the_date_not_from_the_source_column(data):
    weekday = data.feature("weekday")
    assert (weekday == weekday[0]).all()  # one calendar for every SKU
    expected = [datetime.date(2016, 1, 2) + datetime.timedelta(days=t) for t in range(data.n_periods)]
    assert weekday[0].tolist() == [float(d.weekday()) for d in expected]  # 2016-01-02 is a Saturday: 5
    assert str(data.feature_roles["weekday"]) == "calendar:weekday"  # checked against the dates by the dataset


def test_every_feature_declares_its_role(data):
    roles = {name: str(role) for name, role in data.feature_roles.items()}
    assert roles == {**{name: "numeric" for name in BAKERY_FEATURES[:7]}, "weekday": "calendar:weekday",
                     **{name: "quantity" for name in BAKERY_DEMAND_FEATURES}}


def test_the_demand_says_the_date_is_right_and_the_source_weekday_is_a_day_early(data):
    """By the date's weekday, Saturday is the busiest day and Sunday the day stores are closed,
    as in a German bakery; the source's ``weekday`` label names the day before on every row, so by
    that label the peak would fall on Friday and the closures on Saturday."""
    weekday = data.feature("weekday")[0].astype(int)
    mean = np.array([data.demand[:, weekday == w].mean() for w in range(7)])
    zero = np.array([np.mean(data.demand[:, weekday == w] == 0) for w in range(7)])
    assert int(np.argmax(mean)) == 5 and mean[5] > 1.3 * np.sort(mean)[-2]  # Saturday, well ahead
    assert mean[5] > mean[1]  # Saturday > Tuesday
    assert int(np.argmax(zero)) == 6 and zero[6] > 3 * np.sort(zero)[-2]  # Sunday closures
    # shifted by the source's label (the day before), the peak would be Friday's and the closures Saturday's
    assert int(np.argmax(np.roll(mean, -1))) == 4 and int(np.argmax(np.roll(zero, -1))) == 5


def test_demand_features_use_only_earlier_days(data):
    demand = data.demand.astype(np.float64)
    t = day(data, "2017-06-15")
    np.testing.assert_allclose(data.feature("demand_mean_7")[:, t], demand[:, t - 7:t].mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(data.feature("demand_mean_28")[:, t], demand[:, t - 28:t].mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(data.feature("demand_same_weekday_4")[:, t],
                               demand[:, [t - 7, t - 14, t - 21, t - 28]].mean(axis=1), rtol=1e-5)
    assert (data.feature("demand_mean_7")[:, 0] == 0).all()  # no earlier day
    np.testing.assert_allclose(data.feature("demand_mean_7")[:, 2], demand[:, :2].mean(axis=1), rtol=1e-6)


def test_without_demand_features():
    plain = bakery(demand_features=False)
    assert plain.feature_names == BAKERY_FEATURES[:-len(BAKERY_DEMAND_FEATURES)]
    assert not plain.features_with_role("quantity")


def test_unknown_names_and_options_are_refused():
    assert "bakery" in DATASETS
    with pytest.raises(ValidationError, match="name must be one of 'bakery'.*got 'bakry'"):
        load("bakry")
    with pytest.raises(ValidationError, match="bad options for dataset 'bakery'"):
        load("bakery", stores=[2])
    with pytest.raises(ValidationError, match="demand_features must be True or False, got 'yes'"):
        load("bakery", demand_features="yes")


def test_start_and_stop_cut_the_days_after_the_demand_features_are_computed(data):
    cut = load("bakery", start="2018-07-01", stop="2019-01-01")
    assert cut.n_periods == 184 and cut.dates[0] == pd.Timestamp("2018-07-01")
    t = day(data, "2018-07-01")
    np.testing.assert_array_equal(cut.demand, data.demand[:, t:t + 184])
    np.testing.assert_array_equal(cut.feature("demand_mean_28")[:, 0], data.feature("demand_mean_28")[:, t])
    assert cut.feature_roles == data.feature_roles
    with pytest.raises(ValidationError, match="start"):
        load("bakery", start="2015-01-01")
