"""Simulator throughput: SKU-periods per second for a base-stock policy.

1,000,000 SKUs x 100 periods, L = 2, P = 1, Poisson(10) demand drawn before any timing, both
backorders and lost sales; lean (compiled blocks of periods, the compiled period step of a
policy that is not fusable, and eager), full ledger (compiled period, eager) and with gradients (forward plus backward
into the base-stock level: one compiled autograd node per period, and op by op), against the
same work done by the one-SKU Gymnasium env stepped period by period, and a minimal in-place
torch loop that only moves stock (the per-period yardstick). Then the peak memory of a lean
run over 1,000,000 x 365. Every rate is the best of three runs after a warm-up run that
compiles.

    .venv/bin/python benchmarks/bench_simulator.py [--skus N] [--periods T] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from orkit.core import InventoryProblem
from orkit.evaluation import per_sku_loss
from orkit.heuristics import BaseStockPolicy
from orkit.sim import simulate

LEVEL = 30.0 + 1.2816 * 30.0**0.5  # protection interval L + P = 3 periods of Poisson(10)


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def minimal_loop(demand_tm: torch.Tensor, lead_time: int) -> None:
    """Base-stock dynamics and nothing else: arrival, order, demand. No ledger, no policy object."""
    T, n = demand_tm.shape
    dev = demand_tm.device
    on, ip = torch.zeros(n, device=dev), torch.zeros(n, device=dev)
    ring = torch.zeros(lead_time, n, device=dev)
    level = torch.tensor(LEVEL, device=dev)
    for t in range(T):
        slot = ring[t % lead_time]
        on.add_(slot)
        torch.clamp(level - ip, min=0, out=slot)
        ip.add_(slot).sub_(demand_tm[t])
        on.sub_(demand_tm[t])


class NotFusable:
    """BaseStockPolicy's orders without its ``fusable`` flag: the per-period compiled step."""

    def __init__(self, level: float) -> None:
        self.inner = BaseStockPolicy(level)

    def act(self, obs):
        return self.inner.act(obs)


def gym_rate(demand: np.ndarray, problem: InventoryProblem, episodes: int) -> float:
    from orkit.sim.gym_env import InventoryEnv  # gymnasium: only for this baseline

    env = InventoryEnv(demand[:episodes], problem)
    steps = 0
    start = time.perf_counter()
    for path in range(episodes):
        obs, _ = env.reset(options={"path": path})
        done = False
        while not done:
            ip = obs[1 + problem.lead_time]
            obs, _, terminated, truncated, _ = env.step(np.array([max(LEVEL - ip, 0.0)]))
            done = terminated or truncated
            steps += 1
    return steps / (time.perf_counter() - start)


def peak_memory_child(n: int, T: int) -> None:
    # time-major, as a Dataset stores it; drawn period by period so that the generator's
    # temporaries do not count as the simulator's memory
    demand = torch.empty(T, n)
    rate = torch.full((n,), 10.0)
    for t in range(T):
        demand[t] = torch.poisson(rate)
    problem = InventoryProblem(lead_time=2, review_period=1)
    simulate(BaseStockPolicy(LEVEL), demand.T, problem, ledger="lean")
    print(json.dumps({"demand_gb": demand.numel() * 4 / 1e9, "peak_rss_gb": peak_rss_gb()}))


