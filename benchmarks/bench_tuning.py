"""Wall time of the paper's tuning protocol on DeepStock setting 1 (paper.md section 4).

The protocol: 6 cells (DS, PPO, DDPG x None, Base), each with 50 TPE trials (10 random), then
the top 5 configurations re-run with 5 seeds; the selected configuration's re-runs are the
reported cells. The script

1. times one fit of every cell with its learner's default configuration and extrapolates the
   full protocol: per cell (trials + top_k x seeds) fits;
2. with ``--run``, runs the protocol for real through ``orkit.experiments`` at the scale
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
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from orkit.core import InventoryProblem
from orkit.data import generate
from orkit.evaluation import evaluate
from orkit.experiments.config import load_study, parse_study
from orkit.experiments.registry import POLICIES, make_policy
from orkit.experiments.runner import StudyRunner

CELLS = [(learner, reg) for learner in ("ds", "ppo", "ddpg") for reg in ("none", "base")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", action="store_true", help="run the protocol for real at the given scale")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cells", default="ds,ppo,ddpg", help="learners to include (comma-separated)")
    parser.add_argument("--pruner", default="median", choices=("none", "median"),
                        help="the study's tuning.pruner in --run (the shipped study uses median)")
    parser.add_argument("--workers", type=int, default=1, help="processes in --run; the workers of the --from-run run")
    parser.add_argument("--from-run", type=Path, help="extrapolate from the setting-1 trials of a deepstock-synthetic run")
    args = parser.parse_args()
    if args.from_run:
        from_run(args.from_run, args.workers)
        return
    learners = set(args.cells.split(","))
    cells = [c for c in CELLS if c[0] in learners]

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

    if args.run:
        study = load_study("deepstock-synthetic", known_methods=set(POLICIES)).source
        document = {
            "name": "bench-tuning", "seeds": list(range(args.seeds)),
            "tuning": {"trials": args.trials, "startup_trials": min(10, args.trials), "top_k": args.top_k,
                       "pruner": args.pruner},
            "datasets": [d for d in study["datasets"] if d["name"] == "setting-1"],
            "methods": [m for m in study["methods"] if m["name"] in learners],
        }
        config = parse_study(document, known_methods=set(POLICIES))
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            StudyRunner(config, output=Path(folder), progress=False, workers=args.workers).run()
            seconds = time.perf_counter() - start
        print(f"\nmeasured: {len(config.methods)} cells x ({args.trials} trials + top-{args.top_k} x "
              f"{args.seeds} seeds) with {args.workers} worker(s) in {seconds / 60:.1f} min")


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
