"""Dataset files: a plain CSV with its sidecar, the older CSV header line, Parquet schema
metadata, writing in blocks, and atomic writes."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from orkit.core.errors import DataError
from orkit.data import Dataset, dataset as dataset_module
from orkit.data.files import HEADER_KEY, read_dataset_header, sidecar_path, write_dataset_file


def make_dataset() -> Dataset:
    rng = np.random.default_rng(1)
    demand = rng.integers(0, 9, size=(3, 5)).astype(float)
    demand[2, 3:] = 0
    return Dataset(
        demand,
        rng.normal(size=(3, 5, 1)),
        ("price",),
        sku_ids=["A", "B", "C"],
        attributes={"lead_time": [1, 2, 1], "family": ["x", "y", "x"]},
        split=["train", "validation", "test"],
        name="shop",
        metadata={"source": "test"},
        life=(np.array([0, 0, 0]), np.array([4, 4, 2])),
        censored=(np.arange(15).reshape(3, 5) % 4 == 1) & (np.arange(5) <= [[4], [4], [2]]),
        start_date="2024-02-26",
        freq="W",
    )


def test_csv_is_plain_and_its_metadata_is_in_a_sidecar(tmp_path):
    ds = make_dataset()
    path = ds.write(tmp_path / "shop.csv")
    assert not path.read_text().startswith("#")
    table = pd.read_csv(path)  # no skiprows: pandas and spreadsheets read it as it is
    assert list(table.columns) == ["sku", "date", "demand", "price", "censored", "lead_time", "family", "split"]
    assert table["date"].iloc[:2].tolist() == ["2024-02-26", "2024-03-04"] and len(table) == 5 + 5 + 3
    sidecar = json.loads(sidecar_path(path).read_text())
    assert sidecar_path(path).name == "shop.csv.orkit.json"
    assert sidecar["start_date"] == "2024-02-26" and sidecar["freq"] == "W" and sidecar["n_periods"] == 5
    assert sidecar["csv"]["bytes"] == path.stat().st_size
    back = Dataset.read(path)
    assert back.equals(ds)


def test_parquet_keeps_the_header_in_its_schema_metadata(tmp_path):
    ds = make_dataset()
    path = ds.write(tmp_path / "shop.parquet")
    header = json.loads(pq.read_schema(path).metadata[HEADER_KEY.encode()])
    assert header["freq"] == "W" and header["censored"] == "censored"
    assert read_dataset_header(path) == header
    assert Dataset.read(path).equals(ds)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_large_datasets_are_written_in_blocks_of_skus(tmp_path, suffix, monkeypatch):
    monkeypatch.setattr(dataset_module, "WRITE_BLOCK_ROWS", 7)  # one SKU (5 periods) per block
    ds = make_dataset()
    path = ds.write(tmp_path / f"blocks{suffix}")
    if suffix == ".parquet":
        assert pq.ParquetFile(path).metadata.num_row_groups == 3
    else:
        assert path.read_text().count("sku,") == 1
    assert Dataset.read(path).equals(ds)


def test_an_old_csv_with_the_header_line_is_still_read(tmp_path):
    path = tmp_path / "old.csv"
    header = {"format": 1, "name": "old", "feature_names": ["price"], "attributes": {"code": "str"},
              "metadata": {"generator": "hand"}}
    body = "sku,period,demand,price,code\nA,0,1.0,2.5,007\nA,1,2.0,2.5,007\nB,0,0.0,1.0,010\nB,1,4.0,1.0,010\n"
    path.write_text("# orkit-dataset " + json.dumps(header) + "\n" + body)
    ds = Dataset.read(path)
    assert ds.name == "old" and ds.metadata == {"generator": "hand"}
    assert ds.attributes["code"].tolist() == ["007", "010"] and ds.demand.tolist() == [[1, 2], [0, 4]]


def test_a_csv_changed_since_it_was_written_is_read_with_a_warning(tmp_path, caplog):
    path = make_dataset().write(tmp_path / "shop.csv")
    table = pd.read_csv(path)
    table.loc[0, "demand"] = 99.0
    table.to_csv(path, index=False)
    with caplog.at_level(logging.WARNING, logger="orkit.data.files"):
        back = Dataset.read(path)
    assert "changed since orkit wrote it" in caplog.text
    assert back.demand[0, 0] == 99 and back.name == "shop" and back.freq == "W"


def test_a_sidecar_from_a_newer_orkit_is_refused(tmp_path):
    path = make_dataset().write(tmp_path / "shop.csv")
    sidecar = json.loads(sidecar_path(path).read_text())
    sidecar["format"] = 99
    sidecar_path(path).write_text(json.dumps(sidecar))
    with pytest.raises(DataError, match=r"its sidecar 'shop.csv.orkit.json' is format 99, newer than this orkit reads"):
        Dataset.read(path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_interrupted_write_leaves_no_file(tmp_path, suffix):
    frame = make_dataset().to_frame()

    def blocks():
        yield frame.iloc[:4]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_dataset_file(tmp_path / f"cut{suffix}", {"format": 2, "name": "cut"}, blocks())
    assert list(tmp_path.iterdir()) == []
