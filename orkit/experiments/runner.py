"""Run a study: build the data, fit and score every method on every seed, tune where asked.

Results are appended to ``results.csv`` as each cell finishes, so an interrupted run keeps
what it finished and running again skips it. The output folder records which study owns it
(``study.json``); a different study never writes into it.
"""

from __future__ import annotations

import csv
import inspect
import re
import json
import logging
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from orkit.core.errors import ConfigError
from orkit.core.problem import InventoryProblem
from orkit.data import Dataset, generate
from orkit.evaluation import evaluate
from orkit.experiments.config import DataSpec, MethodSpec, StudyConfig, to_json
from orkit.experiments.registry import make_policy

__all__ = ["StudyRunner", "RESULT_COLUMNS", "build_data", "build_problem", "build_splits", "fit_policy", "trial_objective"]

log = logging.getLogger(__name__)

RESULT_COLUMNS = (
    "dataset", "method", "label", "regularization", "split", "seed", "loss", "total_cost", "fill_rate",
    "cycle_service_level", "stockout_rate", "turnover_days", "average_on_hand", "train_seconds",
    "params",
)
SPLITS = ("train", "validation", "test")


def build_data(config: StudyConfig, spec: DataSpec | None = None) -> Dataset:
    """A dataset of the study (default: the first), with train/validation/test labels."""
    spec = spec or config.data
    if spec.generator is not None:
        data = generate(spec.generator, **spec.params)
    else:
        path = Path(spec.file)
        if not path.exists():
            raise ConfigError(f"data.file: {path} does not exist")
        data = Dataset.read(path, **spec.columns)
    if data.split is None:
        data = data.random_split(spec.split, seed=spec.split_seed)
    return data


def build_problem(config: StudyConfig, data: Dataset, spec: DataSpec | None = None) -> InventoryProblem:
    """The problem for a dataset: the generator's recorded problem, then the study's
    ``[problem]``, then the dataset's own ``problem`` overrides."""
    merged = dict((data.metadata or {}).get("problem", {}))
    merged.update(config.problem_spec)
    merged.update((spec or config.data).problem)
    try:
        return InventoryProblem(**merged)
    except ValueError as exc:
        raise ConfigError(f"problem: {exc}") from None


def build_splits(config: StudyConfig, spec: DataSpec) -> tuple[dict[str, Dataset], InventoryProblem]:
    """A dataset's ``{"train", "validation", "test"}`` splits and its problem."""
    data = build_data(config, spec)
    train, validation, test = data.splits()
    return {"train": train, "validation": validation, "test": test}, build_problem(config, data, spec)


def fit_policy(name: str, params: dict[str, Any], seed: int, train: Dataset, validation: Dataset,
               problem: InventoryProblem, trial: Any = None):
    """Make the registered policy (passing ``seed`` where its factory takes one) and fit it.

    With an Optuna ``trial``, learners that report their validation loss during training (the
    RL learners) report it to the trial, whose pruner may stop them early.
    """
    from orkit.experiments.registry import resolve

    factory = resolve(name)
    kwargs = dict(params)
    if factory is not None:
        try:
            accepted = inspect.signature(factory).parameters
        except (TypeError, ValueError):
            accepted = {}
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
        for key in ("seed", "random_state"):
            if key in accepted and key not in kwargs:
                kwargs[key] = seed
        if takes_any and "seed" not in accepted and "random_state" not in accepted and "seed" not in kwargs:
            kwargs["seed"] = seed  # e.g. the RL learners take their config's fields as keywords
    policy = make_policy(name, **kwargs)
    if trial is not None:
        _attach_pruning(policy, trial)
    start = time.perf_counter()
    if hasattr(policy, "fit"):
        policy = policy.fit(train, validation, problem) or policy
    return policy, time.perf_counter() - start


