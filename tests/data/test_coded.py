"""Features a reader keeps as codes (orkit.data.coded): the same numbers as float32, 1 or 2
bytes a value, float32 again beyond 32,768 distinct values, and the same simulation, compiled
or not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from orkit.core import InventoryProblem
from orkit.core.errors import DataError
from orkit.data import Dataset, ingest
from orkit.data.coded import MAX_VALUES, CodedArray
from orkit.evaluation import evaluate
from orkit.sim import CodedFeatures, prepare_input, simulate, simulator


def extract(n_skus: int = 6, days: int = 30, seed: int = 0, distinct_prices: int = 4) -> pd.DataFrame:
    """Daily rows; a per-SKU price from ``distinct_prices`` levels, a promotion flag, a temperature
    with two decimals; SKU 0 starts on day 5 (its life), SKU 1 misses day 7."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_skus):
        for t in range(5 if i == 0 else 0, days):
            if (i, t) == (1, 7):
                continue
            promo = float(rng.random() < 0.2)
            rows.append({"sku": f"s{i}", "date": pd.Timestamp("2024-03-01") + pd.Timedelta(days=t),
                         "demand": float(rng.poisson(4 + 3 * promo)),
                         "price": 1.0 + 0.25 * int(rng.integers(distinct_prices)), "promo": promo,
                         "temperature": round(float(rng.normal(12, 5)), 2)})
    return pd.DataFrame(rows)


def pivoted(frame: pd.DataFrame, column: str, skus: list[str], dates: pd.DatetimeIndex) -> np.ndarray:
    """The (n_skus, T) float32 table of ``column`` built by pandas: the oracle."""
    table = frame.pivot(index="sku", columns="date", values=column).reindex(index=skus, columns=dates)
    return table.to_numpy(dtype=np.float32)


def test_few_distinct_values_are_read_as_codes_with_the_same_numbers(tmp_path):
    frame = extract(n_skus=20, days=60)
    path = tmp_path / "sales.parquet"
    frame.to_parquet(path, index=False)
    ds = Dataset.read(path, date="date", fill_missing="zero")
    stored = ds.stored_features
    assert isinstance(stored, CodedArray)
    # price: 0 (outside SKU 0's life) and 4 levels; promo: 0 and 1; temperature: more than 256 values
    assert [len(v) for v in stored.values][:2] == [5, 2] and len(stored.values[2]) > 256
    assert [c.dtype for c in stored.codes] == [np.uint8, np.uint8, np.int16]
    assert sum(c.nbytes for c in stored.codes) == ds.n_skus * ds.n_periods * (1 + 1 + 2)  # float32: 4 + 4 + 4
    for j, name in enumerate(ds.feature_names):
        expected = pivoted(frame, name, list(ds.sku_ids), ds.dates)
        got = ds.features[:, :, j]
        assert np.array_equal(got[0, :5], np.zeros(5, np.float32)), name  # before SKU 0's life: 0
        assert np.array_equal(got[1, 7], got[1, 6]), name  # the missing day carries the day before's features
        known = ~np.isnan(expected)
        assert np.array_equal(got[known], expected[known]), name
        assert np.array_equal(ds.feature(name), got)
    assert ds.features.dtype == np.float32 and not ds.features.flags.writeable
    # slices stay coded; files written from it read back equal
    assert isinstance(ds.window(10, 20).stored_features, CodedArray)
    assert isinstance(ds.subset([2, 3]).stored_features, CodedArray)
    assert np.array_equal(ds.select_features(["promo"]).features[:, :, 0], ds.feature("promo"))
    ds.write(tmp_path / "again.csv")
    assert Dataset.read(tmp_path / "again.csv").equals(ds)


@pytest.mark.parametrize("batch_rows", [7, 1 << 20])
def test_a_feature_with_more_distinct_values_than_codes_is_float32_and_the_others_stay_coded(tmp_path, monkeypatch,
                                                                                              batch_rows):
    monkeypatch.setattr("orkit.data.ingest.MAX_VALUES", 40)  # the temperature has more than 40 values
    monkeypatch.setattr(ingest, "BATCH_ROWS", batch_rows)  # 7: the limit is passed after codes were placed
    frame = extract()
    path = tmp_path / "sales.parquet"
    frame.to_parquet(path, index=False)
    ds = Dataset.read(path, date="date", fill_missing="zero")
    stored = ds.stored_features
    assert [c.dtype for c in stored.codes] == [np.uint8, np.uint8, np.float32]  # price, promo, temperature
    assert stored.values[2] is None and len(stored.values[0]) == 5
    for j, name in enumerate(ds.feature_names):
        expected = pivoted(frame, name, list(ds.sku_ids), ds.dates)
        known = ~np.isnan(expected)
        assert np.array_equal(ds.features[:, :, j][known], expected[known]), name
        assert np.array_equal(ds.feature(name), ds.features[:, :, j]), name
    assert MAX_VALUES == 32768


