"""The ``orkit`` command line: generate data, evaluate policies, run the demo comparison.

Every error orkit raises on purpose is printed as one line (``orkit: error: ...``) without a
traceback, and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import ast
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from orkit.core.errors import OrkitError

__all__ = ["main"]

log = logging.getLogger("orkit")


def _value(text: str) -> Any:
    """``30`` -> 30, ``[1, 2]`` -> [1, 2], ``true`` -> True, anything else stays a string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _params(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OrkitCliError(f"{flag} must look like NAME=VALUE, got {pair!r}")
        out[key.replace("-", "_")] = _value(value)
    return out


def _with_progress(policy: Any, params: dict[str, Any]) -> Any:
    """A learner that shows progress (the RL estimators' ``progress``) draws its bar when
    standard error is a terminal, unless ``--param progress=...`` says otherwise."""
    if hasattr(policy, "progress") and "progress" not in params:
        policy.progress = sys.stderr.isatty()
    return policy


class OrkitCliError(OrkitError, ValueError):
    """Bad command-line usage that argparse cannot see."""


def _problem_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("problem")
    g.add_argument("--lead-time", type=int, default=None, help="lead time L (default: the data's, else 1)")
    g.add_argument("--review-period", type=int, default=None, help="review period P (default: the data's, else 1)")
    g.add_argument("--holding-cost", type=float, default=None, help="holding cost h per unit-period (0.1)")
    g.add_argument("--shortage-cost", type=float, default=None, help="shortage cost b per unit-period (0.9)")
    g.add_argument("--lost-sales", action="store_true", help="unmet demand is lost (default: backordered)")
    g.add_argument("--max-order", type=float, default=None, help="upper bound on any order")
    g.add_argument("--warmup", type=int, default=None, help="warm-up periods (default L + P)")


def _problem(args: argparse.Namespace, dataset: Any):
    from orkit.core import InventoryProblem

    # a generated dataset records the problem it was made for (DeepStock: L=1, P=2, max order 100)
    meta = (getattr(dataset, "metadata", {}) or {}).get("problem", {})
    pick = lambda flag, key, default: flag if flag is not None else meta.get(key, default)  # noqa: E731
    return InventoryProblem(
        lead_time=pick(args.lead_time, "lead_time", 1),
        review_period=pick(args.review_period, "review_period", 1),
        holding_cost=pick(args.holding_cost, "holding_cost", 0.1),
        shortage_cost=pick(args.shortage_cost, "shortage_cost", 0.9),
        lost_sales=args.lost_sales or bool(meta.get("lost_sales", False)),
        warmup_periods=args.warmup,
        max_order=pick(args.max_order, "max_order", None),
    )


def cmd_generate(args: argparse.Namespace) -> int:
    from orkit.data import generate

    out = Path(args.out)
    if out.exists() and not args.force:
        raise OrkitCliError(f"--out {out} exists; pass --force to overwrite it")
    dataset = generate(args.setting, seed=args.seed, **_params(args.param, "--param"))
    out.parent.mkdir(parents=True, exist_ok=True)
    dataset.write(out)
    print(f"wrote {dataset.n_skus} SKUs x {dataset.n_periods} periods of {args.setting!r} to {out}")
    return 0


def _format(frame) -> str:
    import pandas as pd

    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 200):
        return frame.to_string()


def cmd_evaluate(args: argparse.Namespace) -> int:
    import pandas as pd

    from orkit.data import Dataset
    from orkit.evaluation import compare
    from orkit.experiments.registry import make_policy

    dataset = Dataset.read(args.data)
    problem = _problem(args, dataset)
    params = _params(args.param, "--param")
    policy = _with_progress(make_policy(args.policy, **params), params)
    test = dataset
    if hasattr(policy, "fit"):
        if dataset.split is None:
            dataset = dataset.random_split((0.6, 0.2, 0.2), seed=args.seed)
        train, validation, test = dataset.splits()
        policy.fit(train, validation, problem)
    elif args.split != "all" and dataset.split is not None:
        test = dict(zip(("train", "validation", "test"), dataset.splits()))[args.split]
    table = compare({args.policy: policy}, test, problem)
    print(_format(table.drop(columns=["seconds"]).T.rename_axis("metric")))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from orkit.data import generate
    from orkit.evaluation import compare
    from orkit.heuristics import BaseStockPolicy, ConstantOrderPolicy
    from orkit.core import InventoryProblem

    dataset = generate("iid-normal", n_skus=args.skus, n_periods=args.periods, seed=args.seed, mean=10.0, std=3.0)
    problem = InventoryProblem(lead_time=2, review_period=1)
    print(f"demo: {dataset.n_skus} SKUs x {dataset.n_periods} periods of N(10, 3^2) demand, L=2, P=1, "
          f"h={problem.holding_cost}, b={problem.shortage_cost}, backorders\n")
    # protection interval L + P = 3 periods: mean 30, std 3 * sqrt(3); z_0.9 = 1.2816
    optimal = 30.0 + 1.2815515655446004 * 3.0 * 3**0.5
    policies = {
        "base-stock (optimal, 36.66)": BaseStockPolicy(optimal),
        "base-stock (mean, 30)": BaseStockPolicy(30.0),
        "base-stock (too high, 45)": BaseStockPolicy(45.0),
        "constant order (10)": ConstantOrderPolicy(10.0),
    }
    table = compare(policies, dataset, problem)
    print(_format(table))
    return 0


