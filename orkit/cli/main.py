"""The ``orkit`` command line: generate data, evaluate policies, run the demo comparison.

Every error orkit raises on purpose is printed as one line (``orkit: error: ...``) without a
traceback, and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, NoReturn, Sequence

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


class _Parser(argparse.ArgumentParser):
    """argparse with orkit's error format: one line, no usage block, exit status 2."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        hint = f" (see: orkit {command} --help)" if command else " (see: orkit --help)"
        self.exit(2, f"orkit: error: {' '.join(message.split())}{hint}\n")


def _lead_time(text: str) -> Any:
    """``--lead-time``: a whole number, or a law ``VALUE:PROBABILITY,...`` (a mapping for
    :class:`~orkit.core.InventoryProblem`, checked there)."""
    if ":" not in text:
        try:
            return int(text)
        except ValueError:
            pass
    else:
        try:
            pairs = [item.split(":") for item in text.split(",")]
            return {"values": [int(v) for v, _ in pairs], "probabilities": [float(q) for _, q in pairs]}
        except ValueError:
            pass
    raise argparse.ArgumentTypeError("must be a whole number L or a law VALUE:PROBABILITY,... "
                                     f"(e.g. 1:0.5,2:0.3,4:0.2), got {text!r}")


def _problem_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("problem")
    g.add_argument("--lead-time", type=_lead_time, default=None, metavar="L",
                   help="lead time L (default: the data's, else 1), or a random lead time drawn per order from a law "
                        "VALUE:PROBABILITY,... (e.g. 1:0.5,2:0.3,4:0.2; orders may cross, docs/concepts.md)")
    g.add_argument("--lead-time-seed", type=int, default=None, metavar="SEED",
                   help="seed of the random lead times' draws (default 0; with a law only)")
    g.add_argument("--review-period", type=int, default=None, help="review period P (default: the data's, else 1)")
    g.add_argument("--holding-cost", type=float, default=None, help="holding cost h per unit-period (0.1)")
    g.add_argument("--shortage-cost", type=float, default=None, help="shortage cost b per unit-period (0.9)")
    g.add_argument("--fixed-cost", type=float, default=None, help="fixed cost K per order placed (0)")
    g.add_argument("--lost-sales", action="store_true", help="unmet demand is lost (default: backordered)")
    g.add_argument("--max-order", type=float, default=None, help="upper bound on any order")
    g.add_argument("--warmup", type=int, default=None, help="warm-up periods (default L + P)")


def _problem(args: argparse.Namespace, metadata: dict | None, n_periods: int | None = None, data: Any = None):
    """The problem from the flags, then what the data recorded (a generated dataset records the
    problem it was made for: DeepStock L=1, P=2, max order 100), then orkit's defaults; then the
    per-SKU values of ``data``'s attributes (:meth:`InventoryProblem.with_attributes`; a flag
    for a field an attribute sets is refused).

    With ``n_periods``, a warm-up that leaves no period to score is refused here, naming the
    flags, instead of printing the perfect metrics of zero periods."""
    from orkit.core import InventoryProblem

    meta = (metadata or {}).get("problem", {}) or {}
    pick = lambda flag, key, default: flag if flag is not None else meta.get(key, default)  # noqa: E731
    if getattr(args, "lead_time_seed", None) is not None:
        if not isinstance(args.lead_time, dict):
            raise OrkitCliError("--lead-time-seed seeds a random lead time: give the law too, e.g. --lead-time "
                                f"1:0.5,2:0.5 (got --lead-time {args.lead_time})")
        args.lead_time = {**args.lead_time, "seed": args.lead_time_seed}
    problem = InventoryProblem(
        lead_time=pick(args.lead_time, "lead_time", 1),
        review_period=pick(args.review_period, "review_period", 1),
        holding_cost=pick(args.holding_cost, "holding_cost", 0.1),
        shortage_cost=pick(args.shortage_cost, "shortage_cost", 0.9),
        lost_sales=args.lost_sales or bool(meta.get("lost_sales", False)),
        warmup_periods=args.warmup,
        max_order=pick(args.max_order, "max_order", None),
        fixed_cost=pick(getattr(args, "fixed_cost", None), "fixed_cost", 0.0),
    )
    if data is not None:
        flags = {"lead_time": args.lead_time, "review_period": args.review_period, "holding_cost": args.holding_cost,
                 "shortage_cost": args.shortage_cost, "fixed_cost": getattr(args, "fixed_cost", None),
                 "max_order": args.max_order}
        try:
            problem = problem.with_attributes(data, given={k for k, v in flags.items() if v is not None})
        except ValueError as exc:
            raise OrkitCliError(" ".join(str(exc).replace("by the problem", "by a flag").split())) from None
    if n_periods is not None and not problem.per_sku:  # per-SKU timing: the simulator's check
        warmup = int(problem.warmups(1)[0])
        if warmup >= n_periods:
            what = (f"--warmup {problem.warmup_periods}" if problem.warmup_periods is not None
                    else f"the warm-up L + P = {warmup} (--lead-time {problem.lead_time}, --review-period {problem.review_period})")
            raise OrkitCliError(f"{what} must be shorter than the data's {n_periods} periods: no period would be scored")
    return problem