def _attach_pruning(policy: Any, trial: Any) -> None:
    """Give an RL learner a callback that reports to ``trial`` at each tenth of its budget."""
    if not hasattr(policy, "callback") or not hasattr(policy, "config_class"):
        return
    from orkit.experiments.tuning import PruningReporter
    from orkit.rl.policy import resolve_config

    config = resolve_config(policy.config_class, policy.config, policy.hyperparameters)
    if hasattr(config, "total_timesteps"):
        policy.callback = PruningReporter(trial, "timesteps", config.total_timesteps)
    elif hasattr(config, "max_epochs"):
        policy.callback = PruningReporter(trial, "epoch", config.max_epochs)


@dataclass
class CellResult:
    label: str
    seed: int
    rows: list[dict[str, Any]]


class StudyRunner:
    """Executes a :class:`StudyConfig` into its output folder."""

    def __init__(self, config: StudyConfig, *, output: Path | None = None, progress: bool = True,
                 storage: str | None = None, workers: int = 1) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"workers must be a whole number >= 1, got {workers!r}")
        self.config = config
        self.workers = workers
        # (dataset, label, seed) -> (params, (policy, seconds)): tuned re-runs reused as cells
        self._refits: dict[tuple[str, str, int], tuple[dict[str, Any], tuple[Any, float]]] = {}
        self.output = Path(output or config.output)
        self.progress = progress
        self.storage = storage or config.tuning.storage
        self.results_path = self.output / "results.csv"

    # ------------------------------------------------------------------ folder ownership
    def _claim_output(self) -> None:
        self.output.mkdir(parents=True, exist_ok=True)
        marker = self.output / "study.json"
        mine = {"name": self.config.name, "fingerprint": self.config.fingerprint}
        if marker.exists():
            theirs = json.loads(marker.read_text())
            if theirs.get("fingerprint") != mine["fingerprint"]:
                raise ConfigError(
                    f"output: {self.output} holds the results of a different study "
                    f"({theirs.get('name')!r}, fingerprint {theirs.get('fingerprint')}); "
                    "choose another output folder or delete that one"
                )
        else:
            marker.write_text(json.dumps({**mine, "study": to_json(self.config)}, indent=2, default=str))

    def finished(self) -> set[tuple[str, str, int]]:
        """(dataset, method label, seed) cells already in results.csv."""
        if not self.results_path.exists():
            return set()
        with self.results_path.open() as fh:
            return {(r["dataset"], r["label"], int(r["seed"])) for r in csv.DictReader(fh) if r["split"] == "test"}

    def _append(self, rows: list[dict[str, Any]]) -> None:
        new = not self.results_path.exists()
        with self.results_path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerows(rows)
            fh.flush()

    # ------------------------------------------------------------------ cells
    def _score(self, dataset: str, method: MethodSpec, params: dict, seed: int, splits: dict[str, Dataset],
               problem: InventoryProblem) -> tuple[Any, list[dict[str, Any]]]:
        cached = self._cached_fit(dataset, method.label, seed, params)
        if cached is not None:
            policy, seconds = cached
        else:
            policy, seconds = fit_policy(method.name, params, seed, *_fit_splits(method, splits), problem)
        return policy, self._rows(dataset, method, params, seed, policy, seconds, splits, problem)

    def _cached_fit(self, dataset: str, label: str, seed: int, params: dict) -> tuple[Any, float] | None:
        """The selected configuration's re-run for this seed, if tuning left one (used once)."""
        cached = self._refits.pop((dataset, label, seed), None)
        return cached[1] if cached is not None and cached[0] == params else None

    @staticmethod
    def _rows(dataset: str, method: MethodSpec, params: dict, seed: int, policy: Any, seconds: float,
              splits: dict[str, Dataset], problem: InventoryProblem) -> list[dict[str, Any]]:
        rows = []
        for split in SPLITS:
            m = evaluate(policy, splits[split], problem)
            rows.append({
                "dataset": dataset, "method": method.name, "label": method.label,
                "regularization": params.get("regularization", ""), "split": split, "seed": seed,
                "loss": m["weighted_loss"], "total_cost": m["total_cost"], "fill_rate": m["fill_rate"],
                "cycle_service_level": m["cycle_service_level"], "stockout_rate": m["stockout_rate"],
                "turnover_days": m["turnover_days"], "average_on_hand": m["average_on_hand"],
                "train_seconds": round(seconds, 4),
                "params": json.dumps(params, sort_keys=True, default=str),
            })
        return rows

    def _finish_cell(self, dataset: str, method: MethodSpec, seed: int, policy: Any,
                     rows: list[dict[str, Any]], test: Dataset, problem: InventoryProblem) -> None:
        """Save the cell's policy (and the first seed's sample paths), then append its rows."""
        name = self._cell_name(dataset, method.label)
        self._save_policy(policy, name, seed)
        if seed == self.config.seeds[0]:
            self._save_paths(policy, name, test, problem)
        self._append(rows)

    def _cell_name(self, dataset: str, label: str) -> str:
        multi = len(self.config.datasets) > 1
        return _slug(f"{dataset}-{label}" if multi else label)

    def _save_policy(self, policy: Any, name: str, seed: int) -> None:
        folder = self.output / "policies" / f"{name}-seed{seed}"
        if hasattr(policy, "save"):
            folder.mkdir(parents=True, exist_ok=True)
            policy.save(folder)
            history = getattr(policy, "history_", None)
            if history:  # the learner's evaluations: validation loss, and DDPG's critic loss
                import pandas as pd

                pd.DataFrame(history).to_csv(folder / "history.csv", index=False)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            state = {k: _jsonable(v) for k, v in vars(policy).items() if not k.startswith("_")}
            (folder / "parameters.json").write_text(json.dumps({"class": type(policy).__name__, **state},
                                                               indent=2, default=str))

    def _save_paths(self, policy: Any, name: str, test: Dataset, problem: InventoryProblem) -> None:
        """Full ledger of a few test SKUs, for the report's path plots."""
        from orkit.sim import simulate

        k = min(int(self.config.report.get("sample_skus", 3)), test.n_skus)
        sample = test.subset(list(range(k)))
        led = simulate(policy, sample, problem)
        rows = [{"sku": str(sample.sku_ids[i]), "period": t, "on_hand": float(led.on_hand[i, t]),
                 "order": float(led.order[i, t]), "demand": float(led.demand[i, t])}
                for i in range(k) for t in range(led.n_periods)]
        (self.output / "paths").mkdir(exist_ok=True)
        with (self.output / "paths" / f"{name}.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["sku", "period", "on_hand", "order", "demand"])
            writer.writeheader()
            writer.writerows(rows)

    def _recover_orphans(self, study: Any, method: MethodSpec) -> None:
        """Trials left running by a killed run of this folder run again (own database only: a
        shared storage may hold other processes' running trials, which are only reported)."""
        from orkit.experiments import tuning as tuning_mod

        if self.storage is None:
            n = tuning_mod.recover_orphans(study)
            if n:
                log.warning("%s: %d tuning trial(s) of a killed run will run again", method.label, n)
        else:
            running = study.get_trials(deepcopy=False, states=(tuning_mod.optuna.trial.TrialState.RUNNING,))
            if running:
                log.warning("%s: %d tuning trial(s) are running in the shared storage; a killed process's "
                            "trials stay counted until marked failed there", method.label, len(running))

    def _tuned_params(self, dataset: str, method: MethodSpec, splits: dict[str, Dataset],
                      problem: InventoryProblem, bar: Callable[[], None]) -> dict[str, Any]:
        """Tune, re-run the top-k configurations with every seed, return the winner."""
        from orkit.experiments import tuning as tuning_mod

        storage = self.storage or f"sqlite:///{(self.output / 'tuning.db').resolve()}"
        study = tuning_mod.open_study(study_name(self.config, dataset, method), storage, self.config.tuning)
        self._recover_orphans(study, method)

        tuning_mod.tune(study, method, trial_objective(self.config, method, splits, problem), self.config.tuning,
                        progress=bar)
        top = tuning_mod.top_configurations(study, method, self.config.tuning.top_k)
        if not top:
            raise ConfigError(f"methods[{method.label}]: no tuning trial finished")
        for _ in range((self.config.tuning.top_k - (len(top) if len(top) > 1 else 0)) * len(self.config.seeds)):
            bar()  # re-runs that are not needed (fewer distinct configurations than top_k)
        if len(top) == 1:
            return top[0]
        means, fitted = [], []
        known = self._known_reruns(study, method, top)
        for k, params in enumerate(top):
            losses, policies = [], {}
            for s in self.config.seeds:
                if (k, s) in known:  # the trial was this run
                    losses.append(known[(k, s)])
                    bar()
                    continue
                policy, seconds = fit_policy(method.name, params, s, *_fit_splits(method, splits), problem)
                losses.append(evaluate(policy, _fit_splits(method, splits)[1], problem)["weighted_loss"])
                policies[s] = (policy, seconds)
                bar()
            means.append(statistics.fmean(losses))
            fitted.append(policies)
        return self._select(dataset, method, study, top, means, fitted)

    def _known_reruns(self, study: Any, method: MethodSpec, top: list[dict[str, Any]]) -> dict[tuple[int, int], float]:
        """Validation losses of top-k re-runs that need not be fitted, keyed by (index in
        ``top``, seed): a finished trial is the run of its configuration with the tuning seed
        (same fit, same selection split, same numbers), so when that seed is one of the study's
        seeds its re-run is the trial. ``top[0]``, the best trial's configuration and usually
        the selected one, is re-run as usual so that its cell's policy is fitted with the other
        re-runs; were another configuration selected, its tuning-seed policy is fitted when its
        cell is scored."""
        from orkit.experiments import tuning as tuning_mod

        seed = self.config.tuning.seed
        if seed not in self.config.seeds:
            return {}

        def key(params: dict[str, Any]) -> str:
            return json.dumps(params, sort_keys=True, default=str)

        losses = {key(params): loss for params, loss in tuning_mod.trial_losses(study, method)}
        return {(k, seed): losses[key(params)] for k, params in enumerate(top) if k > 0 and key(params) in losses}

    def _select(self, dataset: str, method: MethodSpec, study: Any, top: list[dict[str, Any]],
                means: list[float], fitted: list[dict[int, tuple[Any, float]]]) -> dict[str, Any]:
        """The configuration with the best mean validation loss over the seeds; its re-runs
        become the reported cells; the tuning summary goes to ``tuning/<cell>.json``."""
        from orkit.experiments import tuning as tuning_mod

        winner = min(range(len(top)), key=means.__getitem__)
        best = top[winner]
        # the selected configuration's re-runs are exactly the reported cells (same
        # configuration, same seeds): they are scored as they are instead of being fitted again
        for s, fit in fitted[winner].items():
            self._refits[(dataset, method.label, s)] = (best, fit)
        (self.output / "tuning").mkdir(exist_ok=True)
        (self.output / "tuning" / f"{self._cell_name(dataset, method.label)}.json").write_text(json.dumps(
            {"best_so_far": tuning_mod.best_so_far(study), "top": top, "top_mean_validation": means,
             "selected": best}, indent=2, default=str))
        return best

    def _todo(self) -> tuple[list[tuple[DataSpec, MethodSpec, int]], int]:
        """Unfinished (dataset, method, seed) cells and the number of progress steps they take."""
        done = self.finished()
        cells = [(d, m, s) for d in self.config.datasets for m in self.config.methods for s in self.config.seeds
                 if m.applies_to(d.name)]
        todo = [(d, m, s) for d, m, s in cells if (d.name, m.label, s) not in done]
        tuned = {(d.name, m.label) for d, m, _ in todo if m.tuned}
        # tuning trials, then the top-k configurations re-run with every seed, then the cells
        reruns = self.config.tuning.top_k * len(self.config.seeds)
        return todo, len(todo) + (self.config.tuning.trials + reruns) * len(tuned)

    def run(self) -> list[dict[str, Any]]:
        """Run every unfinished cell; return all result rows (old and new).

        With ``workers > 1`` the trials, the top-k re-runs and the cells run in that many
        processes (see :meth:`_run_parallel`).
        """
        from tqdm.auto import tqdm

        self._claim_output()
        if self.workers > 1:
            return self._run_parallel()
        todo, total = self._todo()
        with tqdm(total=total, disable=not self.progress, desc=self.config.name, unit="step") as bar:
            for spec in self.config.datasets:
                mine = [(m, s) for d, m, s in todo if d is spec]
                if not mine:
                    continue
                splits, problem = build_splits(self.config, spec)
                chosen: dict[str, dict[str, Any]] = {}
                for method, seed in mine:
                    bar.set_postfix_str(f"{spec.name}: {method.label} seed {seed}")
                    if method.tuned:
                        if method.label not in chosen:
                            chosen[method.label] = self._tuned_params(
                                spec.name, method, splits, problem, lambda: bar.update(1))
                        params = chosen[method.label]
                    else:
                        params = dict(method.params)
                    policy, rows = self._score(spec.name, method, params, seed, splits, problem)
                    self._finish_cell(spec.name, method, seed, policy, rows, splits["test"], problem)
                    bar.update(1)
        return read_results(self.results_path)


    # ------------------------------------------------------------------ parallel
    def _run_parallel(self) -> list[dict[str, Any]]:
        """Run the study in ``self.workers`` processes.

        Every tuned cell gets ``workers`` tuning jobs that share its Optuna study (the budget
        counts every worker's trials, so none runs twice; see :func:`tuning.tune`); when its
        tuning is done its top-k x seeds re-runs are queued, and when those are done its cells
        are scored from the selected configuration's re-runs. Untuned cells are fitted from the
        start. Jobs of different cells overlap, so no worker waits for a slow cell. Results,
        policies and reports are written by this process only, as cells finish.

        Fits are the same as in one process (each seed is its own random stream), but which
        configurations TPE draws depends on the order in which concurrent trials finish: the
        tuned configuration may differ from a one-worker run's.
        """
        import concurrent.futures as cf
        import multiprocessing
        import os

        from tqdm.auto import tqdm

        from orkit.experiments import tuning as tuning_mod

        todo, total = self._todo()
        storage = self.storage or f"sqlite:///{(self.output / 'tuning.db').resolve()}"
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        cells: dict[tuple[str, str], list[int]] = {}
        for d, m, s in todo:
            cells.setdefault((d.name, m.label), []).append(s)
        specs = {d.name: d for d in self.config.datasets}
        methods = {m.label: m for m in self.config.methods}
        contexts: dict[str, tuple[dict[str, Dataset], InventoryProblem]] = {}

        def context(name: str) -> tuple[dict[str, Dataset], InventoryProblem]:
            if name not in contexts:
                contexts[name] = build_splits(self.config, specs[name])
            return contexts[name]

        pool = cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_worker_init, initargs=(threads,))
        jobs: dict[cf.Future, tuple] = {}
        tuning_left: dict[tuple[str, str], int] = {}
        reruns: dict[tuple[str, str], dict] = {}
        tuned_steps: dict[tuple[str, str], int] = {}
        studies: dict[tuple[str, str], Any] = {}

        def submit_cells(key: tuple[str, str], params: dict[str, Any]) -> None:
            for seed in cells[key]:
                cached = self._cached_fit(key[0], key[1], seed, params)
                if cached is not None:
                    finish(key, params, seed, *cached)
                else:
                    jobs[pool.submit(_worker_fit, self.config, key[0], key[1], params, seed, False)] = (
                        "cell", key, params, seed)

        def finish(key: tuple[str, str], params: dict[str, Any], seed: int, policy: Any, seconds: float) -> None:
            splits, problem = context(key[0])
            method = methods[key[1]]
            rows = self._rows(key[0], method, params, seed, policy, seconds, splits, problem)
            self._finish_cell(key[0], method, seed, policy, rows, splits["test"], problem)
            bar.update(1)

        def tuning_done(key: tuple[str, str]) -> None:
            method = methods[key[1]]
            study = studies[key]
            bar.update(self.config.tuning.trials - tuned_steps.get(key, 0))
            tuned_steps[key] = self.config.tuning.trials
            top = tuning_mod.top_configurations(study, method, self.config.tuning.top_k)
            if not top:
                raise ConfigError(f"methods[{method.label}]: no tuning trial finished")
            bar.update((self.config.tuning.top_k - (len(top) if len(top) > 1 else 0)) * len(self.config.seeds))
            if len(top) == 1:
                submit_cells(key, top[0])
                return
            reruns[key] = {"top": top, "losses": {}, "fits": {}}
            known = self._known_reruns(study, method, top)
            for k, params in enumerate(top):
                for seed in self.config.seeds:
                    if (k, seed) in known:  # the trial was this run
                        reruns[key]["losses"][(k, seed)] = known[(k, seed)]
                        bar.update(1)
                    else:
                        jobs[pool.submit(_worker_fit, self.config, key[0], key[1], params, seed, True)] = (
                            "rerun", key, k, seed)
            select_when_done(key)

        def rerun_done(key: tuple[str, str], k: int, seed: int, policy: Any, seconds: float, loss: float) -> None:
            state = reruns[key]
            state["losses"][(k, seed)] = loss
            state["fits"][(k, seed)] = (policy, seconds)
            bar.update(1)
            select_when_done(key)

        def select_when_done(key: tuple[str, str]) -> None:
            state = reruns[key]
            if len(state["losses"]) < len(state["top"]) * len(self.config.seeds):
                return
            means = [statistics.fmean(state["losses"][(i, s)] for s in self.config.seeds)
                     for i in range(len(state["top"]))]
            fitted = [{s: state["fits"][(i, s)] for s in self.config.seeds if (i, s) in state["fits"]}
                      for i in range(len(state["top"]))]
            del reruns[key]
            submit_cells(key, self._select(key[0], methods[key[1]], studies[key], state["top"], means, fitted))

        with tqdm(total=total, disable=not self.progress, desc=self.config.name, unit="step") as bar:
            try:
                for key in cells:
                    method = methods[key[1]]
                    if method.tuned:
                        studies[key] = tuning_mod.open_study(study_name(self.config, key[0], method), storage,
                                                             self.config.tuning)
                        self._recover_orphans(studies[key], method)
                        tuning_mod.requeue_interrupted(studies[key])  # once, before workers race
                        tuning_left[key] = self.workers
                        for _ in range(self.workers):
                            jobs[pool.submit(_worker_tune, self.config, key[0], key[1], storage)] = ("tune", key)
                    else:
                        submit_cells(key, dict(method.params))
                while jobs:
                    finished, _ = cf.wait(list(jobs), timeout=2.0, return_when=cf.FIRST_COMPLETED)
                    for future in finished:
                        kind, key, *rest = jobs.pop(future)
                        result = future.result()  # a worker's error stops the run here
                        if kind == "tune":
                            tuning_left[key] -= 1
                            if tuning_left[key] == 0:
                                tuning_done(key)
                        elif kind == "rerun":
                            rerun_done(key, *rest, *result)
                        else:
                            params, seed = rest
                            finish(key, params, seed, *result[:2])
                    running = {job[1] for f, job in jobs.items() if job[0] == "tune" and f.running()}
                    for key in running if self.progress else ():  # progress of running tuning jobs
                        spent = min(self.config.tuning.trials, sum(
                            1 for t in studies[key].get_trials(deepcopy=False) if tuning_mod._spent(t)
                            and t.state != tuning_mod.optuna.trial.TrialState.RUNNING))
                        bar.update(max(0, spent - tuned_steps.get(key, 0)))
                        tuned_steps[key] = max(spent, tuned_steps.get(key, 0))
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        pool.shutdown(wait=True)
        return read_results(self.results_path)