def test_a_feature_widens_from_one_byte_to_two_after_its_codes_were_placed(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_ROWS", 11)
    frame = extract(n_skus=30, days=20)
    frame["step"] = np.arange(len(frame), dtype=np.float32)  # a new value on every row: 300+ after 256
    path = tmp_path / "sales.parquet"
    frame.to_parquet(path, index=False)
    ds = Dataset.read(path, date="date", fill_missing="zero", features=["promo", "step"])
    assert [c.dtype for c in ds.stored_features.codes] == [np.uint8, np.int16]
    expected = pivoted(frame, "step", list(ds.sku_ids), ds.dates)
    known = ~np.isnan(expected)
    assert np.array_equal(ds.feature("step")[known], expected[known])


def test_a_non_finite_feature_is_still_an_error_naming_the_cell(tmp_path):
    frame = extract()
    frame.loc[40, "price"] = np.inf  # price then is float32 values, and the reader reports the cell
    path = tmp_path / "sales.parquet"
    frame.to_parquet(path, index=False)
    sku, day = frame.loc[40, "sku"], frame.loc[40, "date"].date()
    with pytest.raises(DataError, match=rf"features must be finite, got inf at sku '{sku}' date {day} "
                                        rf"\(period \d+\) feature 'price'"):
        Dataset.read(path, date="date", fill_missing="zero")


class PromoPolicy:
    """Order up to 8, plus 3 on promotion days: reads a feature in every period."""

    name = "promo"
    fusable = True  # traced into the compiled blocks of a lean run

    def act(self, obs):
        return (8.0 + 3.0 * obs.feature("promo") - obs.inventory_position).clamp(min=0.0)


@pytest.mark.parametrize("ledger", ["lean", "full"])
@pytest.mark.parametrize("float_column", [False, True], ids=["all coded", "one float32 column"])
def test_a_policy_reading_features_simulates_the_same_on_codes_and_floats(tmp_path, ledger, float_column, compiler,
                                                                          monkeypatch):
    if float_column:
        monkeypatch.setattr("orkit.data.ingest.MAX_VALUES", 40)  # the temperature: float32 values
    frame = extract(n_skus=20, days=60)
    path = tmp_path / "sales.parquet"
    frame.to_parquet(path, index=False)
    coded = Dataset.read(path, date="date", fill_missing="zero", lives="full")  # full lives: compiled runs
    plain = Dataset(coded.demand, coded.features, coded.feature_names, sku_ids=coded.sku_ids,
                    start_date=coded.start_date, freq=coded.freq)
    assert isinstance(coded.stored_features, CodedArray) and isinstance(plain.stored_features, np.ndarray)
    inp = prepare_input(coded)
    assert isinstance(inp.features, CodedFeatures) and inp.features.shape == (20, 60, 3)
    assert (inp.features.values[2] is None) == float_column
    problem = InventoryProblem(lead_time=2)
    a = simulate(PromoPolicy(), coded, problem, ledger=ledger, fused=True)
    b = simulate(PromoPolicy(), plain, problem, ledger=ledger, fused=False)
    compiled = simulator._lean_block if ledger == "lean" else simulator._full_period
    assert compiler(compiled) >= 1  # the coded features went through compiled code
    if ledger == "full":  # compiled against eager: equal up to the compiler's rounding
        torch.testing.assert_close(a.order, b.order)
        torch.testing.assert_close(a.on_hand, b.on_hand)
        assert bool((a.order > 0).any())
    else:
        for name in ("holding_units", "shortage_units", "sales"):
            torch.testing.assert_close(getattr(a, name), getattr(b, name), msg=name)
    assert evaluate(PromoPolicy(), coded, problem, ledger=ledger) == evaluate(PromoPolicy(), plain, problem,
                                                                               ledger=ledger)
    zeros = Dataset(coded.demand, np.zeros_like(coded.features), coded.feature_names, sku_ids=coded.sku_ids,
                    start_date=coded.start_date, freq=coded.freq)
    assert evaluate(PromoPolicy(), zeros, problem)["holding_cost"] < evaluate(PromoPolicy(), coded, problem)[
        "holding_cost"]  # the promotions were read


def test_calendar_features_are_coded_without_a_copy_per_sku(tmp_path):
    """Calendar parts from the dates join coded features as codes of one row shared by every
    SKU (a broadcast view: no (n_skus, T) array); values as the date's parts; a dataset with
    float32 features gets them as float32."""
    frame = extract(n_skus=20, days=60)
    frame.to_parquet(tmp_path / "sales.parquet", index=False)
    ds = Dataset.read(tmp_path / "sales.parquet", date="date", fill_missing="zero", lives="full",
                      features=["price", "promo"], calendar=["weekday", "day_of_year"])
    stored = ds.stored_features
    assert isinstance(stored, CodedArray) and ds.feature_names == ("price", "promo", "weekday", "day_of_year")
    weekday_codes = stored.codes[2]
    assert weekday_codes.strides[0] == 0 and weekday_codes.dtype == np.uint8  # one row for every SKU
    np.testing.assert_array_equal(ds.feature("weekday"), np.broadcast_to(ds.dates.day_of_week.to_numpy(), (20, 60)))
    np.testing.assert_array_equal(ds.feature("day_of_year"), np.broadcast_to(ds.dates.day_of_year.to_numpy(), (20, 60)))
    plain = Dataset(ds.demand, ds.features[:, :, :2], ("price", "promo"), sku_ids=ds.sku_ids,
                    start_date=ds.start_date, freq="D").with_calendar_features(["weekday", "day_of_year"])
    assert isinstance(plain.stored_features, np.ndarray) and plain.feature_names == ds.feature_names
    np.testing.assert_array_equal(plain.features, ds.features)
    assert plain.feature_roles == ds.feature_roles
