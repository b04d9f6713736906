"""The ``orkit`` command line: generate data, evaluate policies, run the demo comparison.

Every error orkit raises on purpose is printed as one line (``orkit: error: ...``) without a
traceback, and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import ast
import logging
import sys
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
    policy = make_policy(args.policy, **params)
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

    d = sub.add_parser("demo", help="compare the simple policies on generated data and print the table")
    d.add_argument("--skus", type=int, default=10_000)
    d.add_argument("--periods", type=int, default=100)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
