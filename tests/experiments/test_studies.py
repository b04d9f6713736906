"""Studies: validation that points at the key, running, resuming, tuning workers, reports."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import optuna
import pandas as pd
import pytest

from orkit.core import ConfigError, InventoryProblem
from orkit.evaluation import evaluate
from orkit.experiments import registry
from orkit.experiments.config import load_study, parse_study
from orkit.experiments.recommend import recommend
from orkit.experiments.report import write_report
from orkit.experiments.runner import StudyRunner, read_results
from orkit.heuristics import BaseStockPolicy
from testkit import TINY_STUDY, write_study

TINY = TINY_STUDY
write = write_study


@pytest.mark.parametrize(
    "patch, message",
    [
        (("seeds = [0, 1]", "seeds = [0, 0]"), "seeds: must not repeat"),
        (("lead_time = 1", "lead_time = -1"), "problem: lead_time must be >= 0, got -1"),
        (("low = 5.0, high = 15.0", "low = 15.0, high = 5.0"),
         "methods[1].search.quantity: low must be < high, got low=15.0 high=5.0"),
        (('name = "base-stock"', 'name = "nope"'), "methods[0].name: must be one of"),
        (("trials = 6", "trials = 6\nbudget = 3"), "tuning.budget: unknown key"),
        (("top_k = 2", "top_k = 9"), "tuning.top_k: must be <= tuning.trials (6), got 9"),
        (("top_k = 2", 'top_k = 2\npruner = "hyperband"'), "tuning.pruner: must be one of 'none', 'median', 'halving', got 'hyperband'"),
        (('generator = "iid-normal"', 'generator = "iid-normal"\nfile = "x.csv"'),
         "data: give exactly one of 'generator', 'dataset' or 'file', got ['generator', 'file']"),
        (('generator = "iid-normal"', 'dataset = "bakry"'),
         "data.dataset: must be one of 'bakery' (the datasets shipped with orkit), got 'bakry'"),
        (('label = "constant (tuned)"', 'label = "base 25"'), "labels must be unique"),
        (("level = 25.0", "level = 25.0, colour = 2"), "methods[0].params.colour: is not a parameter of 'base-stock'"),
        (("quantity = { low", "amount = { low"), "methods[1].search.amount: is not a parameter of 'constant-order'"),
    ],
)
def test_config_errors_point_at_the_key(tmp_path, patch, message):
    path = write(tmp_path, TINY.replace(*patch))
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_study(path, known_methods=set(registry.POLICIES))


def test_unknown_study_name_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match="neither a file nor a shipped study .*quickstart"):
        load_study("no-such-study")


def test_run_writes_results_report_and_policies(tmp_path):
    config = load_study(write(tmp_path), known_methods=set(registry.POLICIES))
    out = tmp_path / "out"
    rows = StudyRunner(config, output=out, progress=False).run()
    assert len(rows) == 2 * 2 * 3  # methods x seeds x splits
    frame = pd.read_csv(out / "results.csv")
    assert set(frame.split) == {"train", "validation", "test"}
    for column in ("method", "regularization", "split", "seed", "loss", "total_cost", "fill_rate",
                   "stockout_rate", "turnover_days", "train_seconds"):
        assert column in frame.columns
    report = write_report(out)
    text = report.read_text()
    assert "base 25" in text and "constant (tuned)" in text and "± 95% CI" in text
    for png in ("test_loss.png", "paths.png", "tuning.png"):
        assert (out / png).stat().st_size > 1000
    # every cell's policy is saved and reloads (a heuristic included) with the same orders
    saved = registry.load_policy(out / "policies" / "base-25-seed0")
    assert saved.get_params()["level"] == 25.0 and (out / "policies" / "base-25-seed0" / "policy.json").exists()
    # selection: the winner is the top-k configuration with the best mean validation loss,
    # and it beats ordering the mean demand (10) on validation
    import json

    tuning = json.loads((out / "tuning" / "constant-tuned.json").read_text())
    best = min(range(len(tuning["top"])), key=tuning["top_mean_validation"].__getitem__)
    assert tuning["selected"] == tuning["top"][best]
    chosen = json.loads(frame[frame.label == "constant (tuned)"].params.iloc[0])
    assert chosen == tuning["selected"]
    from orkit.data import generate
    from orkit.evaluation import evaluate
    from orkit.heuristics import ConstantOrderPolicy

    data = generate("iid-normal", n_skus=30, n_periods=25, mean=10.0, std=3.0, seed=4)
    data = data if data.split is not None else data.random_split((0.6, 0.2, 0.2), seed=0)
    validation = data.splits()[1]
    problem = InventoryProblem(lead_time=1, review_period=1)
    tuned_loss = frame[(frame.label == "constant (tuned)") & (frame.split == "validation")].loss.mean()
    assert tuned_loss < evaluate(ConstantOrderPolicy(10.0), validation, problem)["weighted_loss"]


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    config = load_study(write(tmp_path), known_methods=set(registry.POLICIES))
    reference = StudyRunner(config, output=tmp_path / "ref", progress=False).run()

    calls = {"n": 0}
    real = registry.resolve("constant-order")

    def interrupted(quantity=None):  # the real factory's signature: it takes no seed
        calls["n"] += 1
        if calls["n"] == 4:  # a Ctrl-C in the middle of tuning
            raise KeyboardInterrupt
        return real(quantity)

    monkeypatch.setitem(registry.POLICIES, "constant-order", interrupted)
    runner = StudyRunner(config, output=tmp_path / "run", progress=False)
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    kept = runner.finished()
    assert ("data", "base 25", 0) in kept and ("data", "base 25", 1) in kept  # finished cells survive
    monkeypatch.setitem(registry.POLICIES, "constant-order", real)
    resumed = StudyRunner(config, output=tmp_path / "run", progress=False).run()

    def key(rows):
        return sorted((r["label"], r["seed"], r["split"], round(float(r["loss"]), 10)) for r in rows)

    assert key(resumed) == key(reference)


KILLED_RUN = """
import os, signal, sys
from orkit.experiments import registry
from orkit.experiments.config import load_study
from orkit.experiments.runner import StudyRunner, read_results

