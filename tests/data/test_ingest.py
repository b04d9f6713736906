"""Reading a sales extract: missing periods, SKUs that start late or end early, the stock-out
flag, column mapping, and the streamed Parquet reader (the same dataset as the pandas path)."""

from __future__ import annotations

import logging
import mmap

import numpy as np
import pandas as pd
import pytest

from orkit.core import InventoryProblem
from orkit.core.errors import DataError, ValidationError
from orkit.data import Dataset, ingest
from orkit.heuristics import BaseStockPolicy


def extract(skus=("A", "B", "C"), days=6, drop=(), lives=None) -> pd.DataFrame:
    """A daily extract from 2024-01-01; SKU i sells 10 i + t on day t, price 1 + i + t / 10,
    stock-out every fourth day; ``lives`` maps a SKU to its (first, last) day; ``drop`` lists
    (sku, day) rows left out."""
    rows = []
    for i, sku in enumerate(skus):
        first, last = (lives or {}).get(sku, (0, days - 1))
        for t in range(first, last + 1):
            if (sku, t) in drop:
                continue
            rows.append({"item": sku, "day": f"2024-01-{t + 1:02d}", "units": float(10 * i + t),
                         "price": 1.0 + i + t / 10, "oos": t % 4 == 3, "region": "north" if i % 2 else "south",
                         "lead": i})
    return pd.DataFrame(rows)


MAPPING = dict(sku="item", date="day", demand="units", attributes=["region", "lead"])


# ---------------------------------------------------------------------------------- missing periods
def test_a_missing_day_is_an_error_naming_the_sku_and_the_dates():
    frame = extract(drop={("B", 2), ("B", 3), ("C", 1)})
    with pytest.raises(DataError, match=r"periods are ragged: sku 'B' has no row for date\(s\) 2024-01-03, 2024-01-04 "
                                        r"inside its life 2024-01-01..2024-01-06 \(2 SKU\(s\) miss 3 row\(s\) in all\); "
                                        r"pass fill_missing='zero'"):
        Dataset.from_frame(frame, **MAPPING)


def test_fill_missing_zero_adds_the_rows_and_reports_how_many(caplog):
    frame = extract(drop={("B", 2), ("B", 3), ("C", 1)})
    with caplog.at_level(logging.INFO, logger="orkit.data.ingest"):
        ds = Dataset.from_frame(frame, fill_missing="zero", stockout="oos", **MAPPING)
    assert "added 3 row(s) of zero demand for 2 SKU(s)" in caplog.text
    assert ds.metadata["fill_missing"] == {"rule": "zero", "rows_added": 3, "skus": 2}
    assert ds.demand[1].tolist() == [10, 11, 0, 0, 14, 15] and ds.demand[2, 1] == 0
    # a filled day keeps the SKU's previous features (price of day 1 for B's days 2 and 3)
    np.testing.assert_allclose(ds.feature("price")[1], [2.0, 2.1, 2.1, 2.1, 2.4, 2.5], rtol=1e-6)
    assert not ds.censored[1, 2:4].any() and ds.full_lives


def test_nothing_missing_adds_nothing():
    ds = Dataset.from_frame(extract(), fill_missing="zero", **MAPPING)
    assert "fill_missing" not in ds.metadata
    with pytest.raises(ValidationError, match=r"fill_missing must be one of 'zero' or None .*got 'mean'"):
        Dataset.from_frame(extract(), fill_missing="mean", **MAPPING)


# ---------------------------------------------------------------------------------- lives
def late_and_early() -> Dataset:
    # A lives all 6 days, B starts on day 2, C ends on day 3
    return Dataset.from_frame(extract(lives={"B": (2, 5), "C": (0, 3)}), stockout="oos", **MAPPING)