def trial_objective(config: StudyConfig, method: MethodSpec, splits: dict[str, Dataset],
               problem: InventoryProblem) -> Callable[..., float]:
    """A tuning trial: fit with the tuning seed, score on the selection split (validation, or
    test for an in-sample bound), reporting to the study's pruner when it has one."""

    def objective(params: dict[str, Any], trial: Any = None) -> float:
        policy, _ = fit_policy(method.name, params, config.tuning.seed, *_fit_splits(method, splits), problem, trial=trial if config.tuning.pruner != "none" else None)
        return evaluate(policy, _fit_splits(method, splits)[1], problem)["weighted_loss"]

    return objective


def _fit_splits(method: MethodSpec, splits: dict[str, Dataset]) -> tuple[Dataset, Dataset]:
    """(fit, select) splits: train and validation, or the test split twice for an in-sample bound."""
    if method.fit_on == "test":
        return splits["test"], splits["test"]
    return splits["train"], splits["validation"]


# one dataset per worker process at a time, built once per (study, dataset)
_WORKER_DATA: dict[tuple[str, str], tuple[dict[str, Dataset], InventoryProblem]] = {}


def _worker_init(threads: int) -> None:
    """A worker uses its share of the cores. Ctrl-C reaches workers too: a running trial is
    marked interrupted (and re-run on resume) and the parent stops after keeping what finished."""
    import torch

    torch.set_num_threads(threads)


