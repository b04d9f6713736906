"""Feature roles (orkit.data.schema): declared, inferred, kept through frames and files, checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orkit.core.errors import DataError, ValidationError
from orkit.data import Dataset, generate
from orkit.data.schema import CALENDAR_PARTS, FeatureRole, parse_role, parse_roles


def small(**kwargs):
    demand = np.arange(12.0).reshape(2, 6)
    features = np.stack([demand / 2, np.tile([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], (2, 1)), np.full((2, 6), 9.5)], axis=2)
    return Dataset(demand, features, ["ma", "store", "price"], **kwargs)


def test_undeclared_features_are_numeric_and_declared_ones_keep_their_role():
    ds = small(feature_roles={"ma": "quantity", "store": "categorical:1,2,3"})
    assert {n: str(r) for n, r in ds.feature_roles.items()} == {
        "ma": "quantity", "store": "categorical:1,2,3", "price": "numeric"}
    assert ds.features_with_role("quantity") == ("ma",)
    assert ds.feature_roles["store"].levels == (1.0, 2.0, 3.0)


def test_legacy_metadata_keys_are_read_for_files_written_before_roles():
    ds = small(metadata={"coeff_features": ["ma"], "categorical_features": ["store"]})
    assert ds.feature_roles["ma"].role == "quantity" and ds.feature_roles["store"].role == "categorical"


@pytest.mark.parametrize("text, role", [
    ("numeric", FeatureRole("numeric")),
    ("forecast", FeatureRole("forecast")),
    ("categorical", FeatureRole("categorical")),
    ("categorical: 3, 1", FeatureRole("categorical", (1.0, 3.0))),
    ("calendar:month", FeatureRole("calendar", part="month")),
    ({"role": "categorical", "categories": [2, 1]}, FeatureRole("categorical", (1.0, 2.0))),
])
def test_role_text_and_json_forms(text, role):
    parsed = parse_role(text, "x")
    assert parsed == role
    assert parse_role(parsed.to_json(), "x") == role and parse_role(str(parsed), "x") == role


@pytest.mark.parametrize("roles, message", [
    ({"ma": "price-like"}, r"feature_roles\['ma'\]: feature role must be one of"),
    ({"ma": "calendar"}, "a calendar role names its part"),
    ({"ma": "numeric:2"}, "only the categorical and calendar roles take"),
    ({"ma": "categorical:a,b"}, "categories must be numbers"),
    ({"nope": "numeric"}, "feature_roles names 'nope', which is not a feature"),
    (["ma"], "NAME=ROLE"),
])
def test_bad_roles_are_named(roles, message):
    with pytest.raises(ValidationError, match=message):
        small(feature_roles=roles)


def test_declared_categories_must_hold_every_value():
    with pytest.raises(DataError, match=r"feature 'store' must be one of its categorical values \{1, 2\}, got 3.0 at "
                                        "sku 'sku_0000' period 2"):
        small(feature_roles={"store": "categorical:1,2"})


def test_calendar_features_come_from_the_dates_and_must_agree_with_them():
    ds = Dataset(np.ones((2, 10)), start_date="2016-01-02", freq="D").with_calendar_features(
        ["weekday", "month", "day_of_month"])
    assert ds.feature("weekday")[0].tolist() == [5, 6, 0, 1, 2, 3, 4, 5, 6, 0]  # 2016-01-02 was a Saturday
    assert ds.feature("day_of_month")[0].tolist() == list(range(2, 12))
    assert ds.features_with_role("calendar") == ("weekday", "month", "day_of_month")
    assert ds.feature_roles["month"].levels == tuple(float(v) for v in CALENDAR_PARTS["month"])
    wrong = np.stack([(np.arange(10) % 7)[None].repeat(2, 0)], axis=2)  # period mod 7: not the weekday
    with pytest.raises(DataError, match="feature 'weekday' must agree with the dates"):
        Dataset(np.ones((2, 10)), wrong, ["weekday"], start_date="2016-01-02", freq="D",
                feature_roles={"weekday": "calendar"})
    with pytest.raises(DataError, match="has no dates"):
        Dataset(np.ones((1, 3))).with_calendar_features()


def test_roles_survive_derived_datasets():
    ds = small(feature_roles={"ma": "quantity", "store": "categorical"})
    assert ds.subset([1]).feature_roles == ds.feature_roles
    assert ds.select_features(["store"]).feature_roles == {"store": FeatureRole("categorical")}
    grown = ds.with_features("promo", np.zeros((2, 6)), roles="categorical:0,1")
    assert grown.feature_roles["promo"] == FeatureRole("categorical", (0.0, 1.0))
    assert ds.with_feature_roles(["price=quantity"]).features_with_role("quantity") == ("ma", "price")
    assert not ds.equals(ds.with_feature_roles({"price": "quantity"}))


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_roles_round_trip_through_files_and_frames(tmp_path, suffix):
    ds = generate("deepstock-1", seed=0, n_test=5).with_feature_roles({"demand_mean_past_7": "numeric"})
    back = Dataset.read(ds.write(tmp_path / f"d.{suffix}"))
    assert back.equals(ds) and back.feature_roles == ds.feature_roles
    assert Dataset.from_frame(ds.to_frame()).feature_roles == ds.feature_roles
    # a declared role overrides the recorded one
    again = Dataset.read(tmp_path / f"d.{suffix}", feature_roles={"demand_mean_past_7": "quantity"})
    assert again.feature_roles["demand_mean_past_7"].role == "quantity"


def test_a_foreign_frame_declares_its_roles():
    ds = generate("deepstock-1", seed=0, n_test=5)
    frame = pd.DataFrame(ds.to_frame())  # a plain copy: no orkit header
    frame.attrs.clear()
    plain = Dataset.from_frame(frame)
    assert set(plain.features_with_role("numeric")) == set(ds.feature_names)  # nothing declared: numeric
    declared = Dataset.from_frame(frame, feature_roles={n: str(r) for n, r in ds.feature_roles.items()})
    assert declared.feature_roles == ds.feature_roles
    assert parse_roles(["a=quantity", "b = calendar:weekday"]) == {
        "a": FeatureRole("quantity"), "b": FeatureRole("calendar", part="weekday")}


def test_undeclared_codes_are_read_as_numeric_with_a_warning(caplog):
    ds = generate("deepstock-1", seed=0, n_test=5)
    frame = pd.DataFrame(ds.to_frame())
    frame.attrs.clear()
    with caplog.at_level("WARNING", logger="orkit.data.dataset"):
        Dataset.from_frame(frame)
    assert "period_index (16 distinct whole numbers) have no declared role and are read as numeric" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="orkit.data.dataset"):
        Dataset.from_frame(frame, feature_roles={"period_index": "categorical"})
        Dataset.from_frame(ds.to_frame())  # the roles recorded by orkit
    assert caplog.text == ""