def test_a_sku_that_starts_late_and_one_that_ends_early_are_kept_with_their_lives():
    ds = late_and_early()
    assert ds.n_skus == 3 and ds.n_periods == 6 and not ds.full_lives
    assert [a.tolist() for a in ds.life] == [[0, 2, 0], [5, 5, 3]]
    assert ds.demand[1].tolist() == [0, 0, 12, 13, 14, 15]  # zero before B's first row
    assert ds.demand[2].tolist() == [20, 21, 22, 23, 0, 0]  # and after C's last
    alive = ds.alive()
    assert alive.shape == (6, 3) and alive[:, 1].tolist() == [False, False, True, True, True, True]
    assert not ds.feature("price")[1, :2].any() and not ds.censored[2, 4:].any()


def test_lives_travel_with_subsets_splits_and_files(tmp_path):
    ds = late_and_early().with_split(["train", "test", "test"])
    _, _, test = ds.splits()
    assert [a.tolist() for a in test.life] == [[2, 0], [5, 3]]
    assert ds.subset([0]).full_lives
    for suffix in (".csv", ".parquet"):
        back = Dataset.read(ds.write(tmp_path / f"lives{suffix}"))
        assert back.equals(ds), suffix
    rows = ds.to_frame()
    assert len(rows) == 6 + 4 + 4  # no row outside a life


def test_heuristics_and_the_forecaster_fit_on_partial_lives_and_the_empirical_dp_refuses():
    # fitting on lived periods only: tests/heuristics/test_lives_fit.py
    from orkit.heuristics import EmpiricalDPPolicy, NewsvendorPolicy
    from orkit.twostage import DemandForecaster

    ds = late_and_early()
    NewsvendorPolicy().fit(ds, ds, InventoryProblem())
    DemandForecaster(calendar="periods").fit(ds, horizon=2)
    with pytest.raises(DataError, match=r"fitting the empirical DP on SKUs that start or end inside the horizon"):
        EmpiricalDPPolicy().fit(ds, ds, InventoryProblem())


def test_check_full_lives_names_the_skus_and_says_what_is_not_supported():
    ds = late_and_early()
    with pytest.raises(DataError, match=r"dataset 'dataset' has 2 SKU\(s\) that do not live the whole horizon "
                                        r"\(2024-01-01..2024-01-06\): 'B' \(2024-01-03..2024-01-06\), 'C' "
                                        r"\(2024-01-01..2024-01-04\); fitting on SKUs that start or end inside the "
                                        r"horizon is not supported \(their periods outside the life would read as "
                                        r"zero demand\): fit on the SKUs that do"):
        ds.check_full_lives()
    assert Dataset.from_frame(extract(), **MAPPING).check_full_lives().full_lives


def test_the_simulator_orders_and_counts_only_inside_a_life():
    """A SKU's clock starts at its first period (review days and warm-up count from there); it
    orders only while an order arrives by its last period; no period outside its life counts."""
    from orkit.evaluation import evaluate
    from orkit.sim import simulate

    ds = late_and_early()  # A: days 0-5, B: 2-5, C: 0-3
    problem = InventoryProblem(lead_time=1, review_period=1)
    led = simulate(BaseStockPolicy(level=30.0), ds, problem)
    order, counted = led.order.numpy(), led.counted.numpy()
    # A lives everything: reviews from day 1 (t = P), counted from the warm-up L + P = 2
    assert order[0, 0] == 0 and (order[0, 1:5] > 0).all() and order[0, 5] == 0  # day 5's order would arrive after the end
    assert counted[0].tolist() == [False, False, True, True, True, True]
    # B starts on day 2: first review on its day 1 (day 3), counted from its day 2 (day 4)
    assert order[1, :3].tolist() == [0, 0, 0] and order[1, 3] > 0
    assert counted[1].tolist() == [False, False, False, False, True, True]
    # C ends on day 3: no order that would arrive after it (the last is placed on day 2)
    assert order[2, 3:].tolist() == [0, 0, 0] and order[2, 2] > 0
    assert counted[2].tolist() == [False, False, True, True, False, False]
    # A SKU that lives the whole horizon runs as it would alone
    alone = simulate(BaseStockPolicy(level=30.0), ds.subset([0]), problem)
    assert np.array_equal(alone.on_hand[0].numpy(), led.on_hand[0].numpy())
    # and the lean ledger, the metrics and the full one agree
    lean = simulate(BaseStockPolicy(level=30.0), ds, problem, ledger="lean")
    np.testing.assert_array_equal(lean.counted_periods.numpy(), counted.sum(1))
    assert evaluate(BaseStockPolicy(level=30.0), ds, problem)["weighted_loss"] > 0