def peak_rss_gb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would carry the parent's peak
    across fork and exec on Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1e6
    except OSError:  # not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skus", type=int, default=1_000_000)
    parser.add_argument("--periods", type=int, default=100)
    parser.add_argument("--memory-periods", type=int, default=365)
    parser.add_argument("--quick", action="store_true", help="100,000 SKUs, one repeat, no memory run")
    parser.add_argument("--device", default="cpu", help="where the demand (and so the simulation) lives")
    parser.add_argument("--peak-memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory_child:
        return peak_memory_child(args.skus, args.memory_periods)
    if args.quick:
        args.skus = 100_000
    n, T = args.skus, args.periods
    repeats = 1 if args.quick else 3
    on_cpu = args.device == "cpu"
    where = f"{torch.get_num_threads()} threads" if on_cpu else torch.cuda.get_device_name(args.device)
    print(f"torch {torch.__version__}, {where}, {n:,} SKUs x {T} periods, L=2, P=1")
    demand_tm = torch.poisson(torch.full((T, n), 10.0), generator=torch.Generator().manual_seed(0)).to(args.device)
    demand = demand_tm.T  # (n_skus, T) view of time-major storage, as a Dataset holds it
    work = n * T

    start = time.perf_counter()
    for lost in (False, True):
        problem = InventoryProblem(lead_time=2, lost_sales=lost)
        simulate(BaseStockPolicy(LEVEL), demand[:, :20], problem, ledger="lean", fused=True)
    print(f"compiling the lean blocks (torch.compile, both modes): {time.perf_counter() - start:.1f} s, "
          "once per process (cached on disk)")
    start = time.perf_counter()
    for lost in (False, True):
        problem = InventoryProblem(lead_time=2, lost_sales=lost)
        level = torch.tensor(LEVEL, requires_grad=True)
        led = simulate(BaseStockPolicy(level), demand[:, :6], problem, ledger="lean", differentiable=True, fused=True)
        per_sku_loss(led).mean().backward()
    print(f"compiling the differentiable period (forward and backward, both modes): "
          f"{time.perf_counter() - start:.1f} s\n")

    rows = []
    yard = work / best_of(lambda: minimal_loop(demand_tm, 2), repeats)
    rows.append(("minimal in-place loop (yardstick)", "-", yard))
    for lost in (False, True):
        kind = "lost sales" if lost else "backorders"
        problem = InventoryProblem(lead_time=2, review_period=1, lost_sales=lost)
        run = lambda **kw: simulate(BaseStockPolicy(LEVEL), demand, problem, **kw)  # noqa: E731
        rows.append(("lean, compiled blocks", kind, work / best_of(lambda: run(ledger="lean", fused=True), repeats)))
        step = lambda: simulate(NotFusable(LEVEL), demand, problem, ledger="lean", fused=True)  # noqa: E731
        step()  # compiles the period step
        rows.append(("lean, compiled period step", kind, work / best_of(step, repeats)))
        rows.append(("lean, eager", kind, work / best_of(lambda: run(ledger="lean", fused=False), repeats)))
        run(ledger="full")  # compiles the full-ledger period
        rows.append(("full ledger, compiled period", kind, work / best_of(lambda: run(ledger="full"), repeats)))
        rows.append(("full ledger, eager", kind, work / best_of(lambda: run(ledger="full", fused=False), repeats)))

        def with_gradients(ledger: str, fused: bool | None = None):
            level = torch.tensor(LEVEL, requires_grad=True)
            led = simulate(BaseStockPolicy(level), demand, problem, ledger=ledger, differentiable=True, fused=fused)
            per_sku_loss(led).mean().backward()

        # lean: running loss sums (what DS trains through), one compiled node per period at
        # this size, or op by op; full: the whole ledger, op by op
        rows.append(("with gradients, lean (fwd+bwd)", kind,
                     work / best_of(lambda: with_gradients("lean"), repeats)))
        rows.append(("with gradients, lean op by op", kind,
                     work / best_of(lambda: with_gradients("lean", fused=False), repeats)))
        rows.append(("with gradients, full (fwd+bwd)", kind,
                     work / best_of(lambda: with_gradients("full"), repeats)))
        if on_cpu:
            gym = gym_rate(demand[:2000].numpy().astype(np.float64), problem, episodes=200 if not args.quick else 50)
            rows.append(("Gymnasium env, one SKU", kind, gym))

    gym_by_kind = {kind: rate for name, kind, rate in rows if name.startswith("Gymnasium")}
    print(f"{'mode':34s} {'demand':11s} {'SKU-periods/s':>14s} {'x Gymnasium':>12s} {'x yardstick':>12s}")
    for name, kind, rate in rows:
        ratio = f"{rate / gym_by_kind[kind]:,.0f}" if kind in gym_by_kind else "-"
        print(f"{name:34s} {kind:11s} {rate:14.3g} {ratio:>12s} {rate / yard:12.2f}")

    if not args.quick and on_cpu:
        out = subprocess.run(
            [sys.executable, __file__, "--peak-memory-child", "--skus", str(n),
             "--memory-periods", str(args.memory_periods)],
            capture_output=True, text=True, check=True,
        )
        mem = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"\nlean run, {n:,} SKUs x {args.memory_periods} periods: peak RSS {mem['peak_rss_gb']:.2f} GB "
              f"(of which demand {mem['demand_gb']:.2f} GB)")


if __name__ == "__main__":
    main()
