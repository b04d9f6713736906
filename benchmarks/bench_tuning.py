"""Wall time of the paper's tuning protocol on DeepStock setting 1 (paper.md section 4).

The protocol: 6 cells (DS, PPO, DDPG x None, Base), each with 50 TPE trials (10 random), then
the top 5 configurations re-run with 5 seeds; the selected configuration's re-runs are the
reported cells. The script

1. times one fit of every cell with its learner's default configuration and extrapolates the
   full protocol: per cell (trials + top_k x seeds) fits;
2. or, with ``--run``, runs the protocol for real through ``orkit.experiments`` at the scale
   given (``--trials``, ``--top-k``, ``--seeds``, ``--workers``) and prints the measured wall
   time;
3. with ``--from-run FOLDER`` (the output of ``orkit run deepstock-synthetic``, any budget),
   extrapolates from the setting-1 trials that run measured instead: each cell's mean seconds
   per trial over sampled configurations (pruned trials included, as they ran, with that
   run's number of workers sharing the cores) times 50, plus its reported fits' mean seconds
   times the 25 re-runs, over the workers.

    .venv/bin/python benchmarks/bench_tuning.py                 # extrapolation only
    .venv/bin/python benchmarks/bench_tuning.py --run --trials 4 --top-k 2 --seeds 2 --workers 2
    .venv/bin/python benchmarks/bench_tuning.py --from-run runs/deepstock-synthetic --workers 2
    .venv/bin/python benchmarks/bench_tuning.py --run --workers 2 --literal-inputs --output runs/literal
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from orkit.core import InventoryProblem
from orkit.data import generate
from orkit.evaluation import evaluate
from orkit.experiments.config import PRUNERS, load_study, parse_study
from orkit.experiments.registry import POLICIES, make_policy
from orkit.experiments.runner import StudyRunner
from orkit.rl import LITERAL_INPUTS

CELLS = [(learner, reg) for learner in ("ds", "ppo", "ddpg") for reg in ("none", "base")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", action="store_true", help="run the protocol for real at the given scale")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cells", default="ds,ppo,ddpg", help="learners to include (comma-separated)")
    parser.add_argument("--pruner", choices=PRUNERS,
                        help="tuning.pruner in --run (default: the shipped deepstock-synthetic study's)")
    parser.add_argument("--output", type=Path,
                        help="keep the --run folder here (a new folder; default: a temporary one)")
    parser.add_argument("--workers", type=int, default=1, help="processes in --run; the workers of the --from-run run")
    parser.add_argument("--literal-inputs", action="store_true",
                        help="in --run: every learner sees the paper's literal inputs (the period index as one raw "
                             "number, raw units) instead of searching its inputs")
    parser.add_argument("--from-run", type=Path, help="extrapolate from the setting-1 trials of a deepstock-synthetic run")
    args = parser.parse_args()
    if args.from_run:
        from_run(args.from_run, args.workers)
        return
    learners = set(args.cells.split(","))
    cells = [c for c in CELLS if c[0] in learners]

    if not args.run:
        extrapolate(cells)
    else:
        run(args, learners)


def extrapolate(cells: list[tuple[str, str]]) -> None:
    """One fit per cell with the learner's default configuration, times the protocol's fits."""
    data = generate("deepstock-1", seed=0)
    train, validation, test = data.splits()
    problem = InventoryProblem(**data.metadata["problem"])
    fits_per_cell = 50 + 5 * 5  # the paper's protocol (the winner's re-runs are the reported cells)
    print("one fit per cell (default configuration), DeepStock setting 1:")
    print(f"{'cell':12s} {'fit [s]':>8s} {'validation':>11s}   protocol fits  extrapolated [min]")
    total = 0.0
    for learner, reg in cells:
        start = time.perf_counter()
        policy = make_policy(learner, regularization=reg, seed=0).fit(train, validation, problem)
        seconds = time.perf_counter() - start
        loss = evaluate(policy, validation, problem)["weighted_loss"]
        total += seconds * fits_per_cell
        print(f"{learner + ' ' + reg:12s} {seconds:8.1f} {loss:11.4f}   {fits_per_cell:13d}  {seconds * fits_per_cell / 60:18.1f}")
    print(f"full protocol (6 cells x (50 trials + top-5 x 5 seeds)), one worker: "
          f"{total / 60:.0f} min extrapolated (target: under 30 min)")


def run(args: argparse.Namespace, learners: set[str]) -> None:
    """The protocol for real, through orkit.experiments, at the scale given."""
    study = load_study("deepstock-synthetic", known_methods=set(POLICIES)).source
    pruner = args.pruner or study["tuning"].get("pruner", "none")
    document = {
        "name": "bench-tuning", "seeds": list(range(args.seeds)),
        "tuning": {"trials": args.trials, "startup_trials": min(10, args.trials), "top_k": args.top_k,
                   "pruner": pruner},
        "datasets": [d for d in study["datasets"] if d["name"] == "setting-1"],
        "methods": [{k: v for k, v in m.items() if k != "datasets"} for m in study["methods"]
                    if m["name"] in learners and "setting-1" in m.get("datasets", ["setting-1"])],
    }
    if args.literal_inputs:
        for method in document["methods"]:
            if method["name"] in ("ds", "ppo", "ddpg"):
                method["search"] = {k: v for k, v in method.get("search", {}).items() if k != "features"}
                method["params"] = dict(method.get("params", {}), **LITERAL_INPUTS)  # orkit.rl's
    config = parse_study(document, known_methods=set(POLICIES))
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.output or Path(scratch)
        start = time.perf_counter()
        StudyRunner(config, output=folder, progress=True, workers=args.workers).run()
        seconds = time.perf_counter() - start
        (folder / "wall_seconds.txt").write_text(f"{seconds:.1f}\n")
        print(f"\nmeasured: {len(config.methods)} cells x ({args.trials} trials + top-{args.top_k} x "
              f"{args.seeds} seeds), pruner {pruner!r}, {args.workers} worker(s): {seconds / 60:.1f} min "
              f"(target: under 30 min)")
        summary(folder, config)
        if args.output:
            from orkit.experiments.report import write_report

            print(f"report: {write_report(folder, notes=f'Wall time of this run: {seconds:.1f} s.')}")


def summary(folder: Path, config) -> None:
    """Per cell of a measured run: trials finished and pruned, trial seconds, re-run fits, the
    selected configuration's validation and test loss (mean over seeds)."""
    import optuna
    import pandas as pd

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    results = pd.read_csv(folder / "results.csv")
    storage = f"sqlite:///{folder / 'tuning.db'}"
    print(f"{'cell':10s} {'complete':>8s} {'pruned':>6s} {'trial s (sum)':>13s} {'fit s (mean)':>12s} "
          f"{'validation':>10s} {'test':>7s}")
    for method in config.methods:
        study = optuna.load_study(study_name=f"{config.name}/setting-1/{method.label}", storage=storage)
        states = [t.state for t in study.trials]
        spent = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in study.trials
                    if t.datetime_complete is not None)
        rows = results[results.label == method.label]
        print(f"{method.label:10s} {states.count(optuna.trial.TrialState.COMPLETE):8d} "
              f"{states.count(optuna.trial.TrialState.PRUNED):6d} {spent:13.0f} "
              f"{rows[rows.split == 'test'].train_seconds.mean():12.1f} "
              f"{rows[rows.split == 'validation'].loss.mean():10.4f} {rows[rows.split == 'test'].loss.mean():7.4f}")