def test_a_sku_whose_life_is_shorter_than_the_warm_up_is_left_out_of_the_mean():
    from orkit.evaluation import evaluate

    ds = late_and_early()
    problem = InventoryProblem(lead_time=1, review_period=1, warmup_periods=3)
    short = Dataset.from_frame(extract(lives={"B": (3, 5)}), **MAPPING)  # B: 3 days, all warm-up
    assert evaluate(BaseStockPolicy(level=30.0), short, problem)["weighted_loss"] == pytest.approx(
        evaluate(BaseStockPolicy(level=30.0), short.subset([0, 2]), problem)["weighted_loss"])
    assert np.isfinite(evaluate(BaseStockPolicy(level=30.0), ds, problem)["weighted_loss"])


def test_lives_full_counts_the_edges_as_missing_periods():
    frame = extract(lives={"B": (2, 5)})
    with pytest.raises(DataError, match=r"sku 'B' has no row for date\(s\) 2024-01-01, 2024-01-02 inside its life "
                                        r"2024-01-01..2024-01-06"):
        Dataset.from_frame(frame, lives="full", **MAPPING)
    ds = Dataset.from_frame(frame, lives="full", fill_missing="zero", **MAPPING)
    assert ds.full_lives and ds.demand[1].tolist() == [0, 0, 12, 13, 14, 15]
    assert ds.metadata["fill_missing"]["rows_added"] == 2
    np.testing.assert_allclose(ds.feature("price")[1, :2], [2.2, 2.2], rtol=1e-6)  # the next row's, before the first
    with pytest.raises(ValidationError, match=r"lives must be one of 'rows', 'full', got 'some'"):
        Dataset.from_frame(frame, lives="some", **MAPPING)


def test_constructor_lives_are_checked():
    demand = np.array([[0.0, 2.0, 3.0], [1.0, 1.0, 0.0]])
    ds = Dataset(demand, life=(np.array([1, 0]), np.array([2, 1])))
    assert [a.tolist() for a in ds.life] == [[1, 0], [2, 1]]
    assert Dataset(demand, life=(np.array([0, 0]), np.array([2, 2]))).full_lives
    with pytest.raises(DataError, match=r"demand must be 0 outside a SKU's life, got 2.0 at sku 'sku_0000' period 1"):
        Dataset(demand, life=(np.array([2, 0]), np.array([2, 1])))
    with pytest.raises(DataError, match=r"life must satisfy 0 <= first <= last <= 2, got first 2 and last 1"):
        Dataset(demand, life=(np.array([2, 0]), np.array([1, 1])))
    with pytest.raises(DataError, match=r"censored must be False outside a SKU's life, got True at sku 'sku_0000'"):
        Dataset(demand, life=(np.array([1, 0]), np.array([2, 1])), censored=[[True, False, False], [False] * 3])
    # features outside a life are not kept (a file has no row there)
    with_features = Dataset(demand, np.ones((2, 3, 1)), life=(np.array([1, 0]), np.array([2, 1])))
    assert with_features.features[:, :, 0].tolist() == [[0, 1, 1], [1, 1, 0]]


# ---------------------------------------------------------------------------------- stock-out flag
def test_the_stockout_flag_marks_censored_demand_and_round_trips(tmp_path):
    ds = Dataset.from_frame(extract(), stockout="oos", **MAPPING).with_split(["train", "validation", "test"])
    assert ds.censored.dtype == bool and ds.censored.shape == (3, 6)
    assert ds.censored[0].tolist() == [False, False, False, True, False, False]
    assert ds.censored_time_major.flags.c_contiguous and "oos" not in ds.feature_names
    assert Dataset.from_frame(extract(), **MAPPING).censored is None  # a flag is never guessed
    train, validation, _ = ds.splits()
    assert validation.censored.tolist() == [ds.censored[1].tolist()]
    for suffix in (".csv", ".parquet"):
        back = Dataset.read(ds.write(tmp_path / f"flag{suffix}"))
        assert back.equals(ds) and back.censored is not None, suffix