def _load(study: str, overrides: dict | None = None):
    from orkit.experiments.config import load_study
    from orkit.experiments.registry import POLICIES

    return load_study(study, known_methods=set(POLICIES), overrides=overrides)


def _budget(args: argparse.Namespace) -> dict:
    """The study overrides given by ``orkit run --trials/--top-k/--seeds``."""
    overrides: dict = {}
    for flag, value in (("--trials", args.trials), ("--top-k", args.top_k), ("--seeds", args.seeds),
                        ("--workers", args.workers)):
        if value is not None and value < 1:
            raise OrkitCliError(f"{flag} must be at least 1, got {value}")
    tuning = {k: v for k, v in (("trials", args.trials), ("top_k", args.top_k)) if v is not None}
    if tuning:
        overrides["tuning"] = tuning
    if args.seeds is not None:
        overrides["seeds"] = list(range(args.seeds))
    return overrides


def cmd_run(args: argparse.Namespace) -> int:
    from orkit.experiments.report import summarize, write_report
    from orkit.experiments.runner import StudyRunner

    overrides = _budget(args)
    config = _load(args.study, overrides)
    runner = StudyRunner(config, output=Path(args.output) if args.output else None,
                         progress=not args.no_progress, storage=args.storage, workers=args.workers)
    start = time.perf_counter()
    try:
        rows = runner.run()
    except KeyboardInterrupt:
        print(f"orkit: interrupted; finished cells are kept in {runner.results_path}. "
              "Run the same command again to resume.", file=sys.stderr)
        return 130
    workers = f"{args.workers} workers" if args.workers and args.workers > 1 else "1 worker"
    command = "orkit " + " ".join(shlex.quote(a) for a in getattr(args, "argv", ["run", args.study]))
    report = write_report(runner.output, notes=f"Wall time of this run: {time.perf_counter() - start:.1f} s "
                                               f"({workers}, {os.cpu_count()} CPU cores).\n\nCommand: `{command}`")
    print(_format(summarize(rows)))
    print(f"\nresults: {runner.results_path}\nreport:  {report}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    """One tuning worker: several processes may share a study through --storage."""
    from orkit.experiments import tuning
    from orkit.experiments.runner import build_splits, study_name, trial_objective

    config = _load(args.study)
    methods = {m.label: m for m in config.methods if m.tuned}
    if args.method not in methods:
        raise OrkitCliError(f"--method must be one of {', '.join(sorted(methods)) or '(no tuned method)'}, "
                            f"got {args.method!r}")
    method = methods[args.method]
    specs = {d.name: d for d in config.datasets}
    name = args.dataset or config.datasets[0].name
    if name not in specs:
        raise OrkitCliError(f"--dataset must be one of {', '.join(specs)}, got {name!r}")
    splits, problem = build_splits(config, specs[name])
    study = tuning.open_study(study_name(config, name, method), args.storage, config.tuning)
    # the same trial as `orkit run`'s: pruning and fit_on included
    tuning.tune(study, method, trial_objective(config, method, splits, problem), config.tuning)
    print(f"tuning study {study.study_name!r}: {len(study.trials)} trials in storage")
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from orkit.experiments.recommend import read_state, recommend

    import pandas as pd

    out = Path(args.out)
    if out.exists() and not args.force:
        raise OrkitCliError(f"--out {out} exists; pass --force to overwrite it")
    state = read_state(args.state)
    problem = _problem(args, None)
    policy = _policy_for_recommend(args, problem)
    table: pd.DataFrame = recommend(policy, state, problem)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    print(f"wrote {len(table)} orders to {out}")
    return 0


def _policy_for_recommend(args: argparse.Namespace, problem):
    from orkit.experiments.registry import make_policy

    if args.load:
        from orkit.experiments.registry import load_policy

        return load_policy(args.load)
    if not args.policy:
        raise OrkitCliError("give --policy NAME (with --param/--fit) or --load FOLDER")
    params = _params(args.param, "--param")
    policy = _with_progress(make_policy(args.policy, **params), params)
    if hasattr(policy, "fit"):
        if not args.fit:
            raise OrkitCliError(f"policy {args.policy!r} learns from data: give --fit DATASET")
        from orkit.data import Dataset

        data = Dataset.read(args.fit)
        if data.split is None:
            data = data.random_split((0.8, 0.2, 0.0), seed=0)
        train, validation, _ = data.splits()
        policy.fit(train, validation, problem)
    return policy


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orkit",
        description="Inventory decisions: heuristics, predict-then-optimize and regularized deep RL, "
        "scored by one batched simulator.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    g = sub.add_parser("generate", help="write a generated dataset (CSV or Parquet)")
    g.add_argument("setting", help="generator name, e.g. deepstock-1, iid-normal, contextual")
    g.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--param", action="append", metavar="NAME=VALUE", help="generator parameter (repeatable)")
    g.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    g.set_defaults(func=cmd_generate)

    e = sub.add_parser("evaluate", help="evaluate a named policy on a dataset file and print its metrics")
    e.add_argument("data", help="dataset file (.csv or .parquet)")
    e.add_argument("--policy", required=True, help="policy name, e.g. base-stock, constant-order")
    e.add_argument("--param", action="append", metavar="NAME=VALUE", help="policy parameter (repeatable)")
    e.add_argument("--split", default="test", choices=("train", "validation", "test", "all"),
                   help="trajectories to score when the data has split labels (default test)")
    e.add_argument("--seed", type=int, default=0, help="seed of the split when the data has none")
    _problem_args(e)
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("run", help="run a study (a TOML file or a shipped study name) and write its report")
    r.add_argument("study", help="study file, or a shipped study: quickstart, deepstock-synthetic")
    r.add_argument("--output", help="output folder (default: the study's 'output')")
    r.add_argument("--storage", help="Optuna database URL shared by several workers (default: SQLite in the output)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--workers", type=int, default=1,
                   help="processes running trials, re-runs and cells in parallel (default 1: deterministic)")
    b = r.add_argument_group("budget (overrides the study's; the result is a different study, so give it its own --output)")
    b.add_argument("--trials", type=int, help="tuning trials per (dataset, method) cell")
    b.add_argument("--top-k", type=int, help="configurations re-run with every seed")
    b.add_argument("--seeds", type=int, help="number of seeds: 0, 1, ..., N-1")
    r.set_defaults(func=cmd_run)

    t = sub.add_parser("tune", help="one tuning worker for one tuned method of a study (share --storage)")
    t.add_argument("study")
    t.add_argument("--method", required=True, help="the method's label in the study")
    t.add_argument("--dataset", help="the dataset's name in the study (default: the first)")
    t.add_argument("--storage", required=True, help="Optuna database URL, e.g. sqlite:///tuning.db")
    t.set_defaults(func=cmd_tune)

    c = sub.add_parser("recommend", help="order quantities per SKU from today's state table")
    c.add_argument("--state", required=True, help="CSV/Parquet: sku, on_hand, pipeline_1..pipeline_L, features")
    c.add_argument("--out", required=True, help="output CSV of orders")
    c.add_argument("--policy", help="registered policy name")
    c.add_argument("--param", action="append", metavar="NAME=VALUE")
    c.add_argument("--fit", help="dataset to fit a learning policy on")
    c.add_argument("--load", help="folder of a saved policy (a study's policies/<method>-seed<k>)")
    c.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    _problem_args(c)
    c.set_defaults(func=cmd_recommend)

    d = sub.add_parser("demo", help="compare the simple policies on generated data and print the table")
    d.add_argument("--skus", type=int, default=10_000)
    d.add_argument("--periods", type=int, default=100)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the run's report
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return args.func(args)
    except (OrkitError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"orkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("orkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
