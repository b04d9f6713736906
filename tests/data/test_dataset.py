"""Tests for orkit.data.Dataset: layout, validation, subsets and splits, tables and files."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orkit.core.errors import DataError, ValidationError
from orkit.data import Dataset


def make_dataset(n_skus: int = 4, n_periods: int = 6, *, split: bool = True) -> Dataset:
    rng = np.random.default_rng(0)
    demand = rng.integers(0, 10, size=(n_skus, n_periods)).astype(float)
    features = rng.normal(size=(n_skus, n_periods, 2))
    ids = [f"S{i}" for i in range(n_skus)]
    attributes = pd.DataFrame(
        {
            "lead_time": np.arange(n_skus) % 3,
            "category": [f"c{i % 2}" for i in range(n_skus)],
            "margin": np.linspace(0.1, 0.4, n_skus),
        },
        index=ids,
    )
    labels = (["train", "validation", "test", "test"] * n_skus)[:n_skus] if split else None
    return Dataset(
        demand,
        features,
        ("price", "promotion"),
        sku_ids=ids,
        attributes=attributes,
        split=labels,
        name="toy",
        metadata={"generator": "hand", "values": [1, 2, 3]},
    )


def long_frame() -> pd.DataFrame:
    """A small long table: SKUs A and B, periods 0..3, one feature, one attribute."""
    return pd.DataFrame(
        {
            "sku": ["A"] * 4 + ["B"] * 4,
            "period": [0, 1, 2, 3] * 2,
            "demand": [1.0, 2.0, 3.0, 4.0, 0.0, 5.0, 0.0, 6.0],
            "price": [9.5] * 8,
            "lead_time": [1] * 4 + [2] * 4,
        }
    )


# ---------------------------------------------------------------------------------- layout
def test_demand_is_a_transpose_view_of_a_time_major_array():
    ds = Dataset(np.arange(12, dtype=np.int64).reshape(3, 4))
    assert ds.demand.shape == (3, 4)
    assert ds.demand_time_major.shape == (4, 3)
    assert ds.demand_time_major.flags["C_CONTIGUOUS"]
    assert ds.demand.T.flags["C_CONTIGUOUS"]
    assert ds.demand.base is ds.demand_time_major
    assert ds.demand.dtype == np.float32
    np.testing.assert_array_equal(ds.demand, np.arange(12).reshape(3, 4))


def test_features_are_c_contiguous_float32_and_default_names():
    ds = Dataset(np.ones((2, 3)), np.ones((2, 3, 2), dtype=np.float64))
    assert ds.features.dtype == np.float32 and ds.features.flags["C_CONTIGUOUS"]
    assert ds.feature_names == ("feature_0", "feature_1")
    assert (ds.n_skus, ds.n_periods, ds.n_features) == (2, 3, 2)
    assert list(ds.sku_ids) == ["sku_0000", "sku_0001"]
    assert Dataset(np.ones((2, 3))).features.shape == (2, 3, 0)


def test_dataset_is_immutable_and_does_not_alias_its_input():
    demand = np.ones((2, 3), dtype=np.float32)
    ds = Dataset(demand)
    demand[0, 0] = 99.0
    assert ds.demand[0, 0] == 1.0
    with pytest.raises(ValueError):
        ds.demand[0, 0] = 5.0
    with pytest.raises(AttributeError, match="immutable"):
        ds.name = "other"
    attributes = ds.attributes
    attributes["x"] = 1  # a copy: the dataset is unchanged
    assert "x" not in ds.attributes.columns


def test_pickle_round_trip_keeps_everything():
    ds = make_dataset()
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.equals(ds)
    assert not clone.demand_time_major.flags.writeable


def test_repr_is_short():
    assert repr(make_dataset()) == "Dataset(name='toy', n_skus=4, n_periods=6, n_features=2, split=1/1/2)"


# ---------------------------------------------------------------------------------- validation
def test_negative_demand_names_sku_and_period():
    demand = np.ones((2, 5))
    demand[1, 4] = -3.0
    with pytest.raises(DataError, match=r"demand must be >= 0, got -3.0 at sku 'A' period 4"):
        Dataset(demand, sku_ids=["B", "A"])


def test_nan_demand_names_sku_and_period_with_period_start():
    demand = np.ones((2, 5))
    demand[0, 2] = np.nan
    with pytest.raises(DataError, match=r"demand must be finite, got nan at sku 'B' period 12"):
        Dataset(demand, sku_ids=["B", "A"], period_start=10)


def test_non_finite_feature_names_the_feature():
    features = np.zeros((2, 3, 2))
    features[1, 2, 1] = np.inf
    with pytest.raises(DataError, match=r"features must be finite, got inf at sku 'sku_0001' period 2 feature 'b'"):
        Dataset(np.ones((2, 3)), features, ["a", "b"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"demand": np.ones(3)}, r"demand must be 2-d"),
        ({"demand": [["a", "b"]]}, r"demand must be numeric"),
        ({"features": np.ones((2, 4, 1))}, r"features must have shape .*\(2, 3, F\).*got \(2, 4, 1\)"),
        ({"features": np.ones((2, 3, 2)), "feature_names": ["x"]}, r"one name per feature column \(2\), got 1"),
        ({"features": np.ones((2, 3, 2)), "feature_names": ["x", "x"]}, r"feature_names must be unique.*'x'"),
        ({"features": np.ones((2, 3, 1)), "feature_names": ["demand"]}, r"reserved column names.*'demand'"),
        ({"sku_ids": ["a", "a"]}, r"sku_ids must be unique, got 1 duplicated id\(s\): 'a'"),
        ({"sku_ids": ["a"]}, r"sku_ids must have one id per SKU \(2\), got 1"),
        ({"split": ["train", "holdout"]}, r"split must be one of 'train', 'validation', 'test', got 'holdout' at sku 'sku_0001'"),
        ({"attributes": {"lead_time": [1, -1]}}, r"attribute lead_time must be >= 0, got -1 at sku 'sku_0001'"),
        ({"attributes": {"lead_time": [1.5, 1]}}, r"attribute lead_time must be an integer, got 1.5 at sku 'sku_0000'"),
        ({"attributes": {"review_period": [0, 1]}}, r"attribute review_period must be >= 1, got 0 at sku 'sku_0000'"),
        ({"attributes": pd.DataFrame({"x": [1]}, index=["sku_0000"])}, r"missing sku 'sku_0001'"),
        ({"attributes": {"x": [1, 2, 3]}}, r"attribute 'x' must have one value per SKU \(2\)"),
    ],
)
def test_constructor_rejects_bad_input(kwargs, message):
    arguments = {"demand": np.ones((2, 3))}
    arguments.update(kwargs)
    with pytest.raises(DataError, match=message):
        Dataset(**arguments)


def test_attribute_may_not_shadow_a_feature():
    with pytest.raises(DataError, match=r"attribute 'price' must not share its name with a feature"):
        Dataset(np.ones((1, 2)), np.ones((1, 2, 1)), ["price"], attributes={"price": [1.0]})


def test_attributes_are_aligned_to_sku_order():
    attributes = pd.DataFrame({"lead_time": [2, 1]}, index=["b", "a"])
    ds = Dataset(np.ones((2, 2)), sku_ids=["a", "b"], attributes=attributes)
    assert ds.attributes["lead_time"].tolist() == [1, 2]
    assert ds.attributes.index.tolist() == ["a", "b"]


# ---------------------------------------------------------------------------------- subsets and splits
def test_subset_keeps_everything_aligned():
    ds = make_dataset()
    for index in ([2, 0], np.array([False, False, True, False]) | np.array([True, False, False, False]), ["S2", "S0"]):
        part = ds.subset(index)
        order = [2, 0] if not isinstance(index, np.ndarray) else [0, 2]
        np.testing.assert_array_equal(part.demand, ds.demand[order])
        np.testing.assert_array_equal(part.features, ds.features[order])
        assert list(part.sku_ids) == [f"S{i}" for i in order]
        assert part.attributes["lead_time"].tolist() == ds.attributes["lead_time"].iloc[order].tolist()
        assert list(part.split) == [ds.split[i] for i in order]
        assert part.demand_time_major.flags["C_CONTIGUOUS"]


def test_subset_rejects_bad_indices():
    ds = make_dataset()
    with pytest.raises(ValidationError, match=r"index must be in \[-4, 4\), got 7"):
        ds.subset([7])
    with pytest.raises(ValidationError, match=r"boolean mask must have one entry per SKU \(4\), got 2"):
        ds.subset([True, False])
    with pytest.raises(ValidationError, match=r"unknown sku id 'nope'"):
        ds.subset(["nope"])


def test_splits_use_the_stored_labels():
    train, validation, test = make_dataset(8).splits()
    assert (train.n_skus, validation.n_skus, test.n_skus) == (2, 2, 4)
    assert set(train.split) == {"train"} and set(test.split) == {"test"}
    assert train.name == "toy/train"
    ids = [set(part.sku_ids) for part in (train, validation, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set().union(*ids) == {f"S{i}" for i in range(8)}


def test_splits_without_labels_is_a_clear_error():
    with pytest.raises(DataError, match=r"dataset 'toy' has no split labels; assign them with random_split"):
        make_dataset(split=False).splits()


def test_random_split_is_seeded_disjoint_and_sized():
    ds = make_dataset(20, split=False)
    first = ds.random_split((0.6, 0.2, 0.2), seed=3)
    again = ds.random_split((0.6, 0.2, 0.2), seed=3)
    other = ds.random_split((0.6, 0.2, 0.2), seed=4)
    np.testing.assert_array_equal(first.split, again.split)
    assert not np.array_equal(first.split, other.split)
    train, validation, test = first.splits()
    assert (train.n_skus, validation.n_skus, test.n_skus) == (12, 4, 4)
    assert len(set(train.sku_ids) | set(validation.sku_ids) | set(test.sku_ids)) == 20
    np.testing.assert_array_equal(first.demand, ds.demand)  # same trajectories, same order
    assert first.metadata["split"] == {"seed": 3, "sizes": [12, 4, 4]}


def test_random_split_counts_and_rounding():
    ds = make_dataset(7, split=False)
    counts = [int(np.sum(ds.random_split((2, 2, 3), seed=0).split == s)) for s in ("train", "validation", "test")]
    assert counts == [2, 2, 3]
    labels = ds.random_split((0.5, 0.25, 0.25), seed=0).split
    assert sorted(int(np.sum(labels == s)) for s in ("train", "validation", "test")) == [2, 2, 3]


@pytest.mark.parametrize(
    "sizes, message",
    [
        ((1, 2), r"sizes must be three numbers"),
        ((1, 1, 1), r"sizes must sum to the number of SKUs \(4\), got \[1, 1, 1\]"),
        ((0.5, 0.5, 0.5), r"sizes as fractions must sum to 1"),
        ((-1, 3, 2), r"sizes must be finite and >= 0"),
    ],
)
def test_random_split_rejects_bad_sizes(sizes, message):
    with pytest.raises(ValidationError, match=message):
        make_dataset(split=False).random_split(sizes, seed=0)


# ---------------------------------------------------------------------------------- features
def test_feature_lookup_and_new_features():
    ds = make_dataset()
    np.testing.assert_array_equal(ds.feature("promotion"), ds.features[:, :, 1])
    with pytest.raises(KeyError, match=r"feature 'nope' is not in dataset 'toy'"):
        ds.feature("nope")
    extended = ds.with_features("week", np.zeros((4, 6)))
    assert extended.feature_names == ("price", "promotion", "week")
    both = ds.with_features(["a", "b"], np.ones((4, 6, 2)))
    assert both.n_features == 4
    with pytest.raises(DataError, match=r"feature 'price' already exists"):
        ds.with_features("price", np.zeros((4, 6)))
    with pytest.raises(DataError, match=r"values must have shape"):
        ds.with_features("x", np.zeros((4, 5)))
    only = ds.select_features(["promotion"])
    np.testing.assert_array_equal(only.features[:, :, 0], ds.feature("promotion"))


# ---------------------------------------------------------------------------------- long table
def test_to_frame_columns_and_order():
    frame = make_dataset().to_frame()
    assert list(frame.columns) == ["sku", "period", "demand", "price", "promotion", "lead_time", "category", "margin", "split"]
    assert len(frame) == 24
    assert frame["sku"].iloc[:6].tolist() == ["S0"] * 6
    assert frame["period"].iloc[:6].tolist() == list(range(6))


def test_to_frame_from_frame_round_trip_is_exact():
    ds = make_dataset()
    assert Dataset.from_frame(ds.to_frame()).equals(ds)


def test_from_frame_with_mapping_shuffled_rows_and_period_offset():
    frame = long_frame().rename(columns={"sku": "item", "period": "day", "demand": "qty"})
    frame["day"] += 5
    frame = frame.sample(frac=1.0, random_state=1)
    ds = Dataset.from_frame(frame, sku="item", period="day", demand="qty", attributes=["lead_time"], name="shop")
    assert ds.name == "shop" and ds.period_start == 5
    assert ds.feature_names == ("price",)
    assert ds.attributes["lead_time"].to_dict() == {"A": 1, "B": 2}
    ds_sorted = ds.subset(np.argsort(ds.sku_ids))
    np.testing.assert_array_equal(ds_sorted.demand, [[1, 2, 3, 4], [0, 5, 0, 6]])
    assert ds.to_frame()["period"].min() == 5


def test_from_frame_numeric_columns_become_features_by_default():
    ds = Dataset.from_frame(long_frame())
    assert ds.feature_names == ("price", "lead_time")
    assert ds.attributes.columns.tolist() == []


def test_a_text_column_is_refused_not_dropped():
    """Anything orkit would take as a feature must be usable: a text column is named, never
    silently left out (it may be declared an attribute, or the features chosen)."""
    with pytest.raises(DataError, match="column 'note' holds text .*attributes=.*features="):
        Dataset.from_frame(long_frame().assign(note="x"))
    assert Dataset.from_frame(long_frame().assign(note="x"), attributes=["note"]).feature_names == ("price", "lead_time")
    assert Dataset.from_frame(long_frame().assign(note="x"), features=["price"]).feature_names == ("price",)


def test_one_stray_word_in_a_numeric_column_is_named():
    frame = long_frame()
    frame["price"] = frame["price"].astype(object)
    frame.loc[3, "price"] = "yes"
    with pytest.raises(DataError, match=r"column 'price' is numeric but for 1 value\(s\): first 'yes' at row 3"):
        Dataset.from_frame(frame)


def test_from_frame_missing_columns_lists_available_ones():
    with pytest.raises(DataError) as info:
        Dataset.from_frame(long_frame(), demand="sales", attributes=["region"])
    message = str(info.value)
    assert "'sales' (demand)" in message and "'region' (attributes)" in message
    assert "available columns: ['sku', 'period', 'demand', 'price', 'lead_time']" in message


def test_from_frame_nan_demand():
    frame = long_frame()
    frame.loc[6, "demand"] = np.nan
    with pytest.raises(DataError, match=r"demand must be finite, got nan at sku 'B' period 2"):
        Dataset.from_frame(frame)


def test_from_frame_negative_demand():
    frame = long_frame()
    frame.loc[1, "demand"] = -2.5
    with pytest.raises(DataError, match=r"demand must be >= 0, got -2.5 at sku 'A' period 1"):
        Dataset.from_frame(frame)


def test_from_frame_duplicate_rows_show_the_first_duplicate():
    frame = pd.concat([long_frame(), long_frame().iloc[[5]]], ignore_index=True)
    with pytest.raises(DataError, match=r"duplicate \(sku, period\) rows: sku 'B' period 1 appears 2 times \(rows 5, 8\)"):
        Dataset.from_frame(frame)


def test_from_frame_missing_periods_inside_a_life_name_sku_and_periods():
    frame = long_frame().drop(index=[5, 6])
    with pytest.raises(DataError, match=r"periods are ragged: sku 'B' has no row for period\(s\) 1, 2 inside its life "
                                        r"0..3 \(1 SKU\(s\) miss 2 row\(s\) in all\); pass fill_missing='zero'"):
        Dataset.from_frame(frame)
    shifted = long_frame()
    shifted.loc[shifted["sku"] == "B", "period"] += 2  # B has 2..5, A has 0..3: lives, not missing periods
    ds = Dataset.from_frame(shifted)
    assert ds.n_periods == 6 and [a.tolist() for a in ds.life] == [[0, 2], [3, 5]]


def test_from_frame_non_numeric_demand_and_features():
    frame = long_frame().astype({"demand": object})
    frame.loc[2, "demand"] = "lots"
    with pytest.raises(DataError, match=r"demand column 'demand' must be numeric.*'lots' at sku 'A' period 2"):
        Dataset.from_frame(frame)
    with pytest.raises(DataError, match=r"feature column 'note' must be numeric"):
        Dataset.from_frame(long_frame().assign(note="x"), features=["note"])


def test_from_frame_non_integer_periods():
    frame = long_frame().astype({"period": float})
    frame.loc[3, "period"] = 2.5
    with pytest.raises(DataError, match=r"period column 'period' must hold integers, got 2.5 at row 3"):
        Dataset.from_frame(frame)
    dates = long_frame().assign(period=pd.Timestamp("2024-01-01") + pd.to_timedelta(long_frame()["period"], unit="D"))
    with pytest.raises(DataError, match=r"period column 'period' must hold integers, got dtype datetime64.*; for dates "
                                        r"pass date='period'"):
        Dataset.from_frame(dates)


def test_from_frame_attribute_must_be_constant_within_a_sku():
    frame = long_frame()
    frame.loc[2, "lead_time"] = 3
    with pytest.raises(DataError, match=r"attribute column 'lead_time' must be constant within each SKU, got values \[1, 3\] for sku 'A'"):
        Dataset.from_frame(frame, attributes=["lead_time"])


def test_from_frame_split_column_is_read_per_sku():
    frame = long_frame().assign(split=["train"] * 4 + ["test"] * 4)
    ds = Dataset.from_frame(frame)
    assert list(ds.split) == ["train", "test"]
    frame.loc[0, "split"] = "validation"
    with pytest.raises(DataError, match=r"split column 'split' must be constant within each SKU"):
        Dataset.from_frame(frame)


# ---------------------------------------------------------------------------------- files
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_read_round_trip_is_exact(tmp_path, suffix):
    ds = make_dataset()
    path = ds.write(tmp_path / "nested" / f"toy{suffix}")
    back = Dataset.read(path)
    assert back.equals(ds)
    assert back.metadata == {"generator": "hand", "values": [1, 2, 3]}
    pd.testing.assert_frame_equal(back.attributes, ds.attributes)


def test_csv_keeps_string_ids_that_look_like_numbers_or_missing_values(tmp_path):
    ds = Dataset(np.ones((3, 2)), sku_ids=["007", "NA", ""], attributes={"code": ["01", "None", "x"]})
    back = Dataset.read(ds.write(tmp_path / "ids.csv"))
    assert list(back.sku_ids) == ["007", "NA", ""]
    assert back.attributes["code"].tolist() == ["01", "None", "x"]


def test_read_a_plain_csv_written_by_other_tools(tmp_path):
    path = tmp_path / "shop.csv"
    long_frame().to_csv(path, index=False)
    ds = Dataset.read(path, attributes=["lead_time"])
    assert ds.name == "shop"
    assert ds.feature_names == ("price",)
    assert list(ds.sku_ids) == ["A", "B"]


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(ValidationError, match=r"path suffix must be one of '.csv', '.parquet', got '.xlsx'"):
        make_dataset().write(tmp_path / "toy.xlsx")
    missing = tmp_path / "absent.parquet"
    with pytest.raises(DataError, match=r"dataset file '.*absent.parquet' does not exist"):
        Dataset.read(missing)
    with pytest.raises(FileNotFoundError):
        Dataset.read(missing)


# ---------------------------------------------------------------------------------- property-based round trip
float32_values = st.floats(min_value=0, max_value=1e6, allow_nan=False, width=32)
feature_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=32)


@st.composite
def datasets(draw):
    n_skus = draw(st.integers(1, 4))
    n_periods = draw(st.integers(1, 5))
    n_features = draw(st.integers(0, 2))
    demand = draw(st.lists(float32_values, min_size=n_skus * n_periods, max_size=n_skus * n_periods))
    features = draw(
        st.lists(feature_values, min_size=n_skus * n_periods * n_features, max_size=n_skus * n_periods * n_features)
    )
    ids = draw(
        st.lists(st.text("abcXYZ019_-", min_size=1, max_size=5), min_size=n_skus, max_size=n_skus, unique=True)
    )
    names = draw(
        st.lists(st.sampled_from(["price", "promo", "x1", "weekday"]), min_size=n_features, max_size=n_features, unique=True)
    )
    split = draw(st.none() | st.lists(st.sampled_from(["train", "validation", "test"]), min_size=n_skus, max_size=n_skus))
    lead_time = draw(st.lists(st.integers(0, 5), min_size=n_skus, max_size=n_skus))
    margin = draw(st.lists(st.floats(-1e9, 1e9) | st.just(float("nan")), min_size=n_skus, max_size=n_skus))
    category = draw(st.lists(st.text("ab ,\"'x", min_size=1, max_size=4), min_size=n_skus, max_size=n_skus))
    return Dataset(
        np.array(demand, dtype=np.float32).reshape(n_skus, n_periods),
        np.array(features, dtype=np.float32).reshape(n_skus, n_periods, n_features),
        names,
        sku_ids=ids,
        attributes={"lead_time": lead_time, "margin": margin, "category": category},
        split=split,
        name="random",
        period_start=draw(st.integers(-3, 3)),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_round_trips_are_exact_for_random_datasets(ds):
    assert Dataset.from_frame(ds.to_frame()).equals(ds)
    with tempfile.TemporaryDirectory() as folder:
        for suffix in (".csv", ".parquet"):
            back = Dataset.read(ds.write(Path(folder) / f"data{suffix}"))
            assert back.equals(ds), suffix