@pytest.mark.parametrize("values", [[1, 0] * 9, ["yes", "no"] * 9, ["TRUE", "false"] * 9])
def test_stockout_flag_spellings(values):
    ds = Dataset.from_frame(extract().assign(oos=values), stockout="oos", **MAPPING)
    assert ds.censored[0, :2].tolist() == [True, False]


def test_a_bad_stockout_value_names_the_row():
    frame = extract().assign(oos=lambda f: f.oos.astype(object))
    frame.loc[4, "oos"] = "maybe"
    with pytest.raises(DataError, match=r"stockout column 'oos' must hold true/false or 1/0 on every row, got 'maybe' "
                                        r"at sku 'A' date 2024-01-05 \(row 4\)"):
        Dataset.from_frame(frame, stockout="oos", **MAPPING)


# ---------------------------------------------------------------------------------- column mapping
def test_column_mapping_names_every_role():
    frame = extract().rename(columns={"units": "qty"})
    ds = Dataset.from_frame(frame, sku="item", date="day", demand="qty", features=["price"], attributes=["region"],
                            stockout="oos")
    assert ds.feature_names == ("price",) and list(ds.attributes.columns) == ["region"]
    with pytest.raises(DataError, match=r"frame is missing column\(s\) 'sales' \(demand\), 'shop' \(attributes\); "
                                        r"available columns: \['item', 'day', 'qty'"):
        Dataset.from_frame(frame, sku="item", date="day", demand="sales", attributes=["shop"])
    with pytest.raises(DataError, match=r"missing column\(s\) 'period' \(period\); .*; name the time column with "
                                        r"period=... \(integer periods\) or date=... \(dates\)"):
        Dataset.from_frame(frame, sku="item", demand="qty")
    with pytest.raises(DataError, match=r"column 'day' holds dates, which cannot be a feature: .* pass date='day'"):
        Dataset.from_frame(frame.assign(period=0), sku="item", demand="qty", attributes=["region", "lead"],
                           stockout="oos", features=None)
    with pytest.raises(ValidationError, match=r"stockout must name a column of its own, got 'qty'"):
        Dataset.from_frame(frame, sku="item", date="day", demand="qty", stockout="qty")


# ---------------------------------------------------------------------------------- Parquet, streamed
def parquet_cases() -> dict[str, tuple[pd.DataFrame, dict]]:
    late = extract(skus=tuple("ABCDEFG"), days=9, lives={"B": (3, 8), "E": (0, 6)}, drop={("D", 4)})
    options = dict(MAPPING, stockout="oos", fill_missing="zero")
    return {
        "sorted": (extract(skus=tuple("ABCDE"), days=7), dict(MAPPING, stockout="oos")),
        "shuffled": (extract(skus=tuple("ABCDE"), days=7).sample(frac=1, random_state=3), dict(MAPPING)),
        "by date": (extract(skus=tuple("ABCDE"), days=7).sort_values(["day", "item"]), dict(MAPPING)),
        "lives and gaps": (late, options),
        "lives shuffled": (late.sample(frac=1, random_state=4), options),
        "split labels": (extract().assign(split=lambda f: f["item"].map({"A": "train", "B": "test", "C": "test"})),
                         dict(MAPPING)),
    }


@pytest.mark.parametrize("case", list(parquet_cases()))
@pytest.mark.parametrize("batch_rows", [5, 1 << 20])
def test_parquet_streamed_read_gives_the_dataset_of_the_pandas_path(case, batch_rows, tmp_path, monkeypatch):
    frame, options = parquet_cases()[case]
    path = tmp_path / "extract.parquet"
    frame.to_parquet(path, index=False)
    monkeypatch.setattr(ingest, "BATCH_ROWS", batch_rows)
    streamed = Dataset.read(path, **options)
    expected = Dataset.from_frame(frame.reset_index(drop=True), name="extract", **options)
    assert streamed.equals(expected), case
    pd.testing.assert_frame_equal(streamed.attributes, expected.attributes)


