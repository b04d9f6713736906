"""Predict-then-optimize at scale: 1,000 SKUs x 28 review periods, persistent model vs rebuild.

Runs :class:`orkit.twostage.TwoStagePolicy` end to end (forecast + scenarios + Pyomo/HiGHS
solve) inside the simulator on the contextual generator's test SKUs, twice:

- **persistent**: the Pyomo model is built once and re-solved by a persistent HiGHS instance
  with new parameter values on each review day (the default);
- **rebuild**: the model and the solver are built again on every review day.

It prints the model size, the time per review day by phase and the end-to-end ratio. Usage::

    python benchmarks/bench_twostage.py                   # 1,000 SKUs x 28 review periods
    python benchmarks/bench_twostage.py --n-skus 200 --review-periods 10   # a quick look
    python benchmarks/bench_twostage.py --milp --n-threads 1   # + pack sizes and minimum orders
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from importlib.metadata import version

import numpy as np

from orkit.core import InventoryProblem
from orkit.data import generate
from orkit.evaluation import metrics_from_ledger
from orkit.sim import simulate
from orkit.twostage import TwoStagePolicy, forecast_accuracy, model_size


def run(policy: TwoStagePolicy, test, problem: InventoryProblem) -> dict[str, float]:
    start = time.perf_counter()
    ledger = simulate(policy, test, problem, ledger="lean")
    total = time.perf_counter() - start
    log = policy.act_log_
    phase = {key: float(np.mean([row[key] for row in log])) for key in log[0] if key.endswith("seconds")}
    return {"total": total, "review_days": len(log), "loss": metrics_from_ledger(ledger)["weighted_loss"], **phase}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-skus", type=int, default=1000, help="test SKUs simulated (default 1000)")
    parser.add_argument("--review-periods", type=int, default=28, help="review days simulated (default 28)")
    parser.add_argument("--n-scenarios", type=int, default=50, help="demand scenarios per SKU (default 50)")
    parser.add_argument("--skip-rebuild", action="store_true", help="measure the persistent model only")
    parser.add_argument("--milp", action="store_true",
                        help="also run the persistent MILP: packs of 6, minimum order 12, relative gap 1e-3")
    parser.add_argument("--n-threads", type=int, default=None,
                        help="OpenMP threads of the forecaster (default: all cores; 1 on small shared machines)")
    args = parser.parse_args()

    problem = InventoryProblem(lead_time=1, review_period=2)  # DeepStock: h = 0.1, b = 0.9, backorders
    review_period = int(problem.review_period)
    n_periods = review_period * (args.review_periods + 1)  # review days t = P, 2P, ..., review_periods * P
    n_train = max(args.n_skus // 4, 50)
    dataset = generate("contextual", n_skus=2 * n_train + args.n_skus, n_periods=n_periods, seed=0,
                       split_sizes=(n_train, n_train, args.n_skus))
    train, validation, test = dataset.splits()

    print("== orkit two-stage benchmark (predict-then-optimize)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, "
          f"scikit-learn {version('scikit-learn')}, pyomo {version('pyomo')}, highspy {version('highspy')}; "
          f"forecaster OpenMP threads: {args.n_threads or 'default'}")
    print(f"data: contextual generator, {train.n_skus} train / {validation.n_skus} validation / {test.n_skus} test SKUs, "
          f"{n_periods} periods; L = {int(problem.lead_time)}, P = {review_period}, {args.n_scenarios} scenarios per SKU")

    start = time.perf_counter()
    persistent = TwoStagePolicy(n_scenarios=args.n_scenarios, n_threads=args.n_threads).fit(train, validation, problem)
    fit_seconds = time.perf_counter() - start
    accuracy = forecast_accuracy(persistent.forecaster_, test).loc["all"]
    print(f"fit (forecaster on train + residuals on validation): {fit_seconds:.2f} s; test MAE {accuracy['mae']:.3f} "
          f"(relative {accuracy['relative_mae']:.3f}), bias {accuracy['bias']:+.3f} units")

    results = {"persistent": run(persistent, test, problem)}
    size = model_size(persistent.model_)
    print(f"model: {size['variables']:,} variables, {size['constraints']:,} constraints "
          f"({test.n_skus} SKUs x {args.n_scenarios} scenarios x {review_period} counted periods, LP)")
    if not args.skip_rebuild:
        rebuild = TwoStagePolicy(n_scenarios=args.n_scenarios, n_threads=args.n_threads,
                                 persistent_model=False).fit(train, validation, problem)
        results["rebuild"] = run(rebuild, test, problem)

    if args.milp:
        milp = TwoStagePolicy(n_scenarios=args.n_scenarios, n_threads=args.n_threads, pack_size=6.0,
                              minimum_order_quantity=12.0, mip_relative_gap=1e-3).fit(train, validation, problem)
        results["persistent MILP"] = run(milp, test, problem)
        milp_size = model_size(milp.model_)
        print(f"MILP model: {milp_size['variables']:,} variables ({milp_size['integer_variables']:,} integer), "
              f"{milp_size['constraints']:,} constraints")

    print()
    print("| mode | review days | end to end [s] | per review day [s]: build | forecast | update | solve (HiGHS) | test loss |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['review_days']} | {r['total']:.1f} | {r['build_seconds']:.3f} | {r['forecast_seconds']:.3f} | "
              f"{r['update_seconds']:.3f} | {r['solve_seconds']:.3f} ({r['solver_seconds']:.3f}) | {r['loss']:.4f} |")
    if "rebuild" in results:
        p, r = results["persistent"], results["rebuild"]
        model_time = lambda x: x["build_seconds"] + x["update_seconds"] + x["solve_seconds"]  # noqa: E731
        print()
        print(f"rebuild / persistent: end to end {r['total'] / p['total']:.1f}x, "
              f"model time per review day (build + update + solve) {model_time(r) / model_time(p):.1f}x")
    print("(the first persistent review day includes the one build and the load into HiGHS)")


if __name__ == "__main__":
    main()
