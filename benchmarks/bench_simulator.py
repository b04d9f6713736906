"""Simulator throughput: SKU-periods per CPU-second (one thread) and per second (two threads).

A base-stock policy on 1,000,000 SKUs x 100 periods, L = 2, P = 1, Poisson(10) demand drawn
before any timing, under backorders and lost sales: lean runs (the default, which compiles
blocks of periods at this size; a policy that is not fusable, acting eagerly between compiled
periods; and everything eager), full ledgers (compiled, eager) and differentiable runs (forward plus
backward into the base-stock level; lean and full), and lean and full runs with per-SKU holding,
shortage and fixed ordering costs (backorders). Two yardsticks run in the same process:

- the **minimal loop**: an in-place torch loop that only moves stock (arrival, order-up-to,
  demand; no ledger, no policy object, no warm-up), one period at a time;
- the **minimal autograd loop**: the same dynamics out of place, plus the two running sums a
  loss needs (holding and shortage units), then ``backward``.

Every figure is the best of three runs after a warm-up run that compiles. Each thread count runs
in its own process: with one thread the figure is SKU-periods per CPU-second
(``time.process_time``, robust on a shared machine); with two, per wall-clock second. Then the
DS minibatch (10 trajectories x 31 periods, DeepStock setting 1) and the one-SKU Gymnasium env,
and the peak memory of a lean run over 1,000,000 x 365. With ``--device cuda`` the table is
measured once, per wall-clock second on the GPU.

    .venv/bin/python benchmarks/bench_simulator.py [--skus N] [--periods T] [--quick] [--device cuda]
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
LEAD_TIME = 2


def minimal_loop(demand_tm: torch.Tensor) -> None:
    """Base-stock dynamics and nothing else: arrival, order, demand. No ledger, no policy object."""
    T, n = demand_tm.shape
    zeros = lambda *shape: torch.zeros(*shape, device=demand_tm.device)  # noqa: E731
    on, ip = zeros(n), zeros(n)
    ring = zeros(LEAD_TIME, n)
    level = torch.tensor(LEVEL, device=demand_tm.device)
    for t in range(T):
        slot = ring[t % LEAD_TIME]
        on.add_(slot)
        torch.clamp(level - ip, min=0, out=slot)
        ip.add_(slot).sub_(demand_tm[t])
        on.sub_(demand_tm[t])


def minimal_autograd_loop(demand_tm: torch.Tensor) -> None:
    """The same dynamics out of place with the holding and shortage sums, then backward."""
    T, n = demand_tm.shape
    level = torch.tensor(LEVEL, requires_grad=True, device=demand_tm.device)
    on = ip = hold = short = torch.zeros(n, device=demand_tm.device)
    pipe = [on] * LEAD_TIME
    for t in range(T):
        d = demand_tm[t]
        on = on + pipe[0]
        q = (level - ip).clamp(min=0)
        pipe = pipe[1:] + [q]
        ip = ip + q - d
        on = on - d
        hold = hold + on.clamp(min=0)
        short = short - on.clamp(max=0)
    ((0.1 * hold + 0.9 * short).sum() / (n * T)).backward()


class NotFusable:
    """BaseStockPolicy's orders without its ``fusable`` declaration (as a network's or a Pyomo
    model's): the policy acts eagerly and the rest of each period is one compiled call."""

    def __init__(self, level: float) -> None:
        self.inner = BaseStockPolicy(level)

    def act(self, obs):
        return self.inner.act(obs)


def best_of(fn, repeats: int, clock) -> float:
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def wall_clock() -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


