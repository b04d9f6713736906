"""Rebuild ``bakery.parquet`` from the ddop 0.7.6 source distribution (not run by orkit itself).

    pip download ddop==0.7.6 --no-deps --no-binary :all: -d /tmp/ddop
    tar -xzf /tmp/ddop/ddop-0.7.6.tar.gz -C /tmp/ddop
    python -m orkit.data.datasets._build_bakery /tmp/ddop/ddop-0.7.6/ddop/datasets/data

What it changes (see README.md beside it): ``bakery_data.csv`` and ``bakery_target.csv`` are
joined row by row (the target file is the ``demand`` column of the same rows); the ``weekday``
column is dropped, because it is the true weekday of ``date`` minus one day on every row, and
``month`` and ``year`` are dropped because they follow from ``date``; a ``sku`` column
``S<store>-P<product>`` is added. Every other value is kept as it is.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: sha256 of the two source files of ddop 0.7.6
SOURCES = {
    "bakery_data.csv": "7561736117e885503cf285bcd0744e8814777a4ed03749f268862511ebb6a62b",
    "bakery_target.csv": "525f7b30912ce29eebb123c5708196514081640ffb496ab940c325bddced99ab",
}
FLAGS = ("is_holiday", "is_holiday_next2days", "is_schoolholiday", "promotion_currentweek", "promotion_lastweek")
WEATHER = ("rain", "temperature")


def build(source: Path, target: Path) -> Path:
    for name, digest in SOURCES.items():
        actual = hashlib.sha256((source / name).read_bytes()).hexdigest()
        if actual != digest:
            raise SystemExit(f"{source / name}: sha256 {actual}, expected {digest} (ddop 0.7.6)")
    data = pd.read_csv(source / "bakery_data.csv")
    demand = pd.read_csv(source / "bakery_target.csv")["demand"]
    if len(data) != len(demand):
        raise SystemExit(f"{len(data)} feature rows but {len(demand)} demand rows")
    dates = pd.to_datetime(data["date"], format="%Y-%m-%d")
    # the finding that justifies dropping `weekday`: it names the day before `date`, on every row
    day_before = (dates - pd.Timedelta(days=1)).dt.strftime("%a").str.upper()
    if not (data["weekday"] == day_before).all():
        raise SystemExit("the weekday column is no longer the day before the date on every row: recheck it")
    table = pa.table({
        "sku": pa.array([f"S{s:02d}-P{p}" for s, p in zip(data["store"], data["product"])]).dictionary_encode(),
        "store": pa.array(data["store"].to_numpy(np.int16)),
        "product": pa.array(data["product"].to_numpy(np.int16)),
        "date": pa.array(dates.dt.date, type=pa.date32()),
        "demand": pa.array(demand.to_numpy(np.float64)),
        **{c: pa.array(data[c].to_numpy(np.int8)) for c in FLAGS},
        **{c: pa.array(data[c].to_numpy(np.float64)) for c in WEATHER},
    })
    pq.write_table(table, target, compression="zstd", compression_level=19, row_group_size=len(data))
    return target


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("ddop/datasets/data")
    print(build(folder, Path(__file__).with_name("bakery.parquet")))