#: roles ``--column ROLE=NAME`` can map (``features`` and ``attributes`` take comma-separated names)
_COLUMN_ROLES = ("sku", "period", "date", "demand", "stockout", "split", "features", "attributes")


def _read_options(args: argparse.Namespace) -> dict[str, Any]:
    """:meth:`Dataset.read` options from ``--column ROLE=NAME``, ``--freq``, ``--fill-missing``,
    ``--lives``, ``--feature-role NAME=ROLE`` and ``--calendar PARTS``."""
    options: dict[str, Any] = {}
    for pair in getattr(args, "column", None) or ():
        role, sep, name = pair.partition("=")
        role, name = role.strip(), name.strip()
        if not sep or not role or not name:
            raise OrkitCliError(f"--column must look like ROLE=COLUMN (e.g. sku=item), got {pair!r}")
        if role not in _COLUMN_ROLES:
            raise OrkitCliError(f"--column role must be one of {', '.join(_COLUMN_ROLES)}, got {role!r} in {pair!r}")
        if role in options:
            raise OrkitCliError(f"--column {role}=... is given twice ({options[role]!r} and {name!r})")
        options[role] = [n.strip() for n in name.split(",") if n.strip()] if role in ("features", "attributes") else name
    for flag, key in (("freq", "freq"), ("fill_missing", "fill_missing"), ("lives", "lives")):
        if getattr(args, flag, None) is not None:
            options[key] = getattr(args, flag)
    roles = getattr(args, "feature_role", None)
    if roles:
        bad = [pair for pair in roles if "=" not in pair or not pair.partition("=")[0].strip()]
        if bad:
            raise OrkitCliError(f"--feature-role must look like NAME=ROLE (e.g. price=numeric, store=categorical, "
                                f"day=calendar:weekday), got {bad[0]!r}")
        options["feature_roles"] = list(roles)
    calendar = getattr(args, "calendar", None)
    if calendar:
        options["calendar"] = [part.strip() for part in calendar.split(",") if part.strip()]
    return options


def _fit_file(path: str, options: dict[str, Any] | None = None) -> tuple[Any, Any, str]:
    """(train, validation, one line saying which) for ``--fit FILE``: a dataset or a sales
    history read with ``options`` (the column mapping, dates, missing periods, lives), whose
    trailing rows without demand (today's) are left out, saying so."""
    from orkit.data import read_long_table
    from orkit.experiments.recommend import history_dataset

    options = options or {}
    frame = read_long_table(path, sku=options.get("sku", "sku"), split=options.get("split"))
    data, note = history_dataset(frame, **options)
    train, validation, said = _describe_fit(data, path)
    return train, validation, f"{said}; {note}" if note else said


def _describe_fit(data: Any, source: str) -> tuple[Any, Any, str]:
    """(train, validation, one line saying which) for fitting on a dataset: its train split
    (validation: its validation split, or the train split when that is empty), or all of it
    when it has no split labels."""
    from orkit.core import DataError

    if data.split is None:
        return data, data, (f"fitted on all {data.n_skus} SKUs of {source} (it has no split labels; "
                            "validation on the same SKUs)")
    train, validation, _ = data.splits()
    if train.n_skus == 0:
        raise DataError(f"{source} has no SKU labelled 'train' to fit on (labels: {_labels(data)})")
    if validation.n_skus == 0:
        return train, train, (f"fitted on the train split of {source} ({train.n_skus} SKUs; no validation split, "
                              "so validation on the same SKUs)")
    return train, validation, (f"fitted on the train split of {source} ({train.n_skus} SKUs), "
                               f"validated on its validation split ({validation.n_skus} SKUs)")