def measure(n: int, T: int, repeats: int, device: str = "cpu") -> list[dict]:
    """One process, one thread count: seconds (CPU with one thread, wall with more or on a GPU) per mode."""
    clock = time.process_time if torch.get_num_threads() == 1 and device == "cpu" else wall_clock
    demand_tm = torch.poisson(torch.full((T, n), 10.0), generator=torch.Generator().manual_seed(0)).to(device)
    demand = demand_tm.T  # (n_skus, T) view of time-major storage, as a Dataset holds it
    rows = []

    def row(name: str, kind: str, fn, warm: bool = True) -> None:
        if warm:
            fn()  # compiles where the mode compiles
        rows.append({"mode": name, "kind": kind, "seconds": best_of(fn, repeats, clock)})

    row("minimal loop (yardstick)", "-", lambda: minimal_loop(demand_tm))
    row("minimal autograd loop (yardstick)", "-", lambda: minimal_autograd_loop(demand_tm))
    for lost in (False, True):
        kind = "lost sales" if lost else "backorders"
        problem = InventoryProblem(lead_time=LEAD_TIME, review_period=1, lost_sales=lost)
        run = lambda policy=None, **kw: simulate(policy or BaseStockPolicy(LEVEL), demand, problem, **kw)  # noqa: E731

        def gradient(ledger: str, fused: bool | None = None) -> None:
            level = torch.tensor(LEVEL, requires_grad=True)
            led = simulate(BaseStockPolicy(level), demand, problem, ledger=ledger, differentiable=True, fused=fused)
            per_sku_loss(led).mean().backward()

        row("lean", kind, lambda: run(ledger="lean"))
        row("lean, policy not fusable", kind, lambda: run(NotFusable(LEVEL), ledger="lean"))
        row("lean, eager", kind, lambda: run(ledger="lean", fused=False))
        row("full ledger", kind, lambda: run(ledger="full"))
        row("full ledger, eager", kind, lambda: run(ledger="full", fused=False))
        row("gradients, lean (fwd+bwd)", kind, lambda: gradient("lean"))
        row("gradients, lean, eager", kind, lambda: gradient("lean", fused=False))
        row("gradients, full (fwd+bwd)", kind, lambda: gradient("full"))
    # per-SKU h, b and a fixed cost K charged per order (skipped on code before them: before/after runs)
    if hasattr(InventoryProblem, "fixed_costs"):
        rng = np.random.default_rng(0)
        costs = InventoryProblem(lead_time=LEAD_TIME, review_period=1, holding_cost=rng.uniform(0.05, 0.2, n),
                                 shortage_cost=rng.uniform(0.5, 2.0, n), fixed_cost=rng.uniform(0.0, 5.0, n))
        run = lambda **kw: simulate(BaseStockPolicy(LEVEL), demand, costs, **kw)  # noqa: E731
        row("lean, per-SKU h, b, K", "backorders", lambda: run(ledger="lean"))
        row("lean, eager, per-SKU h, b, K", "backorders", lambda: run(ledger="lean", fused=False))
        row("full ledger, per-SKU h, b, K", "backorders", lambda: run(ledger="full"))
    return rows


def ds_minibatch(repeats: int) -> dict:
    """CPU seconds per DS gradient step at DS's size: 10 trajectories x 31 periods of setting 1,
    the default DS network (Base), lean differentiable simulation, backward, Adam."""
    from orkit.data import generate
    from orkit.rl.ds import DSConfig, train_ds

    data = generate("deepstock-1", seed=0)
    train, validation, _ = data.splits()
    problem = InventoryProblem(**data.metadata["problem"])
    config = DSConfig(max_epochs=60, early_stopping_patience=1000, seed=0, num_threads=1)
    fit = lambda: train_ds(train, validation, problem, "base", config)  # noqa: E731
    result = fit()
    seconds = best_of(fit, repeats, time.process_time)
    return {"seconds_per_fit": seconds, "epochs": 60, "validation_loss": result.best_validation_loss}


def gym_rate(demand: np.ndarray, problem: InventoryProblem, episodes: int) -> float:
    from orkit.sim.gym_env import InventoryEnv  # gymnasium: only for this baseline

    env = InventoryEnv(demand[:episodes], problem)
    steps = 0
    start = time.process_time()
    for path in range(episodes):
        obs, _ = env.reset(options={"path": path})
        done = False
        while not done:
            ip = obs[1 + problem.lead_time]
            obs, _, terminated, truncated, _ = env.step(np.array([max(LEVEL - ip, 0.0)]))
            done = terminated or truncated
            steps += 1
    return steps / (time.process_time() - start)


def peak_memory(n: int, T: int) -> dict:
    # time-major, as a Dataset stores it; drawn period by period so that the generator's
    # temporaries do not count as the simulator's memory
    demand = torch.empty(T, n)
    rate = torch.full((n,), 10.0)
    for t in range(T):
        demand[t] = torch.poisson(rate)
    simulate(BaseStockPolicy(LEVEL), demand.T, InventoryProblem(lead_time=LEAD_TIME), ledger="lean")
    return {"demand_gb": demand.numel() * 4 / 1e9, "peak_rss_gb": peak_rss_gb()}


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


