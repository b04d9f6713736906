"""Zipkin's (2008) lost-sales test bed: the exact optimum and every lost-sales heuristic, exactly.

Run:  python benchmarks/lost_sales_testbed.py [--demand poisson geometric] [--lead-times 1 2 3 4]
      [--penalties 4 9 19 39] [--output results.md]

The 32 instances of Zipkin (2008, "Old and new methods for lost-sales inventory systems", Oper.
Res. 56(5)): Poisson and geometric demand with mean 5, lead time L = 1..4, lost-sales penalty
p = 4, 9, 19, 39, holding cost h = 1, review period 1. For each instance:

- the optimum g*: orkit.heuristics.solve_average_cost_dp (relative value iteration, Morton's
  bound on the state space);
- every lost-sales heuristic of orkit.heuristics, each scored *exactly* (no sampling error) by
  orkit.heuristics.evaluate_stationary_policy (the Markov chain of the policy from an empty
  system), as % above g*:
  base-stock (the best level, by exact local search), capped base-stock (the best (S, r), by
  exact coordinate search), myopic (one period), myopic-2, standard vector base-stock (SVBS),
  better vector base-stock (BVBS: the fractile of the SVBS family with the lowest exact cost,
  over the grid BetterVectorBaseStockPolicy searches by simulation), dual balancing.
  Constant order is left out: its best rate is fractional, which this integer chain cannot
  represent (orkit's simulator and ConstantOrderPolicy handle it).

Each row prints the seconds it took (DP and each heuristic); CPU seconds (time.process_time,
one thread) beside wall seconds at the end. ``--output`` writes the Markdown table.
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np
import torch

from orkit.heuristics import (
    Discrete,
    Geometric,
    Poisson,
    dual_balancing_order,
    evaluate_stationary_policy,
    myopic2_order,
    myopic_order,
    solve_average_cost_dp,
    standard_vector_base_stock_levels,
    vector_base_stock_order,
)

HEURISTICS = ("base-stock", "capped base-stock", "myopic", "myopic-2", "SVBS", "BVBS", "dual balancing")
BVBS_RATIOS = np.linspace(0.5, 0.999, 40)  # the grid of BetterVectorBaseStockPolicy (n_candidates=40)


def law_of(name: str):
    return Poisson(5.0) if name == "poisson" else Geometric(5.0)


def local_search(cost, start: tuple[int, ...], lower: tuple[int, ...]) -> tuple[tuple[int, ...], float]:
    """Coordinate descent over integer vectors (±1 moves) from ``start``; memoised ``cost``."""
    seen: dict[tuple[int, ...], float] = {}

    def f(x):
        if x not in seen:
            seen[x] = cost(x)
        return seen[x]

    best = tuple(start)
    improved = True
    while improved:
        improved = False
        for i in range(len(best)):
            for step in (-1, 1):
                x = list(best)
                x[i] += step
                x = tuple(x)
                if x[i] < lower[i]:
                    continue
                if f(x) < f(best) - 1e-12:
                    best, improved = x, True
                    while True:  # keep walking in the improving direction
                        y = list(best)
                        y[i] += step
                        y = tuple(y)
                        if y[i] < lower[i] or f(y) >= f(best) - 1e-12:
                            break
                        best = y
    return best, f(best)


def run_instance(demand: str, L: int, p: float, max_states: int, max_transitions: int) -> dict:
    law = law_of(demand)
    kw = dict(holding_cost=1.0, shortage_cost=p, lead_time=L)
    out: dict = {"demand": demand, "L": L, "p": p, "seconds": {}}
    start = time.perf_counter()
    sol = solve_average_cost_dp(law, **kw, max_states=max_states, max_transitions=max_transitions)
    out["optimum"], out["seconds"]["DP"] = sol.average_cost, time.perf_counter() - start
    out["states"] = sol.n_states
    pmf = law.truncate().pmf

    def exact(order, **extra) -> float:
        return evaluate_stationary_policy(order, law, **kw, max_states=max_states, **extra).average_cost

    mean = float(Discrete(pmf).mean)
    S_backorder = int(Discrete(pmf).sum_of(L + 1).ppf(p / (p + 1.0)))
    big = S_backorder + 10 * (L + 1) * int(math.ceil(mean)) + pmf.size

    def base_stock(level):
        return lambda x, q: torch.clamp(level - x - q.sum(1), min=0)

    def capped(level, cap):
        return lambda x, q: torch.clamp(torch.clamp(level - x - q.sum(1), min=0), max=cap)

    costs: dict[str, float] = {}
    timers = out["seconds"]

    t = time.perf_counter()
    (S,), costs["base-stock"] = local_search(lambda v: exact(base_stock(v[0]), max_inventory_position=big),
                                             (S_backorder,), (0,))
    timers["base-stock"] = time.perf_counter() - t
    t = time.perf_counter()
    _, costs["capped base-stock"] = local_search(lambda v: exact(capped(v[0], v[1]), max_inventory_position=big),
                                                 (S, int(math.ceil(mean)) + 2), (0, 1))
    timers["capped base-stock"] = time.perf_counter() - t
    for name, fn in (("myopic", myopic_order), ("myopic-2", myopic2_order), ("dual balancing", dual_balancing_order)):
        t = time.perf_counter()
        costs[name] = exact(lambda x, q, fn=fn: fn(x, q, law, **kw))
        timers[name] = time.perf_counter() - t
    t = time.perf_counter()
    svbs = standard_vector_base_stock_levels(law, **kw)
    costs["SVBS"] = exact(lambda x, q: vector_base_stock_order(x, q, svbs))
    timers["SVBS"] = time.perf_counter() - t
    t = time.perf_counter()
    tables = np.unique(np.stack([standard_vector_base_stock_levels(law, **kw, ratio=r)
                                 for r in np.append(BVBS_RATIOS, p / (p + 1.0))]), axis=0)
    costs["BVBS"] = min(exact(lambda x, q, s=s: vector_base_stock_order(x, q, s), max_inventory_position=big)
                        for s in tables)
    timers["BVBS"] = time.perf_counter() - t
    out["costs"] = costs
    return out


def markdown(rows: list[dict]) -> str:
    head = "| demand | L | p | optimum g* | " + " | ".join(HEURISTICS) + " |"
    sep = "|---" * (4 + len(HEURISTICS)) + "|"
    lines = [head, sep]
    gaps = {h: [] for h in HEURISTICS}
    for r in rows:
        cells = []
        for h in HEURISTICS:
            gap = 100.0 * (r["costs"][h] / r["optimum"] - 1.0)
            gaps[h].append(gap)
            cells.append(f"{gap:.2f}".replace("-0.00", "0.00"))
        lines.append(f"| {r['demand']} | {r['L']} | {r['p']:g} | {r['optimum']:.4f} | " + " | ".join(cells) + " |")
    lines.append("| **mean** | | | | " + " | ".join(f"**{np.mean(gaps[h]):.2f}**" for h in HEURISTICS) + " |")
    lines.append("| max | | | | " + " | ".join(f"{np.max(gaps[h]):.2f}" for h in HEURISTICS) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demand", nargs="+", default=["poisson", "geometric"], choices=["poisson", "geometric"])
    parser.add_argument("--lead-times", nargs="+", type=int, default=[1, 2, 3, 4])
    parser.add_argument("--penalties", nargs="+", type=float, default=[4.0, 9.0, 19.0, 39.0])
    parser.add_argument("--max-states", type=int, default=2_000_000)
    parser.add_argument("--max-transitions", type=int, default=60_000_000)
    parser.add_argument("--output", default=None, help="write the Markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"Zipkin's lost-sales test bed -- Python {platform.python_version()}, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}; one thread")
    wall, cpu = time.perf_counter(), time.process_time()
    rows = []
    for demand in args.demand:
        for L in args.lead_times:
            for p in args.penalties:
                r = run_instance(demand, L, p, args.max_states, args.max_transitions)
                rows.append(r)
                gaps = "  ".join(f"{h} {100 * (r['costs'][h] / r['optimum'] - 1):.2f}%" for h in HEURISTICS)
                secs = "  ".join(f"{k} {v:.1f}" for k, v in r["seconds"].items())
                print(f"{demand:<9} L={L} p={p:<4g} g*={r['optimum']:.4f} ({r['states']:,} states)  {gaps}", flush=True)
                print(f"{'':<9} seconds: {secs}", flush=True)
    table = markdown(rows)
    print()
    print(table)
    print(f"\ntotal: {time.perf_counter() - wall:.0f} s wall, {time.process_time() - cpu:.0f} s CPU")
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(table + "\n")


if __name__ == "__main__":
    main()
