"""What random lead times cost: the same runs with a fixed lead time, a one-value law and a random law.

A base-stock policy on N SKUs x 100 periods, P = 1, Poisson(10) demand, backorders, in one
process with one thread (SKU-periods per CPU-second, ``time.process_time``): the fixed lead time
``L = 2``; ``LeadTimeDistribution([2], [1.0])`` (the same dynamics through the random-lead-time
branch); and ``L`` in {1, 2, 3} with probabilities (0.25, 0.5, 0.25) (orders cross). Each row
prints its ratio against the fixed-lead-time run of the same mode, and the fixed runs' ratio
against the minimal in-place loop of benchmarks/bench_simulator.py (the yardstick of
docs/benchmarks.md). Best of three after a warm-up run that compiles.

    .venv/bin/python benchmarks/bench_random_lead_time.py [--skus N] [--periods T]
"""

from __future__ import annotations

import argparse
import time

import torch

from orkit.core import InventoryProblem, LeadTimeDistribution
from orkit.evaluation import per_sku_loss
from orkit.heuristics import BaseStockPolicy
from orkit.sim import simulate

LEVEL = 30.0 + 1.2816 * 30.0**0.5  # L + P = 3 periods of Poisson(10)


def minimal_loop(demand_tm: torch.Tensor, lead_time: int = 2) -> None:
    """The yardstick of bench_simulator.py: arrival, order-up-to, demand, in place."""
    T, n = demand_tm.shape
    on, ip, ring = torch.zeros(n), torch.zeros(n), torch.zeros(lead_time, n)
    level = torch.tensor(LEVEL)
    for t in range(T):
        slot = ring[t % lead_time]
        on.add_(slot)
        torch.clamp(level - ip, min=0, out=slot)
        ip.add_(slot).sub_(demand_tm[t])
        on.sub_(demand_tm[t])


def best_of(fn, repeats: int = 3) -> float:
    fn()  # warm-up: compiles where the mode compiles
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skus", type=int, default=1_000_000)
    parser.add_argument("--periods", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    n, T = args.skus, args.periods
    demand_tm = torch.poisson(torch.full((T, n), 10.0), generator=torch.Generator().manual_seed(0))
    demand = demand_tm.T
    problems = {
        "fixed L = 2": InventoryProblem(lead_time=2),
        "law [2] (one value)": InventoryProblem(lead_time=LeadTimeDistribution([2], [1.0])),
        "law {1, 2, 3} (crossing)": InventoryProblem(lead_time=LeadTimeDistribution([1, 2, 3], [0.25, 0.5, 0.25])),
    }

    def gradient(problem: InventoryProblem, ledger: str, fused: bool | None = None):
        def run() -> None:
            level = torch.tensor(LEVEL, requires_grad=True)
            led = simulate(BaseStockPolicy(level), demand, problem, ledger=ledger, differentiable=True, fused=fused)
            per_sku_loss(led).mean().backward()
        return run

    modes = {
        "lean (compiled blocks)": lambda p: lambda: simulate(BaseStockPolicy(LEVEL), demand, p, ledger="lean", fused=True),
        "lean, eager": lambda p: lambda: simulate(BaseStockPolicy(LEVEL), demand, p, ledger="lean", fused=False),
        "full ledger (compiled)": lambda p: lambda: simulate(BaseStockPolicy(LEVEL), demand, p, ledger="full", fused=True),
        "full ledger, eager": lambda p: lambda: simulate(BaseStockPolicy(LEVEL), demand, p, ledger="full", fused=False),
        "gradients, lean, eager": lambda p: gradient(p, "lean", fused=False),
    }
    yard = best_of(lambda: minimal_loop(demand_tm))
    print(f"torch {torch.__version__}, {n:,} SKUs x {T} periods, P = 1, backorders, one thread, best of 3")
    print(f"SKU-periods per CPU-second; minimal in-place loop (yardstick): {n * T / yard:.3g}\n")
    print(f"{'mode':26s} {'lead time':26s} {'rate':>9s} {'x fixed':>8s} {'x yard':>7s}")
    for mode, make in modes.items():
        fixed = None
        for name, problem in problems.items():
            seconds = best_of(make(problem))
            fixed = fixed or seconds
            print(f"{mode:26s} {name:26s} {n * T / seconds:9.3g} {fixed / seconds:8.2f} {yard / seconds:7.2f}", flush=True)


if __name__ == "__main__":
    main()