def child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skus", type=int, default=1_000_000)
    parser.add_argument("--periods", type=int, default=100)
    parser.add_argument("--memory-periods", type=int, default=365)
    parser.add_argument("--quick", action="store_true", help="100,000 SKUs, one repeat, no memory run")
    parser.add_argument("--device", default="cpu", help="where the demand (and so the simulation) lives")
    parser.add_argument("--child", choices=("measure", "ds", "gym", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.skus = 100_000
    n, T = args.skus, args.periods
    repeats = 1 if args.quick else 3
    if args.child:
        torch.set_num_threads(args.threads)
        result = {
            "measure": lambda: measure(n, T, repeats, args.device),
            "ds": lambda: ds_minibatch(repeats),
            "gym": lambda: {"rate": gym_rate(
                np.random.default_rng(0).poisson(10.0, size=(200, T)).astype(np.float64),
                InventoryProblem(lead_time=LEAD_TIME), episodes=50 if args.quick else 200)},
            "memory": lambda: peak_memory(n, args.memory_periods),
        }[args.child]()
        print(json.dumps(result))
        return

    size = ["--skus", str(n), "--periods", str(T)] + (["--quick"] if args.quick else [])
    if args.device != "cpu":
        rows = child(["--child", "measure", "--device", args.device, *size])
        print(f"torch {torch.__version__}, {torch.cuda.get_device_name(args.device)}, {n:,} SKUs x {T} periods, "
              f"L={LEAD_TIME}, P=1, best of {repeats}; SKU-periods per second")
        yard = {r["mode"]: r["seconds"] for r in rows if "yardstick" in r["mode"]}
        for r in rows:
            key = "minimal autograd loop (yardstick)" if "grad" in r["mode"] else "minimal loop (yardstick)"
            print(f"{r['mode']:34s} {r['kind']:11s} {n * T / r['seconds']:10.3g} {yard[key] / r['seconds']:7.2f}")
        return
    one = child(["--child", "measure", "--threads", "1", *size])
    two = child(["--child", "measure", "--threads", "2", *size])
    print(f"torch {torch.__version__}, {n:,} SKUs x {T} periods, L={LEAD_TIME}, P=1, best of {repeats}")
    print("1 thread: SKU-periods per CPU-second; 2 threads: SKU-periods per wall-clock second")
    print("ratios: against the minimal loop, gradient rows against the minimal autograd loop\n")
    yard = {r["mode"]: r["seconds"] for r in one if "yardstick" in r["mode"]}
    yard2 = {r["mode"]: r["seconds"] for r in two if "yardstick" in r["mode"]}
    print(f"{'mode':34s} {'demand':11s} {'1 thread':>10s} {'x yard':>7s} {'2 threads':>10s} {'x yard':>7s}")
    for a, b in zip(one, two):
        key = "minimal autograd loop (yardstick)" if "grad" in a["mode"] else "minimal loop (yardstick)"
        print(f"{a['mode']:34s} {a['kind']:11s} {n * T / a['seconds']:10.3g} {yard[key] / a['seconds']:7.2f} "
              f"{n * T / b['seconds']:10.3g} {yard2[key] / b['seconds']:7.2f}")

    ds = child(["--child", "ds", "--threads", "1"] + (["--quick"] if args.quick else []))
    print(f"\nDS, setting 1 (10 trajectories x 31 periods per minibatch, 1 minibatch per epoch), "
          f"{ds['epochs']} epochs: {ds['seconds_per_fit']:.2f} CPU-s per fit "
          f"({1e3 * ds['seconds_per_fit'] / ds['epochs']:.1f} ms per epoch), validation loss {ds['validation_loss']:.4f}")
    gym = child(["--child", "gym", "--threads", "1", "--periods", str(T)] + (["--quick"] if args.quick else []))
    print(f"Gymnasium env, one SKU: {gym['rate']:.3g} steps per CPU-second")
    if not args.quick:
        mem = child(["--child", "memory", "--skus", str(n), "--memory-periods", str(args.memory_periods)])
        print(f"lean run, {n:,} SKUs x {args.memory_periods} periods: peak RSS {mem['peak_rss_gb']:.2f} GB "
              f"(of which demand {mem['demand_gb']:.2f} GB)")


if __name__ == "__main__":
    main()