real, calls = registry.resolve("constant-order"), [0]


def killed(quantity=None):  # SIGKILL in the middle of a tuning trial: no Python code runs after it
    calls[0] += 1
    if calls[0] == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(quantity)


registry.POLICIES["constant-order"] = killed
config = load_study(sys.argv[1], known_methods=set(registry.POLICIES))
StudyRunner(config, output=sys.argv[2], progress=False).run()
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_resume_after_a_killed_run_equals_an_uninterrupted_run(tmp_path, workers):
    """A run killed by SIGKILL leaves its tuning trial RUNNING in the database; the resumed run
    runs that configuration again and spends exactly the budget. With one worker it ends as an
    uninterrupted run (same trials, same rows); with two, TPE's later draws depend on the order
    in which the workers' trials finish, as in any two-worker run."""
    study_file = write(tmp_path)
    config = load_study(study_file, known_methods=set(registry.POLICIES))
    reference = StudyRunner(config, output=tmp_path / "ref", progress=False).run()

    script = tmp_path / "killed.py"
    script.write_text(KILLED_RUN)
    out = tmp_path / "run"
    killed = subprocess.run([sys.executable, str(script), str(study_file), str(out)], capture_output=True, text=True,
                            timeout=240)
    assert killed.returncode == -9, killed.stderr
    storage = f"sqlite:///{(out / 'tuning.db').resolve()}"
    name = "tiny/data/constant (tuned)"
    states = [t.state for t in optuna.load_study(study_name=name, storage=storage).trials]
    assert optuna.trial.TrialState.RUNNING in states  # what the kill left behind

    resumed = StudyRunner(config, output=out, progress=False, workers=workers).run()

    def key(rows):
        return sorted((r["label"], r["seed"], r["split"], round(float(r["loss"]), 10)) for r in rows)

    trials = optuna.load_study(study_name=name, storage=storage).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    orphan = [t for t in trials if t.user_attrs.get("orphaned")]
    assert len(complete) == config.tuning.trials and len(orphan) == 1
    assert orphan[0].params in [t.params for t in complete]  # its configuration ran again
    assert len({t.params["quantity"] for t in complete}) == len(complete)  # and no configuration twice
    assert {r["label"] for r in resumed} == {r["label"] for r in reference} and len(resumed) == len(reference)
    if workers == 1:
        assert key(resumed) == key(reference)
        ref_storage = f"sqlite:///{(tmp_path / 'ref' / 'tuning.db').resolve()}"
        ref_trials = optuna.load_study(study_name=name, storage=ref_storage).trials
        assert sorted(t.params["quantity"] for t in complete) == sorted(t.params["quantity"] for t in ref_trials)


