"""Throughput of data-parallel DS training: 2 processes (torchrun, gloo) against 1 process.

DS Base on DeepStock setting 1 with many training trajectories (``--skus``, default 16384;
validation an eighth), large minibatches (``--batch-size``, default 4096: each process
simulates its half) and a fixed number of epochs (no early stopping). Every configuration runs in a
fresh process (group) started by this script:

- the baseline, **1 process x 1 thread** (orkit's default ``num_threads=1``);
- 1 process x N threads (``num_threads=N``: the same cores, used by torch's intra-op threads);
- **N processes x 1 thread** (``torchrun --nproc-per-node N``, gloo; :mod:`orkit.rl.distributed`).

Printed per configuration, over the epochs after the first (each with its validation): the
wall seconds, the CPU seconds of all its processes together (``time.process_time`` in each
process, summed), the training trajectories simulated and back-propagated per wall second and
its ratio to the baseline, the baseline's CPU seconds over the busiest process's (the wall
ratio when each process has a core of its own: on a shared machine the robust figure); then the wall and CPU seconds of the whole fit (set-up, the first
validation and epoch included; the process group is joined before), and the final validation
loss (the same to rounding: the processes take the one-process steps).

Usage::

    python benchmarks/bench_distributed.py                      # CPU, 2 processes (docs/benchmarks.md)
    python benchmarks/bench_distributed.py --skus 1024 --batch-size 256 --epochs 2   # a quick check
    python benchmarks/bench_distributed.py --skus 1024 --batch-size 10   # DS's default minibatch
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
    clocks = []  # (wall, CPU) at the end of each epoch (after its validation)

    def clock(entry):
        if args.device == "cuda":
            torch.cuda.synchronize()
        clocks.append((time.perf_counter(), time.process_time()))

    policy = DSPolicy("base", batch_size=args.batch_size, max_epochs=args.epochs, early_stopping_patience=10**6,
                      num_threads=args.threads, device=args.device, seed=0, callback=clock)
    wall, cpu = time.perf_counter(), time.process_time()
    policy.fit(train, validation, problem)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    (wall_1, cpu_1), (wall_e, cpu_e) = clocks[0], clocks[-1]
    result = {"fit_wall": wall, "fit_cpu": cpu, "wall": wall_e - wall_1, "cpu": cpu_e - cpu_1,
              "trajectories": train.n_skus * (len(clocks) - 1), "validation_loss": policy.history_[-1]["validation_loss"]}
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
    return {"wall": wall, "cpu": sum(r["cpu"] for r in ranks), "cpu_slowest": max(r["cpu"] for r in ranks),
            "threads": threads, "fit_wall": max(r["fit_wall"] for r in ranks),
            "fit_cpu": sum(r["fit_cpu"] for r in ranks), "throughput": ranks[0]["trajectories"] / wall,
            "validation_loss": ranks[0]["validation_loss"],
            "agree": len({r["validation_loss"] for r in ranks}) == 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=16384, help="training trajectories (validation: an eighth)")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3, help="epochs (>= 2: the first is not timed)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error(f"--epochs must be >= 2 (epochs 2.. are timed), got {args.epochs}")
    if args.worker:
        worker(args)
        return

    import torch

    n = args.processes
    if args.device == "cuda":
        n = min(n, torch.cuda.device_count())
    if args.device == "cpu":
        configurations = [(1, 1, "1 process x 1 thread (baseline)"), (1, n, f"1 process x {n} threads"),
                          (n, 1, f"{n} processes x 1 thread (gloo)")]
    else:  # one GPU per process
        configurations = [(1, 1, "1 process, 1 GPU (baseline)")] + ([(n, 1, f"{n} processes, {n} GPUs (NCCL)")]
                                                                     if n > 1 else [])
    print(f"DS Base, DeepStock setting 1: {args.skus} training trajectories, {args.skus // 8} validation, "
          f"batch {args.batch_size}, {args.epochs} epochs, {args.device}; torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        rows = [(label, run(p, t, args, Path(folder))) for p, t, label in configurations]
    base, base_cpu = rows[0][1]["throughput"], rows[0][1]["cpu"]
    print(f"{'':36s} {'epochs 2..' + str(args.epochs):>34s}  {'whole fit':>17s}")
    print(f"{'configuration':36s} {'wall s':>7s} {'CPU s':>7s} {'traj/s':>7s} {'ratio':>5s} {'CPU r':>5s}  "
          f"{'wall s':>8s} {'CPU s':>8s}  validation loss")
    for label, r in rows:
        cpu_ratio = f"{base_cpu / r['cpu_slowest']:5.2f}" if r["threads"] == 1 else f"{'-':>5s}"
        print(f"{label:36s} {r['wall']:7.2f} {r['cpu']:7.2f} {r['throughput']:7.0f} {r['throughput'] / base:5.2f} "
              f"{cpu_ratio}  {r['fit_wall']:8.2f} {r['fit_cpu']:8.2f}  "
              f"{r['validation_loss']:.6f}{'' if r['agree'] else ' (ranks disagree!)'}")
    print("ratio: training trajectories per wall second over epochs 2.., against the baseline. CPU s: all the "
          "configuration's processes together (time.process_time). CPU r: the baseline's CPU seconds over the "
          "busiest process's, the wall ratio when every process has a core of its own (one-thread rows)")


if __name__ == "__main__":
    main()
