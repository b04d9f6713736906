"""Benchmark of the classic heuristics: vectorised base-stock levels and the exact lost-sales DP.

Run:  python benchmarks/bench_heuristics.py [--skus 1000000] [--loop-sample 2000]

Prints
1. base-stock levels for N SKUs (normal and Poisson demand, one call each) against a scalar
   scipy loop; the loop is timed on a random subsample and extrapolated linearly to N SKUs
   (said so in the output), and its answers are checked against the vectorised ones;
2. the same for the DeepStock timing (L = 1, P = 2), where the exact level is a mixture
   quantile and the scalar loop needs a root finder (brentq) per SKU;
3. the exact average-cost DP for lost sales with Poisson(5) demand and L = 4 (h = 1,
   b in {4, 9}): state count, (state, order) pairs, iterations and solve time;
4. fixed ordering costs (``--fixed-cost-skus`` SKUs): EOQ and the power approximation, the exact
   (s, S) cost, the Zheng-Federgruen optimum and the (s, S) / (r, Q) orders, each one vectorised
   call against a scalar Python loop over SKUs (the loop timed on a subsample and extrapolated,
   its answers checked against the vectorised ones), CPU seconds (time.process_time) beside
   wall seconds;
5. the lost-sales heuristics (``--lost-sales-skus`` random integer states, Poisson(5) demand,
   L = 2, h = 1, b = 9): vector base-stock, myopic, myopic-2 and dual-balancing orders in one
   vectorised call against a scalar loop calling the same function one SKU at a time (timed on
   a subsample, extrapolated, answers checked equal), CPU seconds beside wall seconds; then
   simulated SKU-periods per second of ``MyopicPolicy`` with its per-state cache against the
   same policy recomputing every SKU every period, with base-stock as reference.

Run section 5 alone:  python benchmarks/bench_heuristics.py --only-lost-sales
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import scipy
from scipy import optimize, stats

from orkit.heuristics import (
    Normal,
    Poisson,
    RQPolicy,
    SSPolicy,
    base_stock_level,
    economic_order_quantity,
    power_approximation,
    solve_average_cost_dp,
    ss_policy_cost,
    zheng_federgruen,
)


def timed(fn, repeat: int = 3):
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def bench_levels(n: int, sample: int, rng: np.random.Generator) -> None:
    h, b, L = 0.1, 0.9, 2
    q = b / (b + h)
    mean = rng.uniform(1.0, 100.0, n)
    std = rng.uniform(0.1, 0.5, n) * mean
    idx = rng.choice(n, size=sample, replace=False)
    print(f"1. base-stock levels, {n:,} SKUs, L = {L}, P = 1, b/(b+h) = {q:.2f} (protection interval L + 1 = {L + 1})")
    print(f"   {'demand':<10}{'vectorised [s]':>16}{'scalar loop [s]':>18}{'ratio':>10}  check")
    cases = {
        "normal": (
            lambda: base_stock_level(h, b, Normal(mean, std), L),
            lambda i: stats.norm.ppf(q, loc=(L + 1) * mean[i], scale=np.sqrt(L + 1) * std[i]),
        ),
        "poisson": (
            lambda: base_stock_level(h, b, Poisson(mean), L),
            lambda i: stats.poisson.ppf(q, (L + 1) * mean[i]),
        ),
    }
    for name, (vector, scalar) in cases.items():
        t_vec, levels = timed(vector)
        start = time.perf_counter()
        loop = np.array([scalar(i) for i in idx])
        t_loop = (time.perf_counter() - start) * n / sample
        ok = np.allclose(levels[idx], loop, rtol=1e-12, atol=1e-9)
        print(f"   {name:<10}{t_vec:>16.3f}{t_loop:>18.1f}{t_loop / t_vec:>9.0f}x  {'identical' if ok else 'MISMATCH'}")
    print(f"   (scalar loop timed on {sample:,} random SKUs and extrapolated x{n / sample:,.0f}; vectorised: best of 3)")


def bench_mixture(n: int, sample: int, rng: np.random.Generator) -> None:
    h, b, L, P = 0.1, 0.9, 1, 2
    q = b / (b + h)
    mean = rng.uniform(1.0, 100.0, n)
    std = rng.uniform(0.1, 0.5, n) * mean
    idx = rng.choice(n, size=sample, replace=False)

    def scalar(i: int) -> float:
        f = lambda x: sum(stats.norm.cdf(x, (L + 1 + j) * mean[i], np.sqrt(L + 1 + j) * std[i]) for j in range(P)) / P - q  # noqa: E731
        lo = stats.norm.ppf(q, (L + 1) * mean[i], np.sqrt(L + 1) * std[i])
        hi = stats.norm.ppf(q, (L + P) * mean[i], np.sqrt(L + P) * std[i])
        return optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-14)

    t_vec, levels = timed(lambda: base_stock_level(h, b, Normal(mean, std), L, P), repeat=1)
    start = time.perf_counter()
    loop = np.array([scalar(i) for i in idx])
    t_loop = (time.perf_counter() - start) * n / sample
    gap = np.max(np.abs(levels[idx] - loop) / loop)
    print(f"2. DeepStock timing L = {L}, P = {P} (exact level = quantile of the mixture of D_2, D_3), normal, {n:,} SKUs")
    print(f"   vectorised {t_vec:.3f} s, scalar brentq loop {t_loop:.1f} s (extrapolated from {sample:,}), "
          f"ratio {t_loop / t_vec:.0f}x, max relative difference {gap:.1e}")


def bench_dp() -> None:
    print("3. exact average-cost DP, lost sales, Poisson(5) demand, L = 4, h = 1 (relative value iteration)")
    print(f"   {'b':>4}{'max IP U':>10}{'states':>10}{'(state, order)':>16}{'iterations':>12}{'time [s]':>10}{'g*':>10}")
    for b in (4.0, 9.0):
        t, sol = timed(lambda: solve_average_cost_dp(Poisson(5.0), holding_cost=1.0, shortage_cost=b, lead_time=4), repeat=1)
        print(f"   {b:>4.0f}{sol.max_inventory_position:>10}{sol.n_states:>10,}{sol.n_state_actions:>16,}"
              f"{sol.iterations:>12}{t:>10.2f}{sol.average_cost:>10.4f}")


def _clock(fn):
    """(wall seconds, CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def bench_fixed_cost(n: int, sample: int, rng: np.random.Generator) -> None:
    import math

    import torch

    from orkit.core import Observation

    torch.set_num_threads(1)
    h, p = 1.0, 9.0
    mean = rng.uniform(5.0, 50.0, n)
    std = rng.uniform(0.2, 0.5, n) * mean
    K = rng.uniform(5.0, 100.0, n)
    idx = rng.choice(n, size=min(sample, n), replace=False)
    print(f"4. fixed ordering costs, {n:,} SKUs (h = {h:g}, p = {p:g}, K ~ U(5, 100), mean demand ~ U(5, 50); "
          "one thread)")
    print(f"   {'computation':<34}{'vectorised wall/CPU [s]':>24}{'scalar loop wall/CPU [s]':>27}{'ratio (CPU)':>13}  check")

    def scalar_power(i: int) -> tuple[float, float]:
        from scipy.stats import norm

        Q = 1.30 * mean[i] ** 0.494 * (K[i] / h) ** 0.506 * (1 + std[i] ** 2 / mean[i] ** 2) ** 0.116
        z = math.sqrt(Q * h / (std[i] * p))
        s = 0.973 * mean[i] + std[i] * (0.183 / z + 1.063 - 2.192 * z)
        if Q / mean[i] <= 1.5:
            S0 = mean[i] + std[i] * norm.ppf(p / (p + h))
            return min(s, S0), min(s + Q, S0)
        return s, s + Q

    sub = rng.choice(n, size=min(n, 2000), replace=False)  # the exact methods run on a subset
    law = Poisson(np.round(mean[sub]))
    pairs = zheng_federgruen(h, p, K[sub], law)
    small = idx[: max(20, sample // 10)] % sub.size

    def run(label, vector, scalar, rows, check):
        t_wall, t_cpu, out = _clock(vector)
        l_wall, l_cpu, loop = _clock(lambda: [scalar(i) for i in rows])
        scale = (n if label[0] != "*" else sub.size) / len(rows)
        ok = check(out, loop, rows)
        print(f"   {label:<34}{t_wall:>12.3f}/{t_cpu:<11.3f}{l_wall * scale:>14.2f}/{l_cpu * scale:<12.2f}"
              f"{(l_cpu * scale) / max(t_cpu, 1e-9):>12.0f}x  {'identical' if ok else 'MISMATCH'}")

    run("EOQ", lambda: economic_order_quantity(K, h, mean).order_quantity,
        lambda i: math.sqrt(2 * K[i] * mean[i] / h), idx, lambda out, loop, rows: np.allclose(out[rows], loop, rtol=1e-12))
    run("power approximation", lambda: power_approximation(h, p, K, mean, std), scalar_power, idx,
        lambda out, loop, rows: np.allclose(np.stack(out)[:, rows].T, loop, rtol=1e-10))
    run("* exact (s, S) cost, Poisson", lambda: ss_policy_cost(pairs.reorder_point, pairs.order_up_to_level, h, p, K[sub], law),
        lambda i: float(ss_policy_cost(pairs.reorder_point[i], pairs.order_up_to_level[i], h, p, K[sub][i],
                                       Poisson(np.round(mean[sub][i])))), small,
        lambda out, loop, rows: np.allclose(out[rows], loop, rtol=1e-10))
    run("* Zheng-Federgruen optimum", lambda: zheng_federgruen(h, p, K[sub], law).cost,
        lambda i: float(zheng_federgruen(h, p, K[sub][i], Poisson(np.round(mean[sub][i]))).cost), small,
        lambda out, loop, rows: np.allclose(out[rows], loop, rtol=1e-10))
    position = torch.as_tensor(rng.integers(0, 100, n), dtype=torch.float64)
    obs = Observation(period=1, on_hand=position, inventory_position=position)
    s_levels, S_levels = np.round(mean), np.round(mean) + np.round(economic_order_quantity(K, h, mean).order_quantity)
    for name, policy, rule in [
        ("(s, S) orders", SSPolicy(s_levels, S_levels), lambda x, i: S_levels[i] - x if x <= s_levels[i] else 0.0),
        ("(r, Q) orders", RQPolicy(s_levels, S_levels - s_levels),
         lambda x, i: (S_levels[i] - s_levels[i]) * (math.floor((s_levels[i] - x) / (S_levels[i] - s_levels[i])) + 1)
         if x <= s_levels[i] else 0.0),
    ]:
        values = position.tolist()
        run(name, lambda: policy.act(obs).numpy(), lambda i: rule(values[i], i), idx,
            lambda out, loop, rows: np.allclose(out[rows], loop))
    print(f"   (scalar loops timed on {len(idx):,} random SKUs, {len(small)} for the exact methods marked *, "
          f"which run on {sub.size:,} SKUs; extrapolated linearly)")


def bench_lost_sales(n: int, sample: int, rng: np.random.Generator) -> None:
    import torch

    from orkit.core import InventoryProblem
    from orkit.heuristics import (
        BaseStockPolicy,
        MyopicPolicy,
        dual_balancing_order,
        myopic2_order,
        myopic_order,
        standard_vector_base_stock_levels,
        vector_base_stock_order,
    )
    from orkit.sim import simulate

    torch.set_num_threads(1)
    h, b, L = 1.0, 9.0, 2
    law = Poisson(5.0)
    x0 = torch.as_tensor(rng.integers(0, 12, n), dtype=torch.float64)
    pipe = torch.zeros(n, L, dtype=torch.float64)
    pipe[:, 0] = torch.as_tensor(rng.integers(0, 10, n), dtype=torch.float64)
    levels = torch.as_tensor(standard_vector_base_stock_levels(law, holding_cost=h, shortage_cost=b, lead_time=L))
    kw = dict(holding_cost=h, shortage_cost=b, lead_time=L)
    print(f"5. lost-sales heuristics, {n:,} random integer states (on-hand 0..11, a_1 0..9), Poisson(5), L = {L}, "
          f"h = {h:g}, b = {b:g}; one thread")
    print(f"   {'orders':<26}{'vectorised wall/CPU [s]':>24}{'scalar loop wall/CPU [s]':>27}{'ratio (CPU)':>13}  check")
    cases = [
        ("vector base-stock", lambda a, p: vector_base_stock_order(a, p, levels), sample),
        ("myopic", lambda a, p: myopic_order(a, p, law, **kw), sample),
        ("myopic-2", lambda a, p: myopic2_order(a, p, law, **kw), max(20, sample // 20)),
        ("dual balancing", lambda a, p: dual_balancing_order(a, p, law, **kw), max(50, sample // 4)),
    ]
    for name, order, m in cases:
        rows = rng.choice(n, size=min(m, n), replace=False)
        t_wall, t_cpu, out = _clock(lambda: order(x0, pipe))
        l_wall, l_cpu, loop = _clock(lambda: [float(order(x0[i : i + 1], pipe[i : i + 1])[0]) for i in rows])
        scale = n / len(rows)
        ok = np.array_equal(out.numpy()[rows], np.array(loop))
        print(f"   {name:<26}{t_wall:>12.3f}/{t_cpu:<11.3f}{l_wall * scale:>14.2f}/{l_cpu * scale:<12.2f}"
              f"{(l_cpu * scale) / max(t_cpu, 1e-9):>12.0f}x  {'identical' if ok else 'MISMATCH'}")
    print("   (scalar loops call the same function on one SKU at a time, timed on a random subsample and extrapolated)")

    skus, periods = 2_000, 200
    demand = torch.as_tensor(rng.poisson(5.0, size=(skus, periods)), dtype=torch.float64)
    problem = InventoryProblem(lead_time=L, review_period=1, holding_cost=h, shortage_cost=b, lost_sales=True)

    class Uncached(MyopicPolicy):
        def act(self, obs):  # every SKU, every period: what MyopicPolicy did before the cache
            return self._orders(obs.on_hand.to(torch.float64), obs.pipeline.to(torch.float64),
                                np.asarray(self.demand_pmf_)).to(obs.on_hand.dtype)

    print(f"   simulated SKU-periods per second, {skus:,} SKUs x {periods} periods (wall/CPU):")
    results = {}
    for name, policy in [("base-stock", BaseStockPolicy(float(levels[0]))),
                         ("myopic, per-state cache", MyopicPolicy(law)),
                         ("myopic, no cache", Uncached(law))]:
        if hasattr(policy, "demand_pmf"):
            policy.fit(demand, None, problem)
        wall, cpu, _ = _clock(lambda: simulate(policy, demand, problem, ledger="lean", dtype=torch.float64))
        results[name] = skus * periods / cpu
        print(f"   {name:<26}{skus * periods / wall:>14,.0f}/{skus * periods / cpu:<14,.0f}")
    print(f"   cache / no cache: {results['myopic, per-state cache'] / results['myopic, no cache']:.1f}x (CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fixed-cost-skus", type=int, default=1_000_000)
    parser.add_argument("--only-fixed-cost", action="store_true", help="run section 4 only")
    parser.add_argument("--lost-sales-skus", type=int, default=100_000)
    parser.add_argument("--only-lost-sales", action="store_true", help="run section 5 only")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"orkit heuristics benchmark -- Python {platform.python_version()}, numpy {np.__version__}, "
          f"scipy {scipy.__version__}, {platform.processor() or platform.machine()}\n")
    if args.only_fixed_cost:
        bench_fixed_cost(args.fixed_cost_skus, args.loop_sample, rng)
        return
    if args.only_lost_sales:
        bench_lost_sales(args.lost_sales_skus, args.loop_sample, rng)
        return
    bench_levels(args.skus, args.loop_sample, rng)
    print()
    bench_mixture(args.skus, max(200, args.loop_sample // 4), rng)
    print()
    bench_dp()
    print()
    bench_fixed_cost(args.fixed_cost_skus, args.loop_sample, rng)
    print()
    bench_lost_sales(args.lost_sales_skus, args.loop_sample, rng)


if __name__ == "__main__":
    main()