def _labels(data: Any) -> str:
    import numpy as np

    names, counts = np.unique(data.split, return_counts=True)
    return ", ".join(f"{n} {c}" for n, c in zip(names, counts))


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
    from orkit.core import DataError
    from orkit.core.policy import is_fitted
    from orkit.data import Dataset
    from orkit.evaluation import compare
    from orkit.experiments.registry import make_policy

    options = _read_options(args)
    dataset = Dataset.read(args.data, **options)
    problem = _problem(args, dataset.metadata, dataset.n_periods, data=dataset)
    params = _params(args.param, "--param")
    policy = _with_progress(make_policy(args.policy, **params), params)
    split_table = _time_split_table(args)
    if split_table is not None:
        return _evaluate_over_time(args, dataset, problem, params, split_table, options)
    args.split = args.split or "test"
    labelled = dataset
    fitted = "needs no fit (its parameters are given)" if hasattr(policy, "fit") else "needs no fit"
    if hasattr(policy, "fit") and not is_fitted(policy):
        if args.fit:
            train, validation, fitted = _fit_file(args.fit, options)
        else:
            if dataset.split is None:
                labelled = dataset.random_split((0.6, 0.2, 0.2), seed=args.seed)
                note = f"random 60/20/20 split of its SKUs, seed {args.seed}"
            else:
                note = "its split labels"
            train, validation, fitted = _describe_fit(labelled, args.data)
            fitted += f" ({note})"
        policy.fit(train, validation, problem)
    if args.split == "all":
        test, scored = dataset, f"all {dataset.n_skus} SKUs"
    elif labelled.split is None:
        test, scored = dataset, f"all {dataset.n_skus} SKUs (the data has no split labels)"
    else:
        test = dict(zip(("train", "validation", "test"), labelled.splits()))[args.split]
        if test.n_skus == 0:
            raise DataError(f"--split {args.split}: {args.data} has no SKU in that split (labels: {_labels(labelled)}); "
                            "choose another --split, or --split all")
        scored = f"the {args.split} split ({test.n_skus} SKUs)"
    table = compare({args.policy: policy}, test, problem)
    filled = dataset.metadata.get("fill_missing") if "fill_missing" in options else None
    filled = (f"; {filled['rows_added']} missing row(s) of {filled['skus']} SKU(s) filled with zero demand"
              if isinstance(filled, dict) else "")
    print(f"data:    {args.data}: {dataset.n_skus} SKUs x {dataset.n_periods} periods{filled}; scored on {scored}")
    print(f"problem: {problem.describe()}")
    print(f"policy:  {args.policy}, {fitted}\n")
    print(_format(table.drop(columns=["seconds"]).T.rename_axis("metric")))
    return 0


def _evaluate_over_time(args: argparse.Namespace, dataset: Any, problem: Any, params: dict, table: dict,
                        options: dict) -> int:
    """``orkit evaluate`` with a split over time: one row per fold and window."""
    from orkit.core.policy import is_fitted
    from orkit.evaluation import backtest
    from orkit.experiments.registry import make_policy

    for flag, value in (("--split", args.split), ("--fit", args.fit)):
        if value is not None:
            raise OrkitCliError(f"{flag} does not go with a split over time (--test-periods/--test-start/--folds): the "
                                "policy is fitted on the train window and scored on the validation and test windows")
    split = _time_split(table)
    made = make_policy(args.policy, **params)
    fits = hasattr(made, "fit") and not is_fitted(made)
    try:  # the windows on this data, before any fit
        folds = [split] if table["kind"] == "time" else split.splits(dataset)
        lines = [fold.describe(dataset) for fold in folds]
    except ValueError as exc:
        raise OrkitCliError(_flag_names(str(exc))) from None
    frame = backtest((lambda: _with_progress(make_policy(args.policy, **params), params)) if fits else made,
                     dataset, problem, split)
    filled = dataset.metadata.get("fill_missing") if "fill_missing" in options else None
    filled = (f"; {filled['rows_added']} missing row(s) of {filled['skus']} SKU(s) filled with zero demand"
              if isinstance(filled, dict) else "")
    print(f"data:    {args.data}: {dataset.n_skus} SKUs x {dataset.n_periods} periods{filled}")
    for k, line in enumerate(lines, start=1):
        print(f"{'windows' if len(lines) == 1 else f'fold {k}'}: {line}")
    print(f"problem: {problem.describe()}")
    print(f"policy:  {args.policy}, " + ("fitted on each train window; validation and test windows scored from the "
                                        "state the periods before leave\n" if fits else "needs no fit\n"))
    frame = frame.drop(columns=["fit_seconds", "start", "end"])  # the windows are described above
    shown = frame.set_index(["fold", "window"]) if len(folds) > 1 else frame.drop(columns="fold").set_index("window")
    print(_format(shown.T.rename_axis("metric")))
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


