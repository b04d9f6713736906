"""Throughput of data-parallel DS training: 2 processes (torchrun, gloo) against 1 process.

DS Base on DeepStock setting 1 with many training trajectories (``--skus``, default 4096;
validation 512), large minibatches (``--batch-size``, default 512: each process simulates
its half) and a fixed number of epochs (no early stopping). Every configuration runs in a
fresh process (group) started by this script:

- the baseline, **1 process x 1 thread** (orkit's default ``num_threads=1``);
- 1 process x N threads (``num_threads=N``: the same cores, used by torch's intra-op threads);
- **N processes x 1 thread** (``torchrun --nproc-per-node N``, gloo; :mod:`orkit.rl.distributed`).

Printed per configuration: the wall seconds of the fit, the CPU seconds of all its processes
together (``time.process_time``, measured around the fit in each process, summed), the
training trajectories simulated and back-propagated per wall second, the throughput ratio to
the baseline, and the final validation loss (the same to rounding: the processes take the
one-process steps). The fit is timed after the process group is joined.

Usage::

    python benchmarks/bench_distributed.py                      # CPU, 2 processes (docs/benchmarks.md)
    python benchmarks/bench_distributed.py --skus 1024 --epochs 1   # a quick check of the script
    python benchmarks/bench_distributed.py --device cuda        # one process per GPU (NCCL), when GPUs are lent

On CUDA each process trains on its own GPU (``LOCAL_RANK``): with one GPU only the 1-process
rows run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def worker(args: argparse.Namespace) -> None:
    """One process of one configuration: fit DS, write what was measured (rank r: ``OUT.r``)."""
    import torch

    from orkit.core import InventoryProblem
    from orkit.data import generate
    from orkit.rl import DSPolicy
    from orkit.rl.distributed import current, launched

    dp = current() if launched() else None  # join the group before the clock starts
    rank = dp.rank if dp is not None else 0
    data = generate("deepstock-1", seed=0, n_train=args.skus, n_validation=args.skus // 8)
    train, validation, _ = data.splits()
    problem = InventoryProblem(**data.metadata["problem"])
    policy = DSPolicy("base", batch_size=args.batch_size, max_epochs=args.epochs, early_stopping_patience=10**6,
                      num_threads=args.threads, device=args.device, seed=0)
    if args.device == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    policy.fit(train, validation, problem)
    if args.device == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    result = {"wall": wall, "cpu": cpu, "n_train": train.n_skus, "epochs": policy.history_[-1]["epoch"],
              "validation_loss": policy.history_[-1]["validation_loss"]}
    Path(f"{args.out}.{rank}").write_text(json.dumps(result))


def run(processes: int, threads: int, args: argparse.Namespace, folder: Path) -> dict:
    """Start one configuration and gather what its processes measured."""
    out = folder / f"p{processes}-t{threads}"
    options = ["--worker", "--out", str(out), "--skus", str(args.skus), "--batch-size", str(args.batch_size),
               "--epochs", str(args.epochs), "--threads", str(threads), "--device", args.device]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if processes == 1:
        command = [sys.executable, __file__, *options]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
                   __file__, *options]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ranks = [json.loads(Path(f"{out}.{r}").read_text()) for r in range(processes)]
    wall = max(r["wall"] for r in ranks)
    return {"wall": wall, "cpu": sum(r["cpu"] for r in ranks),
            "throughput": ranks[0]["n_train"] * ranks[0]["epochs"] / wall,
            "validation_loss": ranks[0]["validation_loss"],
            "agree": len({r["validation_loss"] for r in ranks}) == 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=4096, help="training trajectories (validation: an eighth)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    import torch

    n = args.processes
    if args.device == "cuda":
        n = min(n, torch.cuda.device_count())
    configurations = [(1, 1, "1 process x 1 thread (baseline)")]
    if args.device == "cpu":
        configurations.append((1, n, f"1 process x {n} threads"))
    if n > 1:
        configurations.append((n, 1, f"{n} processes x 1 thread ({'gloo' if args.device == 'cpu' else 'NCCL'})"))
    print(f"DS Base, DeepStock setting 1: {args.skus} training trajectories, {args.skus // 8} validation, "
          f"batch {args.batch_size}, {args.epochs} epochs, {args.device}; torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        rows = [(label, run(p, t, args, Path(folder))) for p, t, label in configurations]
    base = rows[0][1]["throughput"]
    print(f"{'configuration':36s} {'wall s':>8s} {'CPU s':>8s} {'traj/s':>9s} {'ratio':>6s}  validation loss")
    for label, r in rows:
        print(f"{label:36s} {r['wall']:8.2f} {r['cpu']:8.2f} {r['throughput']:9.0f} {r['throughput'] / base:6.2f}  "
              f"{r['validation_loss']:.6f}{'' if r['agree'] else ' (ranks disagree!)'}")


if __name__ == "__main__":
    main()