def from_run(folder: Path, workers: int) -> None:
    """The full protocol's wall time, from the trials a deepstock-synthetic run measured."""
    import json

    import optuna
    import pandas as pd

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = f"sqlite:///{folder / 'tuning.db'}"
    results = pd.read_csv(folder / "results.csv")
    name = json.loads((folder / "study.json").read_text())["name"]
    print(f"from the setting-1 trials of {folder} ({workers} worker(s) sharing the cores):")
    print(f"{'cell':10s} {'trials':>6s} {'pruned':>6s} {'s/trial':>8s} {'s/fit (reported)':>17s} {'protocol [min]':>15s}")
    total = 0.0
    for learner, reg in CELLS:
        label = f"{learner.upper()} {reg.capitalize()}"
        study = optuna.load_study(study_name=f"{name}/setting-1/{label}", storage=storage)
        done = [t for t in study.trials if t.datetime_complete is not None
                and t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
        pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in done)
        per_trial = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done) / len(done)
        fits = results[(results.dataset == "setting-1") & (results.label == label) & (results.split == "test")]
        per_fit = float(fits.train_seconds.mean())
        minutes = (50 * per_trial + 25 * per_fit) / workers / 60
        total += minutes
        print(f"{label:10s} {len(done):6d} {pruned:6d} {per_trial:8.1f} {per_fit:17.1f} {minutes:15.1f}")
    print(f"full protocol (6 cells x (50 trials + top-5 x 5 seeds)), {workers} worker(s): "
          f"{total:.0f} min extrapolated (target: under 30 min)")


if __name__ == "__main__":
    main()