def _point(text: str | None) -> int | str | None:
    """A window boundary from the command line: a period position (digits) or a date."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _time_split_table(args: argparse.Namespace) -> dict | None:
    """The ``[split]`` table given by the split-over-time flags, or None when none is given."""
    given = {"validation": args.validation_periods, "test": args.test_periods,
             "validation_start": _point(args.validation_start), "test_start": _point(args.test_start),
             "folds": args.folds, "step": args.step}
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return None
    if args.folds is not None:
        for flag, key in (("--test-periods", "test"), ("--validation-periods", "validation")):
            if key not in given:
                raise OrkitCliError(f"--folds needs {flag} (rolling origin: k test windows of that many periods)")
        for flag, key in (("--test-start", "test_start"), ("--validation-start", "validation_start")):
            if key in given:
                raise OrkitCliError(f"{flag} does not go with --folds (each fold's windows follow from "
                                    "--test-periods, --validation-periods and --step)")
        return {"kind": "rolling", **given}
    if "step" in given:
        raise OrkitCliError("--step goes with --folds (the periods between two rolling-origin test windows)")
    if "test" not in given and "test_start" not in given:
        raise OrkitCliError("a split over time needs the test window: --test-periods N or --test-start DATE")
    if "validation" not in given and "validation_start" not in given:
        if "test" not in given:
            raise OrkitCliError("with --test-start, give the validation window too: --validation-periods N or "
                                "--validation-start DATE")
        given["validation"] = given["test"]  # as long as the test window (the flag's documented default)
    return {"kind": "time", **given}


def _time_split(table: dict):
    """The TimeSplit or RollingOrigin of a ``[split]`` table made by :func:`_time_split_table`."""
    from orkit.data import RollingOrigin, TimeSplit

    options = {k: v for k, v in table.items() if k != "kind"}
    try:
        return RollingOrigin(**options) if table["kind"] == "rolling" else TimeSplit(**options)
    except ValueError as exc:
        raise OrkitCliError(_flag_names(str(exc))) from None


def _flag_names(message: str) -> str:
    """A split error in the command line's words (``validation_start`` -> ``--validation-start``)."""
    import re

    words = {"validation_start": "--validation-start", "test_start": "--test-start", "validation": "--validation-periods",
             "test": "--test-periods", "folds": "--folds", "step": "--step"}
    return re.sub(r"\b(validation_start|test_start|validation|test|folds|step)\b(?= must| falls|=| \()",
                  lambda m: words[m.group(1)], message)


