"""Read + evaluate a large sales extract from Parquet, against the in-memory evaluate of the
same data in the same run.

    .venv/bin/python benchmarks/bench_io.py                     # 1M SKUs x 365 days, two features
    .venv/bin/python benchmarks/bench_io.py --skus 100000       # a quicker look

The Parquet file (columns ``sku`` text, ``date`` date, ``demand``, ``price``, ``promo``; rows
SKU by SKU, as an extract usually comes) is generated once, if absent, in a temporary folder
(``--folder``, default ``$TMPDIR/orkit-bench-io``). Then each case runs in a fresh Python
process, so that its peak resident memory is its own (``ru_maxrss`` from ``os.wait4``):

- ``memory``: the same arrays generated in memory, ``Dataset(...)``, ``evaluate``;
- ``parquet``: ``Dataset.read(file, date="date")``, ``evaluate``; the reader keeps the two
  features as codes of their distinct values (:mod:`orkit.data.coded`);

each with the two features and without them (``--features both|all|none``: the base-stock
policy reads no feature, and ``Dataset.read(..., features=[])`` reads only the columns it needs),
and with ``--calendar weekday`` (say) calendar features from the dates as well.
Every case evaluates the same base-stock policy with ``orkit.evaluation.evaluate`` (lean ledger)
and prints its metrics, which must agree between ``memory`` and ``parquet``.

Last, in this process: filling a (T, n_skus) float32 array allocated by ``numpy.zeros`` against
one allocated by ``orkit.data.ingest.zeros`` (an anonymous memory map, which the reader uses;
see its docstring), twice each, alternating.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

START_DAY = np.datetime64("2024-01-01", "D")
BLOCK_SKUS = 2_000
SEED = 0


def block(index: int, n_skus: int, n_periods: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(demand, price, promo) of SKU block ``index``, each (k, T) float32: Poisson demand with a
    per-SKU rate, a per-SKU price that changes every 8 weeks, 10% promotion days (+50%)."""
    rng = np.random.default_rng([SEED, index])
    k = min(BLOCK_SKUS, n_skus - index * BLOCK_SKUS)
    rate = rng.lognormal(1.0, 0.8, size=(k, 1))
    promo = (rng.random((k, n_periods)) < 0.1).astype(np.float32)
    demand = rng.poisson(rate * (1.0 + 0.5 * promo)).astype(np.float32)
    base = np.round(rng.uniform(1.0, 20.0, size=(k, 1)), 2)
    steps = np.repeat(rng.choice([0.9, 1.0, 1.1], size=(k, n_periods // 56 + 1)), 56, axis=1)[:, :n_periods]
    price = np.round(base * steps, 2).astype(np.float32)
    return demand, price, promo


def generate_file(path: Path, n_skus: int, n_periods: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    start = time.perf_counter()
    temporary = path.with_suffix(".tmp.parquet")
    days = pa.array(np.tile(START_DAY + np.arange(n_periods), BLOCK_SKUS))
    writer = None
    for index in range(-(-n_skus // BLOCK_SKUS)):
        demand, price, promo = block(index, n_skus, n_periods)
        k = demand.shape[0]
        ids = np.char.add("sku_", np.char.zfill(np.arange(index * BLOCK_SKUS, index * BLOCK_SKUS + k).astype(str), 7))
        table = pa.table({
            "sku": pa.array(np.repeat(ids, n_periods)),
            "date": days[:k * n_periods],
            "demand": demand.reshape(-1),
            "price": price.reshape(-1),
            "promo": promo.reshape(-1),
        })
        if writer is None:
            writer = pq.ParquetWriter(temporary, table.schema)
        writer.write_table(table)
    writer.close()
    temporary.replace(path)
    print(f"generated {path} ({path.stat().st_size / 1e9:.2f} GB, {n_skus * n_periods:,} rows) in "
          f"{time.perf_counter() - start:.0f} s", flush=True)


def child(case: str, features: bool, path: Path, n_skus: int, n_periods: int, calendar: list[str]) -> None:
    """One case, in this (fresh) process; prints one JSON line."""
    import torch

    from orkit.core import InventoryProblem
    from orkit.data import Dataset
    from orkit.evaluation import evaluate
    from orkit.heuristics import BaseStockPolicy

    start = time.perf_counter()
    if case == "memory":
        demand = np.empty((n_periods, n_skus), dtype=np.float32)
        feature_array = np.empty((n_skus, n_periods, 2), dtype=np.float32) if features else None
        for index in range(-(-n_skus // BLOCK_SKUS)):
            d, price, promo = block(index, n_skus, n_periods)
            rows = slice(index * BLOCK_SKUS, index * BLOCK_SKUS + d.shape[0])
            demand[:, rows] = d.T
            if features:
                feature_array[rows, :, 0] = price
                feature_array[rows, :, 1] = promo
        demand.setflags(write=False)
        if features:
            feature_array.setflags(write=False)
        prepared = time.perf_counter() - start
        start = time.perf_counter()
        dataset = Dataset(demand.T, feature_array, ("price", "promo") if features else None,
                          start_date=str(START_DAY), freq="D")
        dataset = dataset.with_calendar_features(calendar) if calendar else dataset
    else:
        prepared = 0.0
        dataset = Dataset.read(path, date="date", calendar=calendar, **({} if features else {"features": []}))
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    metrics = evaluate(BaseStockPolicy(level=12.0), dataset, InventoryProblem())
    evaluated = time.perf_counter() - start
    stored = dataset.stored_features
    print(json.dumps({"prepare_s": prepared, "load_s": loaded, "evaluate_s": evaluated,
                      "stored": f"{type(stored).__name__} {stored.nbytes / 1e9:.2f} GB",
                      "threads": torch.get_num_threads(), "shape": [dataset.n_skus, dataset.n_periods,
                                                                    dataset.n_features],
                      "metrics": {k: float(v) for k, v in metrics.items()}}), flush=True)


def run_child(case: str, features: bool, args: argparse.Namespace, path: Path) -> dict:
    command = [sys.executable, __file__, "--child", case, "--skus", str(args.skus), "--periods", str(args.periods),
               "--folder", str(args.folder)] + ([] if features else ["--features", "none"]) + \
              (["--calendar", args.calendar] if args.calendar else [])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{case} failed with status {process.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_gb"] = usage.ru_maxrss * 1024 / 1e9  # Linux reports KiB
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    return result


def allocation(n_skus: int, n_periods: int) -> None:
    """Seconds to fill a fresh (T, n) float32 array column block by column block, as the reader
    does, from numpy.zeros and from the reader's memory map."""
    from orkit.data.ingest import zeros

    values = np.ones((BLOCK_SKUS, n_periods), dtype=np.float32)
    seconds: dict[str, list[float]] = {"numpy.zeros": [], "anonymous map": []}
    for _ in range(2):
        for label, allocate in (("numpy.zeros", np.zeros), ("anonymous map", zeros)):
            start = time.perf_counter()
            array = allocate((n_periods, n_skus), np.float32)
            for first in range(0, n_skus, BLOCK_SKUS):
                block = values[:min(BLOCK_SKUS, n_skus - first)]
                array[:, first:first + block.shape[0]] = block.T
            seconds[label].append(time.perf_counter() - start)
            del array
    print(f"allocation, filling a {n_periods} x {n_skus:,} float32 array ({n_periods * n_skus * 4 / 1e9:.2f} GB): "
          + ", ".join(f"{label} {' / '.join(f'{s:.1f}' for s in runs)} s" for label, runs in seconds.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=1_000_000)
    parser.add_argument("--periods", type=int, default=365)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "orkit-bench-io")
    parser.add_argument("--features", choices=("both", "all", "none"), default="both",
                        help="cases with the two features (all), without them (none), or both")
    parser.add_argument("--calendar", default="", help="calendar features from the dates too, e.g. weekday")
    parser.add_argument("--child", choices=("memory", "parquet"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = args.folder / f"sales-{args.skus}x{args.periods}.parquet"
    if args.child:
        child(args.child, args.features != "none", path, args.skus, args.periods,
              [p for p in args.calendar.split(",") if p])
        return
    args.folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        generate_file(path, args.skus, args.periods)
    print(f"file: {path} ({path.stat().st_size / 1e9:.2f} GB); {os.cpu_count()} CPUs; each case in a fresh process")
    print(f"{'case':<22}{'load s':>8}{'evaluate s':>12}{'total s':>9}{'CPU s':>8}{'peak RSS GB':>13}  features held as")
    variants = {"both": (True, False), "all": (True,), "none": (False,)}[args.features]
    for features in variants:
        results = {case: run_child(case, features, args, path) for case in ("memory", "parquet")}
        for case, r in results.items():
            label = f"{case} ({'2 features' if features else 'no features'})"
            total = r["load_s"] + r["evaluate_s"]
            print(f"{label:<22}{r['load_s']:>8.1f}{r['evaluate_s']:>12.1f}{total:>9.1f}{r['cpu_s']:>8.1f}"
                  f"{r['peak_rss_gb']:>13.2f}  {r['stored']}")
        memory, parquet = results["memory"], results["parquet"]
        same = memory["metrics"] == parquet["metrics"]
        ratio_time = (parquet["load_s"] + parquet["evaluate_s"]) / (memory["load_s"] + memory["evaluate_s"])
        print(f"  parquet / memory: time x{ratio_time:.2f} (read + evaluate against Dataset(...) + evaluate), "
              f"peak RSS x{parquet['peak_rss_gb'] / memory['peak_rss_gb']:.2f}; same metrics: {same}; "
              f"weighted loss {parquet['metrics']['weighted_loss']:.6f}")
    allocation(args.skus, args.periods)


if __name__ == "__main__":
    main()