def test_a_different_study_never_writes_into_the_folder(tmp_path):
    out = tmp_path / "out"
    first = load_study(write(tmp_path), known_methods=set(registry.POLICIES))
    StudyRunner(first, output=out, progress=False).run()
    before = (out / "results.csv").read_text()
    other = load_study(write(tmp_path, TINY.replace('name = "tiny"', 'name = "other"'), "other.toml"))
    with pytest.raises(ConfigError, match="holds the results of a different study"):
        StudyRunner(other, output=out, progress=False).run()
    assert (out / "results.csv").read_text() == before


def test_two_workers_share_one_tuning_budget(tmp_path):
    study_file = write(tmp_path, TINY.replace("trials = 6", "trials = 8"))
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    cmd = [sys.executable, "-m", "orkit", "tune", str(study_file), "--method", "constant (tuned)",
           "--storage", storage]
    workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=240)
        assert w.returncode == 0, err
    study = optuna.load_study(study_name="tiny/data/constant (tuned)", storage=storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 8  # exactly the budget, shared by both workers
    configurations = [t.params["quantity"] for t in complete]
    assert len(set(configurations)) == 8  # no trial run twice


def test_recommend_on_a_small_state_table():
    state = pd.DataFrame({"sku": ["A", "B", "C"], "on_hand": [5.0, -2.0, 40.0],
                          "pipeline_1": [3.0, 0.0, 0.0], "promo": [0.0, 1.0, 0.0]})
    problem = InventoryProblem(lead_time=2, review_period=1, max_order=20)
    table = recommend(BaseStockPolicy(30.0), state, problem)
    # inventory positions 8, -2, 40 -> orders 22 (clipped to 20), 32 (clipped to 20), 0
    assert table.order.tolist() == [20.0, 20.0, 0.0]
    assert table.sku.tolist() == ["A", "B", "C"]


def test_every_seed_reaches_factories_that_take_keywords(monkeypatch, tmp_path):
    from orkit.experiments.runner import fit_policy
    from orkit.data import generate

    seen = []

    def factory(level=20.0, **hyperparameters):
        seen.append(hyperparameters.get("seed"))
        return BaseStockPolicy(level)

    monkeypatch.setitem(registry.POLICIES, "keyword-factory", factory)
    data = generate("iid-normal", n_skus=9, n_periods=8, seed=0).random_split((0.4, 0.3, 0.3), seed=0)
    train, validation, _ = data.splits()
    for seed in (3, 4):
        fit_policy("keyword-factory", {}, seed, train, validation, InventoryProblem())
    assert seen == [3, 4]


def _tune_learning_curves(tmp_path, pruner: str, trials: int):
    """Tune TINY's constant order on toy learning curves whose level is the distance of
    `quantity` from 10 (far configurations are worse at every tenth of the budget); return the
    study, the method and the budget points (of 1000) at which trials were stopped."""
    from orkit.experiments.config import TuningSpec
    from orkit.experiments.tuning import PruningReporter, open_study, tune

    method = parse_study(tomllib.loads(TINY), known_methods=set(registry.POLICIES)).methods[1]
    tuning = TuningSpec(trials=trials, startup_trials=3, top_k=2, pruner=pruner)
    study = open_study(pruner, f"sqlite:///{tmp_path / 't.db'}", tuning)
    stopped = []

    def objective(params, trial):
        report = PruningReporter(trial, "timesteps", 1000)
        for k in range(0, 1001, 100):
            try:
                report({"timesteps": k, "validation_loss": abs(params["quantity"] - 10.0) + 1.0 - k / 2000})
            except optuna.TrialPruned:
                stopped.append(k)
                raise
        return abs(params["quantity"] - 10.0) + 0.5

    tune(study, method, objective, tuning)
    return study, method, stopped


def test_median_pruning_stops_poor_trials_within_the_same_budget(tmp_path):
    """With pruner = "median", a trial whose best validation loss at a tenth of its budget is
    worse than the median of earlier trials there is stopped; pruned trials count towards the
    budget (exactly `trials` are spent) and are never among the top configurations."""
    from orkit.experiments.tuning import top_configurations

    study, method, stopped = _tune_learning_curves(tmp_path, "median", 12)
    states = [t.state for t in study.trials]
    pruned = states.count(optuna.trial.TrialState.PRUNED)
    assert states.count(optuna.trial.TrialState.COMPLETE) + pruned == 12
    assert pruned >= 1 and all(k < 1000 for k in stopped)
    kept = {t.params["quantity"] for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert all(p["quantity"] in kept for p in top_configurations(study, method, 2))


def test_the_selected_configurations_reruns_are_the_reported_cells(tmp_path, monkeypatch):
    """The top-k re-runs fit the selected configuration with every seed already: the reported
    cells reuse those fits (same configuration, same seed, so the same policy) instead of
    fitting again; and a finished trial is its configuration's run with the tuning seed (0), so
    that re-run is not fitted again, except for the best trial's configuration (usually the
    selected one, fitted with the other re-runs). Fits: 6 trials + 2 configurations x 2 seeds
    - 1 (the runner-up's seed 0), plus 1 if the runner-up is selected, plus 2 for the fixed
    method."""
    from orkit.experiments import runner as runner_mod

    calls = []
    real = runner_mod.fit_policy

    def counting(name, params, seed, *args, **kwargs):
        calls.append((name, seed))
        return real(name, params, seed, *args, **kwargs)

    monkeypatch.setattr(runner_mod, "fit_policy", counting)
    config = load_study(write(tmp_path, TINY.replace('name = "tiny"', 'name = "tiny"\noutput = "out"')),
                        known_methods=set(registry.POLICIES))
    rows = StudyRunner(config, output=tmp_path / "out", progress=False).run()
    import json

    summary = json.loads((tmp_path / "out" / "tuning" / "constant-tuned.json").read_text())
    runner_up_selected = summary["selected"] != summary["top"][0]
    assert sum(1 for name, _ in calls if name == "constant-order") == 6 + 2 * 2 - 1 + runner_up_selected
    assert sum(1 for name, seed in calls if name == "constant-order" and seed == 1) == 2
    assert sum(1 for name, _ in calls if name == "base-stock") == 2
    tests = [r for r in rows if r["split"] == "test" and r["label"] == "constant (tuned)"]
    assert sorted(int(r["seed"]) for r in tests) == [0, 1]


def test_reused_trial_losses_equal_fresh_reruns(tmp_path):
    """The mean validation losses the selection used (trial losses for seed 0, re-runs for
    seed 1) equal those of fitting every top configuration with every seed afresh."""
    import json
    import statistics

    from orkit.experiments.runner import _fit_splits, build_splits, fit_policy

    config = load_study(write(tmp_path, TINY.replace('name = "tiny"', 'name = "tiny"\noutput = "out"')),
                        known_methods=set(registry.POLICIES))
    StudyRunner(config, output=tmp_path / "out", progress=False).run()
    summary = json.loads((tmp_path / "out" / "tuning" / "constant-tuned.json").read_text())
    method = next(m for m in config.methods if m.tuned)
    splits, problem = build_splits(config, config.datasets[0])
    fresh = []
    for params in summary["top"]:
        losses = []
        for seed in config.seeds:
            policy, _ = fit_policy(method.name, params, seed, *_fit_splits(method, splits), problem)
            losses.append(evaluate(policy, splits["validation"], problem)["weighted_loss"])
        fresh.append(statistics.fmean(losses))
    assert summary["top_mean_validation"] == pytest.approx(fresh, rel=1e-12)


def test_parallel_workers_finish_the_study_with_the_same_cells(tmp_path):
    """`workers=2`: every cell is written once, the tuning budget is spent exactly (no trial run
    twice), the untuned cells equal a one-process run's, and the tuned cells' configuration is
    the best of its re-runs on validation."""
    import json

    config = load_study(write(tmp_path), known_methods=set(registry.POLICIES))
    serial = StudyRunner(config, output=tmp_path / "serial", progress=False).run()
    out = tmp_path / "parallel"
    rows = StudyRunner(config, output=out, progress=False, workers=2).run()
    assert sorted((r["label"], r["seed"], r["split"]) for r in rows) == sorted(
        (r["label"], r["seed"], r["split"]) for r in serial)

    def losses(rows, label):
        return sorted((r["seed"], r["split"], round(float(r["loss"]), 10)) for r in rows if r["label"] == label)

    assert losses(rows, "base 25") == losses(serial, "base 25")
    study = optuna.load_study(study_name="tiny/data/constant (tuned)", storage=f"sqlite:///{out / 'tuning.db'}")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 6 and len({t.params["quantity"] for t in complete}) == 6
    tuning = json.loads((out / "tuning" / "constant-tuned.json").read_text())
    best = min(range(len(tuning["top"])), key=tuning["top_mean_validation"].__getitem__)
    assert tuning["selected"] == tuning["top"][best]
    chosen = {json.loads(r["params"])["quantity"] for r in rows if r["label"] == "constant (tuned)"}
    assert chosen == {tuning["selected"]["quantity"]}
    reloaded = registry.load_policy(out / "policies" / "constant-tuned-seed1")
    assert reloaded.quantity_ == pytest.approx(tuning["selected"]["quantity"])
    # a second run finds everything finished and fits nothing
    again = StudyRunner(config, output=out, progress=False, workers=2).run()
    assert len(again) == len(rows)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_workers_must_be_a_positive_whole_number(workers, tmp_path):
    config = load_study(write(tmp_path), known_methods=set(registry.POLICIES))
    with pytest.raises(ConfigError, match=f"workers must be a whole number >= 1, got {workers!r}"):
        StudyRunner(config, output=tmp_path / "out", workers=workers)


def test_fit_on_test_is_the_in_sample_bound(tmp_path):
    """`fit_on = "test"` fits (and selects) on the test split: a base stock fitted that way is
    the base stock fitted on the test data directly, and it scores at least as well on test as
    the one fitted on train (it minimises the test loss over its one level)."""
    text = TINY.replace('[[methods]]\nname = "constant-order"', '''[[methods]]
name = "base-stock"
label = "in-sample"
fit_on = "test"

[[methods]]
name = "base-stock"
label = "fitted"

[[methods]]
name = "constant-order"''')
    config = load_study(write(tmp_path, text), known_methods=set(registry.POLICIES))
    assert [m.fit_on for m in config.methods][:3] == ["train", "test", "train"]
    rows = StudyRunner(config, output=tmp_path / "out", progress=False).run()
    from orkit.data import generate
    from orkit.evaluation import evaluate

    data = generate("iid-normal", n_skus=30, n_periods=25, mean=10.0, std=3.0, seed=4)
    data = data if data.split is not None else data.random_split((0.6, 0.2, 0.2), seed=0)
    _, _, test = data.splits()
    problem = InventoryProblem(lead_time=1, review_period=1)
    direct = evaluate(BaseStockPolicy().fit(test, test, problem), test, problem)["weighted_loss"]

    def test_loss(label):
        return next(float(r["loss"]) for r in rows if r["label"] == label and r["split"] == "test" and r["seed"] == "0")

    assert test_loss("in-sample") == pytest.approx(direct, rel=1e-12)
    assert test_loss("in-sample") <= test_loss("fitted") + 1e-9
    with pytest.raises(ConfigError, match=r"methods\[1\].fit_on: must be 'train' or 'test' \(an in-sample bound\), got 'all'"):
        load_study(write(tmp_path, text.replace('fit_on = "test"', 'fit_on = "all"'), "bad.toml"),
                   known_methods=set(registry.POLICIES))


def test_budget_overrides_make_a_different_study(tmp_path):
    path = write(tmp_path)
    config = load_study(path, known_methods=set(registry.POLICIES))
    smaller = load_study(path, known_methods=set(registry.POLICIES),
                         overrides={"tuning": {"trials": 4}, "seeds": [0]})
    assert smaller.tuning.trials == 4 and smaller.tuning.top_k == config.tuning.top_k
    assert smaller.seeds == (0,) and smaller.fingerprint != config.fingerprint
    out = tmp_path / "out"
    StudyRunner(config, output=out, progress=False).run()
    with pytest.raises(ConfigError, match="holds the results of a different study"):
        StudyRunner(smaller, output=out, progress=False).run()


def test_an_interrupted_trial_is_queued_again_once():
    """Two workers resuming together must not both re-run a Ctrl-C'd configuration."""
    from orkit.experiments.tuning import requeue_interrupted

    study = optuna.create_study()
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    trial.set_user_attr("interrupted", True)
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    assert requeue_interrupted(study) == 1
    assert requeue_interrupted(study) == 0  # the second worker sees it queued
    waiting = [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
    assert len(waiting) == 1 and waiting[0].system_attrs["fixed_params"] == study.trials[0].params
    taken = study.ask()  # a worker takes it: RUNNING, its params not suggested yet
    assert taken.params == {} and study.trials[-1].state == optuna.trial.TrialState.RUNNING
    assert requeue_interrupted(study) == 0  # another worker must not queue it again


def test_saved_rl_policies_carry_their_training_history(tmp_path):
    """DDPG's critic loss at every evaluation is kept next to the policy (the paper compares
    it between None and Base)."""
    text = """
    name = "history"
    seeds = [0]
    [[datasets]]
    name = "s1"
    generator = "deepstock-1"
    params = { seed = 0 }
    [[methods]]
    name = "ddpg"
    label = "DDPG Base"
    params = { regularization = "base", total_timesteps = 600, learning_starts = 100, eval_every = 200 }
    """
    config = load_study(write(tmp_path, text), known_methods=set(registry.POLICIES))
    StudyRunner(config, output=tmp_path / "out", progress=False).run()
    history = pd.read_csv(tmp_path / "out" / "policies" / "DDPG-Base-seed0" / "history.csv")
    assert {"timesteps", "validation_loss", "critic_loss"} <= set(history.columns)
    assert history.timesteps.iloc[-1] >= 600 and history.critic_loss.notna().any()
    # the report draws the curve (validation loss against training seconds)
    text = write_report(tmp_path / "out").read_text()
    assert "## Training curves" in text and "(training.png)" in text
    assert (tmp_path / "out" / "training.png").stat().st_size > 1000


def test_training_plot_has_one_panel_per_dataset_and_skips_heuristics(tmp_path):
    from orkit.experiments.report import _plot_training, training_curves

    for cell, losses in (("s1-DS-Base-seed0", [2.0, 1.5, 1.2]), ("s1-DS-Base-seed1", [2.1, 1.4]),
                         ("s10-PPO-None-seed0", [3.0, 80.0, 1.1])):
        (tmp_path / "policies" / cell).mkdir(parents=True)
        pd.DataFrame({"seconds": range(len(losses)), "validation_loss": losses}).to_csv(
            tmp_path / "policies" / cell / "history.csv", index=False)
    (tmp_path / "policies" / "s1-base-stock-seed0").mkdir()  # a heuristic: parameters, no history
    pd.DataFrame({"label": ["DS Base", "PPO None", "base stock"]}).to_csv(tmp_path / "results.csv", index=False)
    curves = training_curves(tmp_path, ["s1", "s10"])
    assert set(curves) == {"s1", "s10"} and set(curves["s1"]) == {"DS Base"}  # the study's labels
    assert [seed for seed, _ in curves["s1"]["DS Base"]] == [0, 1]
    assert curves["s10"]["PPO None"][0][1].validation_loss.tolist() == [3.0, 80.0, 1.1]
    assert _plot_training(tmp_path, tmp_path / "t.png", ["s1", "s10"]) == 2
    assert _plot_training(tmp_path, tmp_path / "t.png", ["s1"]) == 2  # s10's cells fall in the "" panel
    assert _plot_training(tmp_path / "nothing", tmp_path / "n.png") == 0


def test_tuning_plot_has_one_panel_per_dataset(tmp_path):
    """A multi-dataset study's best-so-far curves are drawn per dataset (a dataset whose name
    is a prefix of another's keeps its own curves)."""
    import json

    from orkit.experiments.report import _plot_tuning

    (tmp_path / "tuning").mkdir()
    for stem in ("setting-4-DS-Base", "setting-4-N5-DS-Base", "setting-4-N5-DS-None", "setting-1-PPO-Base"):
        (tmp_path / "tuning" / f"{stem}.json").write_text(json.dumps({"best_so_far": [2.0, 1.5, 1.4]}))
    panels = _plot_tuning(tmp_path, tmp_path / "tuning.png", ["setting-1", "setting-4", "setting-4-N5", "setting-9"])
    assert panels == 3 and (tmp_path / "tuning.png").stat().st_size > 1000
    assert _plot_tuning(tmp_path / "none", tmp_path / "x.png") == 0


def test_successive_halving_prunes_at_its_rungs_and_top_k_is_filled(tmp_path):
    """pruner = "halving": trials are only stopped at 10%, 30% and 90% of their budget (the rungs),
    the budget is spent exactly, and when fewer than top_k trials finish the top
    configurations are completed from the pruned trials that trained longest."""
    from orkit.experiments.tuning import top_configurations

    study, method, stopped = _tune_learning_curves(tmp_path, "halving", 15)
    states = [t.state for t in study.trials]
    complete = states.count(optuna.trial.TrialState.COMPLETE)
    assert complete + states.count(optuna.trial.TrialState.PRUNED) == 15
    assert stopped and set(stopped) <= {100, 300, 900}
    assert complete < 15 - 3  # most trials stop at a rung
    top = top_configurations(study, method, complete + 1)
    assert len(top) == complete + 1
    longest = max((t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED),
                  key=lambda t: (max(t.intermediate_values), -t.intermediate_values[max(t.intermediate_values)]))
    assert top[-1]["quantity"] == longest.params["quantity"]


def test_paths_plot_of_a_multi_dataset_study_draws_the_first_dataset(tmp_path):
    """Paths of different datasets are different SKUs: a multi-dataset study's path plot draws
    the first dataset (in study order) that has paths, labelled by method."""
    from orkit.experiments.report import _plot_paths

    (tmp_path / "paths").mkdir()
    frame = pd.DataFrame({"sku": ["a"] * 3, "period": [0, 1, 2], "on_hand": [1.0, 2.0, 3.0],
                          "order": [0.0, 1.0, 0.0], "demand": [1.0, 1.0, 1.0]})
    for stem in ("setting-4-N5-DS-Base", "setting-4-DS-Base", "setting-4-PPO-Base"):
        frame.to_csv(tmp_path / "paths" / f"{stem}.csv", index=False)
    assert _plot_paths(tmp_path, tmp_path / "p.png", ["setting-1", "setting-4", "setting-4-N5"]) == "setting-4"
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert _plot_paths(tmp_path, tmp_path / "q.png") == ""
    assert _plot_paths(tmp_path / "none", tmp_path / "r.png") is None


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "benchmarks" / "studies").glob("*.toml")),
                         ids=lambda p: p.name)