def _time_split_args(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_argument_group(f"split over time (backtest: {what})")
    g.add_argument("--test-periods", type=int, metavar="N", help="the test window: the last N periods")
    g.add_argument("--test-start", metavar="DATE", help="the test window: from this date (or period position) to the end")
    g.add_argument("--validation-periods", type=int, metavar="N",
                   help="the validation window: the N periods before the test window (default: as long as the test "
                        "window)")
    g.add_argument("--validation-start", metavar="DATE", help="the validation window: from this date (or position)")
    g.add_argument("--folds", type=int, metavar="K",
                   help="rolling origin: K test windows of --test-periods, back to back up to the end, each fold "
                        "fitted on every period before its validation window")
    g.add_argument("--step", type=int, metavar="N", help="with --folds: periods between two test windows' starts "
                   "(default --test-periods)")


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
    split = _time_split_table(args)
    if split is not None:
        overrides["split"] = split
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
    from orkit.experiments.runner import build_splits, sigterm_as_interrupt, study_name, trial_objective

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
    # the storage first: a bad URL fails before the data is built (open_study waits out the
    # race of workers starting together to create the tables)
    study = tuning.open_study(study_name(config, name, method), args.storage, config.tuning)
    splits, problem = build_splits(config, specs[name])
    # the same trial as `orkit run`'s: pruning and fit_on included; SIGTERM marks the running
    # trial interrupted (re-run by a worker) instead of leaving it RUNNING in the shared storage
    with sigterm_as_interrupt():
        tuning.tune(study, method, trial_objective(config, method, splits, problem), config.tuning)
    print(f"tuning study {study.study_name!r}: {len(study.trials)} trials in storage")
    return 0


def _output(path: str, force: bool, flag: str = "--out", suffixes: tuple[str, ...] = (".csv",)) -> Path:
    """An output path that may be written: the right suffix, a folder to write in, and never an
    existing file unless ``--force``. Checked before any work is done."""
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise OrkitCliError(f"{flag} must end in {' or '.join(suffixes)}, got {str(out)!r}")
    if out.is_dir():
        raise OrkitCliError(f"{flag} {out} is a folder; give a file name")
    if out.exists() and not force:
        raise OrkitCliError(f"{flag} {out} exists; pass --force to overwrite it")
    if out.parent.exists() and not out.parent.is_dir():
        raise OrkitCliError(f"{flag} {out}: {out.parent} is not a folder")
    return out


def _write_table(frame: Any, out: Path) -> None:
    """Write a table atomically (a temporary file renamed over ``out``): never half-written."""
    from orkit.core.files import atomic_write, atomic_write_with

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        atomic_write_with(out, lambda temporary: frame.to_parquet(temporary, index=False))
    else:
        with atomic_write(out, "w", newline="") as handle:
            frame.to_csv(handle, index=False, lineterminator="\n")


def _history(args: argparse.Namespace) -> Any:
    """The --history table (read once), or None."""
    from orkit.experiments.recommend import read_history

    if not getattr(args, "history", None):
        return None
    return read_history(args.history, sku=_read_options(args).get("sku", "sku"))


def _history_state(args: argparse.Namespace, history: Any, problem: Any):
    """Today's state built from --history, --on-hand and --open-orders (orkit state)."""
    from orkit.data.files import read_table
    from orkit.experiments.recommend import build_state

    if not args.on_hand:
        raise OrkitCliError("--history needs --on-hand FILE (columns sku, on_hand: the stock on hand now)")
    on_hand = read_table(args.on_hand, "on-hand", dtype={"sku": str})
    open_orders = read_table(args.open_orders, "open-orders", dtype={"sku": str}) if args.open_orders else None
    today = args.today
    if today is not None and today.strip().lstrip("-").isdigit():
        today = int(today)  # a period number; else a date (a dated history)
    return build_state(history, on_hand, open_orders, today=today, window=args.window, problem=problem,
                       **_read_options(args))


def _metadata(history: Any) -> dict | None:
    """What a dataset file recorded (a generated one: the problem it was made for)."""
    return None if history is None else (history.attrs.get("orkit-dataset") or {}).get("metadata")


def cmd_state(args: argparse.Namespace) -> int:
    out = _output(args.out, args.force, suffixes=(".csv", ".parquet"))
    history = _history(args)
    problem = _problem(args, _metadata(history))
    state = _history_state(args, history, problem)
    _write_table(state, out)
    lead = [c for c in state.columns if c.startswith("pipeline_")]
    print(f"wrote today's state of {len(state)} SKUs (period {int(state['period'].iloc[0])}, "
          f"{len(lead)} pipeline and {sum(c.startswith('demand_lag_') for c in state.columns)} demand-lag columns) to {out}")
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from orkit.experiments.recommend import read_state, recommend

    out = _output(args.out, args.force)
    if bool(args.state) == bool(args.history):
        raise OrkitCliError("give today's state as --state FILE, or as --history FILE with --on-hand FILE "
                            "(and --open-orders FILE)")
    if args.state and (args.on_hand or args.open_orders or args.today is not None):
        raise OrkitCliError("--on-hand, --open-orders and --today build the state from --history; "
                            "with --state they would be ignored")
    _check_read_flags(args)
    history = _history(args)
    problem = _problem(args, _metadata(history))
    state = read_state(args.state) if args.state else _history_state(args, history, problem)
    policy, problem = _policy_for_recommend(args, problem)
    table = recommend(policy, state, problem)
    _write_table(table, out)
    print(f"wrote {len(table)} orders to {out}")
    return 0


def _policy_for_recommend(args: argparse.Namespace, problem):
    """The policy (loaded, given or fitted on ``--fit``) and the problem its orders are clipped
    by (with the fit file's per-SKU max_order attribute, keyed by SKU id, where it has one)."""
    from orkit.core.policy import is_fitted
    from orkit.experiments.registry import make_policy

    if args.load:
        if args.policy or args.param or args.fit:
            raise OrkitCliError("--load FOLDER is a saved, fitted policy: --policy, --param and --fit do not apply")
        from orkit.experiments.registry import load_policy

        return load_policy(args.load), problem
    if not args.policy:
        raise OrkitCliError("give --policy NAME (with --param/--fit) or --load FOLDER")
    params = _params(args.param, "--param")
    policy = _with_progress(make_policy(args.policy, **params), params)
    if hasattr(policy, "fit") and not is_fitted(policy):
        if not args.fit:
            raise OrkitCliError(f"policy {args.policy!r} learns from data: give --fit DATASET (or all its "
                                "parameters with --param)")
        train, validation, note = _fit_file(args.fit, _read_options(args))
        print(f"{args.policy}: {note}")
        flags = {"lead_time": args.lead_time, "review_period": args.review_period, "holding_cost": args.holding_cost,
                 "shortage_cost": args.shortage_cost, "fixed_cost": args.fixed_cost, "max_order": args.max_order}
        try:  # per-SKU costs in the fit file's attributes (keyed by id; the validation SKUs need them too)
            fit_problem = problem.with_attributes(train, given={k for k, v in flags.items() if v is not None})
        except ValueError as exc:
            raise OrkitCliError(" ".join(str(exc).replace("by the problem", "by a flag").split())) from None
        policy.fit(train, validation, fit_problem)
        if fit_problem.max_order is not None and fit_problem.sku_ids is not None:
            # the fit file's per-SKU caps (keyed by its SKU ids) bound today's orders too
            problem = problem.with_(max_order=fit_problem.max_order, sku_ids=fit_problem.sku_ids)
    elif args.fit:
        raise OrkitCliError(f"--fit {args.fit}: policy {args.policy!r} has all its parameters given and learns nothing")
    return policy, problem


def _check_read_flags(args: argparse.Namespace) -> None:
    """``recommend``'s reading flags apply to ``--history FILE`` and ``--fit FILE``: refused
    without either."""
    given = [flag for flag, value in (("--column", args.column), ("--freq", args.freq),
                                      ("--fill-missing", args.fill_missing), ("--lives", args.lives),
                                      ("--feature-role", args.feature_role), ("--calendar", args.calendar)) if value]
    if given and not args.fit and not args.history:
        raise OrkitCliError(f"{', '.join(given)} describe(s) the columns of --history FILE and --fit FILE; give one, "
                            f"or leave {'them' if len(given) > 1 else 'it'} out")


def _state_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    g = p.add_argument_group("today's state from the sales history")
    g.add_argument("--history", required=required,
                   help="sales history (CSV/Parquet): sku, period, demand, features; rows for today with empty "
                   "demand give today's features")
    g.add_argument("--on-hand", required=required, help="CSV/Parquet: sku, on_hand (stock now, after today's arrivals)")
    g.add_argument("--open-orders", help="CSV/Parquet: sku, arrival (period, or date for a dated history), "
                   "quantity: orders not yet received")
    g.add_argument("--today", help="today's period, or its date for a dated history (--column date=...) (default: "
                   "the period after the last one with demand)")
    g.add_argument("--window", type=int, default=28, help="periods of past demand in the state (default 28)")


def _read_args(p: argparse.ArgumentParser, applies_to: str) -> None:
    g = p.add_argument_group(f"reading {applies_to}")
    g.add_argument("--column", action="append", metavar="ROLE=COLUMN",
                   help=f"which column plays which role (repeatable): {', '.join(_COLUMN_ROLES)}; e.g. sku=item "
                   "date=day demand=units stockout=out_of_stock features=price,promo")
    g.add_argument("--freq", choices=("D", "W"), help="daily or weekly periods of the date column (default: inferred)")
    g.add_argument("--fill-missing", choices=("zero",),
                   help="a period without a row inside a SKU's life is zero demand (default: an error)")
    g.add_argument("--lives", choices=("rows", "full"),
                   help="rows (default): a SKU exists from its first row to its last; full: over the whole range")
    g.add_argument("--feature-role", action="append", metavar="NAME=ROLE",
                   help="how a feature is used (repeatable): numeric, quantity (demand units), forecast, categorical "
                   "(or categorical:1,2,3 with its categories), calendar:PART; default numeric (docs/data.md)")
    g.add_argument("--calendar", metavar="PARTS",
                   help="calendar features from the dates, comma-separated: weekday, month, day_of_month, "
                   "week_of_year, day_of_year (e.g. --calendar weekday,month)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    e.add_argument("--split", default=None, choices=("train", "validation", "test", "all"),
                   help="trajectories to score when the data has split labels (default test)")
    e.add_argument("--seed", type=int, default=0, help="seed of the split when the data has none")
    e.add_argument("--fit", help="dataset to fit a learning policy on (its train split, or all of it when it has "
                   "no split labels; default: the data's own train split)")
    _read_args(e, "the data (and --fit FILE)")
    _time_split_args(e, "fit on the train window, score the validation and test windows from the state the "
                        "periods before leave")
    _problem_args(e)
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("run", help="run a study (a TOML file or a shipped study name) and write its report")
    r.add_argument("study", help="study file, or a shipped study: bakery-demo, bakery, quickstart, deepstock-synthetic")
    r.add_argument("--output", help="output folder (default: the study's 'output')")
    r.add_argument("--storage", help="Optuna database URL shared by several workers (default: SQLite in the output)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--workers", type=int, default=1,
                   help="processes running trials, re-runs and cells in parallel (default 1: deterministic)")
    b = r.add_argument_group("budget (overrides the study's; the result is a different study, so give it its own --output)")
    b.add_argument("--trials", type=int, help="tuning trials per (dataset, method) cell")
    b.add_argument("--top-k", type=int, help="configurations re-run with every seed")
    b.add_argument("--seeds", type=int, help="number of seeds: 0, 1, ..., N-1")
    _time_split_args(r, "replaces the study's [split]; a different study, so give it its own --output")
    r.set_defaults(func=cmd_run)

    t = sub.add_parser("tune", help="one tuning worker for one tuned method of a study (share --storage)")
    t.add_argument("study")
    t.add_argument("--method", required=True, help="the method's label in the study")
    t.add_argument("--dataset", help="the dataset's name in the study (default: the first)")
    t.add_argument("--storage", required=True, help="Optuna database URL, e.g. sqlite:///tuning.db")
    t.set_defaults(func=cmd_tune)

    c = sub.add_parser("recommend", help="order quantities per SKU from today's state (or the sales history)")
    c.add_argument("--state", help="CSV/Parquet: sku, on_hand, pipeline_1.., demand_lag_1.., period, features "
                   "(see orkit state)")
    _state_args(c)
    c.add_argument("--out", required=True, help="output CSV of orders")
    c.add_argument("--policy", help="registered policy name")
    c.add_argument("--param", action="append", metavar="NAME=VALUE")
    c.add_argument("--fit", help="dataset to fit a learning policy on (its train split, or all of it)")
    c.add_argument("--load", help="folder of a saved policy (a study's policies/<method>-seed<k>)")
    c.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    _read_args(c, "--history FILE and --fit FILE")
    _problem_args(c)
    c.set_defaults(func=cmd_recommend)

    st = sub.add_parser("state", help="today's state table per SKU from the sales history and the stock")
    _state_args(st, required=True)
    st.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    st.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    _read_args(st, "--history FILE")
    _problem_args(st)
    st.set_defaults(func=cmd_state)

    d = sub.add_parser("demo", help="compare the simple policies on generated data and print the table")
    d.add_argument("--skus", type=int, default=10_000)
    d.add_argument("--periods", type=int, default=100)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)
    return parser


def _data_parallel(args: argparse.Namespace) -> bool:
    """Under ``torchrun`` with several processes (docs/scaling-out.md), ``evaluate`` fits DS
    or PPO data-parallel; other commands are refused. True on the ranks other than 0."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return False
    if args.command != "evaluate":
        raise OrkitCliError(f"{args.command} runs in one process; under torchrun (WORLD_SIZE="
                            f"{os.environ['WORLD_SIZE']}) only evaluate (its DS or PPO fit trains data-parallel) "
                            "runs; a study spreads over workers with --workers and --storage")
    return int(os.environ.get("RANK", "0") or 0) != 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the run's report
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        if _data_parallel(args):  # started by torchrun: rank 0 prints, the others train quietly
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                return args.func(args)
        return args.func(args)
    except (OrkitError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"orkit: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder: what the system said, about which file
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"orkit: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("orkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