def _worker_context(config: StudyConfig, dataset: str) -> tuple[dict[str, Dataset], InventoryProblem]:
    key = (config.fingerprint, dataset)
    if key not in _WORKER_DATA:
        _WORKER_DATA.clear()
        _WORKER_DATA[key] = build_splits(config, next(d for d in config.datasets if d.name == dataset))
    return _WORKER_DATA[key]


def _worker_tune(config: StudyConfig, dataset: str, label: str, storage: str) -> None:
    """Tuning job: run trials of one cell's shared study until its budget is spent."""
    from orkit.experiments import tuning as tuning_mod

    method = next(m for m in config.methods if m.label == label)
    splits, problem = _worker_context(config, dataset)
    study = tuning_mod.open_study(study_name(config, dataset, method), storage, config.tuning)
    tuning_mod.tune(study, method, trial_objective(config, method, splits, problem), config.tuning)


def _worker_fit(config: StudyConfig, dataset: str, label: str, params: dict[str, Any], seed: int,
                validate: bool) -> tuple[Any, float, float | None]:
    """Fit job: the fitted policy, its training seconds and (if asked) its validation loss."""
    method = next(m for m in config.methods if m.label == label)
    splits, problem = _worker_context(config, dataset)
    policy, seconds = fit_policy(method.name, params, seed, *_fit_splits(method, splits), problem)
    loss = evaluate(policy, _fit_splits(method, splits)[1], problem)["weighted_loss"] if validate else None
    return policy, seconds, loss


def study_name(config: StudyConfig, dataset: str, method: MethodSpec) -> str:
    """The Optuna study of one (dataset, method) cell."""
    return f"{config.name}/{dataset}/{method.label}"


def read_results(path: Path) -> list[dict[str, Any]]:
    if not Path(path).exists():
        return []
    with Path(path).open() as fh:
        return list(csv.DictReader(fh))


def _slug(text: str) -> str:
    """A file-name-safe label: ``"constant (tuned)"`` -> ``"constant-tuned"``."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-") or "method"


def _jsonable(value: Any) -> Any:
    try:
        import numpy as np
        import torch

        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if isinstance(value, np.ndarray):
            return value.tolist() if value.size <= 10_000 else f"<array {value.shape}>"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