def test_parquet_with_integer_skus_and_text_dates(tmp_path):
    frame = extract().assign(item=lambda f: f["item"].map({"A": 7, "B": 3, "C": 11}))
    path = tmp_path / "ints.parquet"
    frame.to_parquet(path, index=False)
    ds = Dataset.read(path, **MAPPING)
    assert ds.sku_ids.tolist() == ["7", "3", "11"] and ds.freq == "D" and ds.n_periods == 6


def test_parquet_errors_name_the_file_the_column_and_the_row(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_ROWS", 4)
    path = tmp_path / "bad.parquet"
    extract().to_parquet(path, index=False)
    with pytest.raises(DataError, match=r"dataset file '.*bad.parquet' is missing column\(s\) 'qty' \(demand\)"):
        Dataset.read(path, sku="item", date="day", demand="qty")
    with pytest.raises(DataError, match=r"column 'region' of dataset file .* has type (string|large_string), not numbers, "
                                        r"so it cannot be a feature"):
        Dataset.read(path, sku="item", date="day", demand="units")
    pd.concat([extract(), extract().iloc[[9]]]).to_parquet(path, index=False)  # a duplicate in a later batch
    with pytest.raises(DataError, match=r"duplicate \(sku, date\) rows: sku 'B' date 2024-01-04 appears 2 times "
                                        r"\(rows 9, 18\)"):
        Dataset.read(path, **MAPPING)
    varying = extract()
    varying.loc[10, "region"] = "west"
    varying.to_parquet(path, index=False)
    with pytest.raises(DataError, match=r"attribute column 'region' must be constant within each SKU, got values "
                                        r"\['north', 'west'\] for sku 'B'"):
        Dataset.read(path, **MAPPING)
    with pytest.raises(ValidationError, match=r"unknown option\(s\) 'colour' for Dataset.read"):
        Dataset.read(path, colour="red")


def test_whole_skus_are_found_in_a_batch_cut_anywhere():
    codes = np.repeat(np.arange(5, dtype=np.int32), 4)[3:]  # starts inside SKU 0, whole SKUs 1..4
    offsets = np.tile(np.arange(4, dtype=np.int32), 5)[3:]
    rows, block_codes, rest = ingest._whole_skus(codes, offsets, 4)
    assert block_codes.tolist() == [1, 2, 3, 4] and rows == slice(1, 17) and rest == (slice(0, 1), slice(17, 17))
    short = np.r_[codes[:5], codes[7:]]  # SKU 2 misses two periods: the SKUs around it are found
    rows, block_codes, rest = ingest._whole_skus(short, np.r_[offsets[:5], offsets[7:]], 4)
    assert block_codes.tolist() == [1, 3, 4] and rest.tolist() == [0, 5, 6]
    assert ingest._whole_skus(np.arange(20) % 5, np.arange(20) // 5, 4) is None  # period-major rows


def test_large_arrays_are_read_into_anonymous_memory_maps(tmp_path, monkeypatch):
    path = tmp_path / "small.parquet"
    extract().to_parquet(path, index=False)
    monkeypatch.setattr(ingest, "MAPPED_BYTES", 1)
    ds = Dataset.read(path, **MAPPING)
    base = ds.demand_time_major
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)
    assert ingest.zeros((0, 3), np.float32).shape == (0, 3)


def test_large_dictionaries_are_looked_up_with_pyarrow(tmp_path, monkeypatch):
    frame, options = parquet_cases()["lives shuffled"]
    path = tmp_path / "extract.parquet"
    frame.to_parquet(path, index=False)
    monkeypatch.setattr(ingest, "BATCH_ROWS", 5)
    monkeypatch.setattr(ingest, "_LARGE_DICTIONARY", 1)
    assert Dataset.read(path, **options).equals(Dataset.from_frame(frame.reset_index(drop=True), name="extract",
                                                                   **options))