def test_the_benchmark_study_files_load(path):
    """The study files the results pages cite (benchmarks/studies) stay valid as the schema evolves."""
    study = load_study(path, known_methods=set(registry.POLICIES))
    assert study.methods and study.datasets


PID_SCRIPT = '''
import os, sys

from orkit.experiments import registry
from orkit.heuristics import BaseStockPolicy


class Recorded(BaseStockPolicy):
    """Base-stock that writes the id of each process its act runs in."""

    def act(self, obs):
        with open(os.environ["ORKIT_TEST_PIDS"], "a") as handle:
            handle.write(f"{os.getpid()}\\n")
        return super().act(obs)


registry.register("recorded-base-stock", Recorded)  # at import: spawned workers import this file too

if __name__ == "__main__":
    with open(os.environ["ORKIT_TEST_PIDS"] + ".runner", "w") as handle:
        handle.write(str(os.getpid()))
    from orkit.cli.main import main

    sys.exit(main(sys.argv[1:]))
'''


def test_with_workers_every_cell_is_fitted_and_scored_in_a_worker(tmp_path):
    """`--workers 2`: the runner only writes; fitting, scoring every split and the sample paths
    run in the workers (a two-stage policy solves a model per scored day: in the runner those
    ran one cell after another)."""
    script = tmp_path / "recorded.py"
    script.write_text(PID_SCRIPT)
    study = write(tmp_path)
    study.write_text(study.read_text().replace('name = "base-stock"', 'name = "recorded-base-stock"'))
    pids = tmp_path / "pids"
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(script), "run", str(study), "--output", str(out), "--workers", "2",
                           "--no-progress"], env=dict(os.environ, OMP_NUM_THREADS="1", ORKIT_TEST_PIDS=str(pids)),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    runner = int((tmp_path / "pids.runner").read_text())
    acting = {int(line) for line in pids.read_text().split()}
    assert acting and runner not in acting
    rows = [r for r in read_results(out / "results.csv") if r["method"] == "recorded-base-stock"]
    assert sorted((int(r["seed"]), r["split"]) for r in rows) == sorted(
        (seed, split) for seed in (0, 1) for split in ("train", "validation", "test"))
    assert (out / "paths" / "base-25.csv").exists() and len(list((out / "per_sku").glob("base-25-seed*.csv"))) == 2
