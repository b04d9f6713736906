"""Run a study: build the data, fit and score every method on every seed, tune where asked.

Results go to ``results.csv`` as each cell finishes, so an interrupted run keeps what it
finished and running again skips it. The output folder records which study owns it
(``study.json``); a different study never writes into it, and one run at a time holds it.

Faults lose nothing: every file is written whole or not at all (a temporary file, then a
rename), a torn ``results.csv`` of an older version is repaired on start, Ctrl-C and SIGTERM
stop the workers after marking their running trials interrupted, the workers die with a
killed parent, and a full disk stops the run with one line (:class:`OutputError`); in every
case the same command resumes to the results of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import csv
import inspect
import io
import re
import json
import logging
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

from orkit.core.errors import ConfigError, DataError, OrkitError, OutputError, ValidationError
from orkit.core.files import atomic_write, atomic_write_text
from orkit.core.interrupts import interrupt
from orkit.core.problem import InventoryProblem
from orkit.data import Dataset, generate, load
from orkit.evaluation import evaluate
from orkit.experiments.config import DataSpec, MethodSpec, StudyConfig, to_json
from orkit.experiments.registry import make_policy

__all__ = ["StudyRunner", "RESULT_COLUMNS", "OutputError", "build_data", "build_problem", "build_splits",
           "fit_policy", "trial_objective", "read_results", "sigterm_as_interrupt"]

log = logging.getLogger(__name__)

RESULT_COLUMNS = (
    "dataset", "method", "label", "regularization", "split", "seed", "loss", "total_cost", "fill_rate",
    "cycle_service_level", "stockout_rate", "turnover_days", "average_on_hand", "train_seconds",
    "params",
)
SPLITS = ("train", "validation", "test")


def build_data(config: StudyConfig, spec: DataSpec | None = None) -> Dataset:
    """A dataset of the study (default: the first), with train/validation/test labels (none
    with a split over time, which takes every SKU into each window)."""
    spec = spec or config.data
    if spec.generator is not None:
        data = generate(spec.generator, **spec.params)
    elif spec.dataset is not None:
        data = load(spec.dataset, **spec.params)
    else:
        path = Path(spec.file)
        if not path.exists():
            raise ConfigError(f"data.file: {path} does not exist")
        data = Dataset.read(path, **spec.columns)
    if spec.time_split is not None:
        if data.split is not None:
            log.warning("%s: the data's split labels are not used: the study's split over time takes every SKU into "
                        "each window", spec.name)
            data = data.with_split(None)
        return data
    if data.split is None:
        data = data.random_split(spec.split, seed=spec.split_seed)
    return data


def build_problem(config: StudyConfig, data: Dataset, spec: DataSpec | None = None) -> InventoryProblem:
    """The problem for a dataset: the generator's recorded problem, then the study's
    ``[problem]``, then the dataset's own ``problem`` overrides; then the per-SKU values of the
    data's attributes (lead time, review period, costs or unit cost, holding rate and margin:
    :meth:`InventoryProblem.with_attributes`), keyed by SKU id so that every split and window
    takes its own SKUs' values. A field set both in the study and by an attribute is refused."""
    merged = dict((data.metadata or {}).get("problem", {}))
    given = {**config.problem_spec, **(spec or config.data).problem}
    merged.update(given)
    try:
        return InventoryProblem(**merged).with_attributes(data, given=given)
    except ValueError as exc:
        raise ConfigError(f"problem: {exc}") from None


def build_splits(config: StudyConfig, spec: DataSpec) -> tuple[dict[str, Dataset], InventoryProblem]:
    """A dataset's ``{"train", "validation", "test"}`` splits and its problem.

    With a split over time (``[split] kind = "time"`` or ``"rolling"``) the splits are the
    windows of :meth:`orkit.data.TimeSplit.datasets` (of the dataset's fold): the train window
    alone, and the validation and test windows with their history (scored from the state it
    leaves)."""
    data = build_data(config, spec)
    problem = build_problem(config, data, spec)
    if spec.time_split is None:
        train, validation, test = data.splits()
        return {"train": train, "validation": validation, "test": test}, problem
    try:
        fold = spec.time_split if spec.fold is None else spec.time_split.splits(data)[spec.fold - 1]
        windows = fold.datasets(data)
    except ValidationError as exc:
        raise ConfigError(f"split: {spec.name}: {exc}") from None
    log.info("%s: %s", spec.name, fold.describe(data))
    return windows, problem


def scored(policy: Any, split: Dataset) -> Dataset:
    """The data ``policy`` is scored on for a split: a window over time restricted, for a
    per-SKU policy, to the SKUs it was fitted on (:func:`orkit.evaluation.backtesting.for_policy`);
    a SKU-random split as it is."""
    if not split.history_periods:
        import numpy as np

        fitted = getattr(policy, "sku_ids_", None) if getattr(policy, "per_sku_", False) else None
        if fitted is not None and not np.array_equal(np.asarray(split.sku_ids).astype(str), np.asarray(fitted).astype(str)):
            raise ConfigError(
                f"{type(policy).__name__} holds one value per SKU (per_sku = true, or per-SKU costs) for the "
                f"{len(fitted)} SKUs it was fitted on, and cannot be scored on a split of other SKUs "
                f"({split.n_skus} SKUs): use a split over time ([split] kind = \"time\" or \"rolling\": every window "
                "holds the same SKUs, matched by id) or per_sku = false"
            )
        return split
    from orkit.evaluation.backtesting import for_policy

    return for_policy(policy, split)


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
        self._storage_given = storage is not None  # --storage, not the study's tuning.storage
        self.results_path = self.output / "results.csv"
        self._results: list[dict[str, str]] = []  # results.csv's rows, loaded when the run starts

    # ------------------------------------------------------------------ folder ownership
    def _claim_output(self) -> None:
        """Create the output folder (an existing file there is refused in one line)."""
        if self.output.exists() and not self.output.is_dir():
            raise ConfigError(f"output: {self.output} is a file, not a folder; choose another output folder")
        try:
            self.output.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a folder above it is a file
            raise ConfigError(f"output: cannot create the folder {self.output}: a part of its path is a file") from None

    def _claim_marker(self) -> None:
        """Check that the folder is this study's (``study.json``), or make it so."""
        marker = self.output / "study.json"
        mine = {"name": self.config.name, "fingerprint": self.config.fingerprint}
        raw = marker.read_bytes() if marker.exists() else b""
        if raw.strip():
            try:
                theirs = json.loads(raw)
            except ValueError as exc:  # not JSON, or not UTF-8
                raise ConfigError(
                    f"output: {marker} is damaged ({exc}); it records which study owns the folder: delete it "
                    "if this study made the folder, else choose another output folder") from None
            if theirs.get("fingerprint") != mine["fingerprint"]:
                raise ConfigError(
                    f"output: {self.output} holds the results of a different study "
                    f"({theirs.get('name')!r}, fingerprint {theirs.get('fingerprint')}); "
                    "choose another output folder or delete that one"
                )
        else:
            if marker.exists():  # an older version's write cut short (nothing is written before it)
                log.warning("%s: empty (a write cut short); written again for study %r", marker, self.config.name)
            atomic_write_text(marker, json.dumps({**mine, "study": to_json(self.config)}, indent=2, default=str))

    @contextlib.contextmanager
    def _hold_output(self) -> Iterator[None]:
        """Hold the folder's lock (``.orkit-run.lock``) for the run: one run at a time writes a
        folder, so the trials its database shows running are nobody else's (see
        :meth:`_recover_orphans`)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: one run at a time is the user's rule
            yield
            return
        descriptor = os.open(self.output / ".orkit-run.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(f"output: {self.output} is in use by another orkit run (a folder holds one run "
                                  "at a time); wait for it to finish or choose another output folder") from None
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def finished(self) -> set[tuple[str, str, int]]:
        """(dataset, method label, seed) cells already in results.csv."""
        rows, _ = _parse_results(self.results_path)
        return {(r["dataset"], r["label"], int(r["seed"])) for r in rows if r["split"] == "test"}

    def _load_results(self) -> list[dict[str, str]]:
        """The rows of ``results.csv``, repaired: a torn or empty file (an older version's
        append cut short by a kill or a full disk) loses its unfinished cells, which run again,
        with one warning line saying what was dropped; a file that is not a results table is
        refused (:class:`~orkit.core.errors.DataError`)."""
        rows, dropped = _parse_results(self.results_path)
        if dropped:
            log.warning("%s: repaired: %s", self.results_path, "; ".join(dropped))
            self._write_results(rows)
        return rows

    def _write_results(self, rows: list[dict[str, Any]]) -> None:
        # The whole table is written again (old rows + new) to a temporary file that is then
        # renamed over results.csv: a kill or a full disk leaves the previous table, never a
        # torn row, which an append cannot promise (a write cut short keeps half a row). The
        # table is small (three rows a cell), so this costs milliseconds a cell.
        with atomic_write(self.results_path, newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def _append(self, rows: list[dict[str, Any]]) -> None:
        """Add a finished cell's rows to results.csv (see :meth:`_write_results`)."""
        table = self._results + [{k: _text(v) for k, v in row.items()} for row in rows]
        self._write_results(table)
        self._results = table

    # ------------------------------------------------------------------ cells
    def _cached_fit(self, dataset: str, label: str, seed: int, params: dict) -> tuple[Any, float] | None:
        """The selected configuration's re-run for this seed, if tuning left one (used once)."""
        cached = self._refits.pop((dataset, label, seed), None)
        return cached[1] if cached is not None and cached[0] == params else None

    @staticmethod
    def _rows(dataset: str, method: MethodSpec, params: dict, seed: int, policy: Any, seconds: float,
              splits: dict[str, Dataset], problem: InventoryProblem) -> tuple[list[dict[str, Any]], Any]:
        """The cell's result rows, one per split, and the test split's lean ledger (for the
        per-SKU table): ``evaluate``'s simulation, kept instead of run twice."""
        from orkit.evaluation.metrics import metrics_from_ledger
        from orkit.sim import simulate

        rows = []
        for split in SPLITS:
            ledger = simulate(policy, scored(policy, splits[split]), problem, ledger="lean")
            m = metrics_from_ledger(ledger)
            rows.append({
                "dataset": dataset, "method": method.name, "label": method.label,
                "regularization": params.get("regularization", ""), "split": split, "seed": seed,
                "loss": m["weighted_loss"], "total_cost": m["total_cost"], "fill_rate": m["fill_rate"],
                "cycle_service_level": m["cycle_service_level"], "stockout_rate": m["stockout_rate"],
                "turnover_days": m["turnover_days"], "average_on_hand": m["average_on_hand"],
                "train_seconds": round(seconds, 4),
                "params": json.dumps(params, sort_keys=True, default=str),
            })
        return rows, ledger  # SPLITS ends with the test split

    def _finish_cell(self, dataset: str, method: MethodSpec, seed: int, scored_cell: "_ScoredCell",
                     test: Dataset) -> None:
        """Save the cell's policy, its per-SKU test losses (and the first seed's sample paths),
        then append its rows."""
        name = self._cell_name(dataset, method.label)
        self._save_policy(scored_cell.policy, name, seed)
        self._save_per_sku(scored_cell.test_ledger, name, seed, test)
        if scored_cell.paths is not None:
            self._save_paths(scored_cell.paths, name, test.dates is not None)
        self._append(scored_cell.rows)

    def _cell_name(self, dataset: str, label: str) -> str:
        multi = len(self.config.datasets) > 1
        return _slug(f"{dataset}-{label}" if multi else label)

    def _save_policy(self, policy: Any, name: str, seed: int) -> None:
        """The cell's fitted policy in ``policies/<cell>-seed<k>`` (``policy.save``: reloadable
        with ``orkit recommend --load``), and a learner's evaluations in ``history.csv``."""
        folder = self.output / "policies" / f"{name}-seed{seed}"
        if not hasattr(policy, "save"):  # a policy registered by a user, without save
            log.warning("%s cannot be saved (it has no save method); its results are kept", type(policy).__name__)
            return
        folder.mkdir(parents=True, exist_ok=True)
        policy.save(folder)
        history = getattr(policy, "history_", None)
        if history:  # the learner's evaluations: validation loss, and DDPG's critic loss
            import pandas as pd

            with atomic_write(folder / "history.csv", newline="") as handle:
                pd.DataFrame(history).to_csv(handle, index=False, lineterminator="\n")

    #: Attributes of the test SKUs copied into ``per_sku/*.csv`` for the report's money table.
    MONEY_ATTRIBUTES = ("unit_cost", "holding_rate", "margin")

    def _save_per_sku(self, led: Any, name: str, seed: int, test: Dataset) -> None:
        """Each test SKU's loss and demand profile in ``per_sku/<cell>-seed<k>.csv``, for the
        report's paired comparisons and segments: ``sku``, ``loss`` (mean cost per scored
        period, :func:`~orkit.evaluation.per_sku_loss`), ``holding_units`` and
        ``shortage_units`` (sums over scored periods), ``scored_periods``, ``demand_mean`` and
        ``zero_share`` (over the test horizon, :func:`~orkit.experiments.segments.demand_profile`),
        and the money attributes the data has (:attr:`MONEY_ATTRIBUTES`), from the test split's
        lean ledger ``led``."""
        import pandas as pd

        from orkit.evaluation import per_sku_loss
        from orkit.experiments.segments import demand_profile

        table = pd.DataFrame({"sku": [str(s) for s in test.sku_ids],
                              "loss": per_sku_loss(led).double().cpu().numpy(),
                              "holding_units": led.holding_units.double().cpu().numpy(),
                              "shortage_units": led.shortage_units.double().cpu().numpy(),
                              "scored_periods": led.counted_periods.cpu().numpy().astype(int)})
        table = pd.concat([table, demand_profile(test.demand[:, test.history_periods:])], axis=1)
        if led.orders_placed is not None:  # a fixed ordering cost: each SKU's K x orders placed
            table["fixed_cost"] = led.fixed_cost.double().cpu().numpy()
        attributes = test.attributes
        for column in self.MONEY_ATTRIBUTES:
            if column in attributes.columns:
                table[column] = attributes[column].to_numpy()
        # a SKU without a scored period (withdrawn before a backtest window, or whose life is
        # all warm-up) is left out, as the metrics leave it out
        table = table[table["scored_periods"] > 0]
        (self.output / "per_sku").mkdir(exist_ok=True)
        with atomic_write(self.output / "per_sku" / f"{name}-seed{seed}.csv", newline="") as handle:
            table.to_csv(handle, index=False, lineterminator="\n")

    @staticmethod
    def _path_rows(policy: Any, test: Dataset, problem: InventoryProblem, n: int) -> list[dict[str, Any]]:
        """Full ledger of ``n`` sample test SKUs for the report's path plots: a fast, a slow and
        an intermittent mover (:func:`~orkit.experiments.segments.sample_skus`, the same SKUs for
        every method), with ``counted`` (0 in the warm-up) and the SKU's ``segment``."""
        from orkit.experiments.segments import sample_skus
        from orkit.sim import simulate

        chosen = sample_skus(test.demand[:, test.history_periods:], min(n, test.n_skus))
        rows_of = [row for row, _ in chosen]
        # a policy with one value per SKU serves its SKUs in their order only: run it on all of them
        per_sku = bool(getattr(policy, "per_sku_", False))
        led = simulate(policy, test if per_sku else test.subset(rows_of), problem)
        at = rows_of if per_sku else range(len(chosen))
        dates = test.dates  # a dated dataset: each row's date too, for the plot's axis
        rows = [{"sku": str(test.sku_ids[row]), "segment": segment, "period": test.period_start + t,
                 **({"date": dates[t].date().isoformat()} if dates is not None else {}),
                 "on_hand": float(led.on_hand[i, t]), "order": float(led.order[i, t]),
                 "demand": float(led.demand[i, t]), "counted": int(led.counted[i, t])}
                for (row, segment), i in zip(chosen, at) for t in range(test.history_periods, led.n_periods)]
        return rows

    def _save_paths(self, rows: list[dict[str, Any]], name: str, dated: bool) -> None:
        """The sample paths (:meth:`_path_rows`) in ``paths/<cell>.csv``."""
        (self.output / "paths").mkdir(exist_ok=True)
        with atomic_write(self.output / "paths" / f"{name}.csv", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["sku", "segment", "period", *(["date"] if dated else []),
                                                    "on_hand", "order", "demand", "counted"])
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

    def _top(self, study: Any, method: MethodSpec) -> list[dict[str, Any]]:
        """The top-k configurations of a tuned cell, with one warning when failures stopped its
        tuning short of the budget."""
        from orkit.experiments import tuning as tuning_mod

        warning = tuning_mod.tuning_failures(study, method, self.config.tuning)
        if warning:
            log.warning("%s", warning)
        top = tuning_mod.top_configurations(study, method, self.config.tuning.top_k)
        if not top:
            raise ConfigError(f"methods[{method.label}]: no tuning trial finished")
        return top

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
        atomic_write_text(self.output / "tuning" / f"{self._cell_name(dataset, method.label)}.json", json.dumps(
            {"best_so_far": tuning_mod.best_so_far(study), "top": top, "top_mean_validation": means,
             "selected": best}, indent=2, default=str))
        return best

    def _todo(self) -> tuple[list[tuple[DataSpec, MethodSpec, int]], int]:
        """Unfinished (dataset, method, seed) cells and the number of progress steps they take."""
        done = {(r["dataset"], r["label"], int(r["seed"])) for r in self._results if r["split"] == "test"}
        cells = [(d, m, s) for d in self.config.datasets for m in self.config.methods for s in self.config.seeds
                 if m.applies_to(d.name)]
        todo = [(d, m, s) for d, m, s in cells if (d.name, m.label, s) not in done]
        tuned = {(d.name, m.label) for d, m, _ in todo if m.tuned}
        # tuning trials, then the top-k configurations re-run with every seed, then the cells
        reruns = self.config.tuning.top_k * len(self.config.seeds)
        return todo, len(todo) + (self.config.tuning.trials + reruns) * len(tuned)

    def _default_storage(self) -> str:
        return f"sqlite:///{(self.output / 'tuning.db').resolve()}"

    def _check_storage(self, todo: list[tuple[DataSpec, MethodSpec, int]]) -> None:
        """Open the tuning database once before any cell runs, when a tuned cell is left: a bad
        URL (unknown dialect, missing driver, unreachable server) is a one-line ConfigError
        here, not a traceback after the untuned cells were computed."""
        if not any(m.tuned for _, m, _ in todo):
            return
        from orkit.experiments import tuning as tuning_mod

        if self.storage is None:
            tuning_mod.check_storage(self._default_storage(), "output")
        else:
            tuning_mod.check_storage(self.storage, "--storage" if self._storage_given else "tuning.storage")

    def _full_disk(self, exc: BaseException) -> OutputError | None:
        """The one-line error for a full disk (a result file or the tuning database could not
        be written), or None for any other error."""
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            return None
        if not isinstance(exc, OutputError):
            if isinstance(exc, OrkitError):
                return None
            from orkit.experiments import tuning as tuning_mod

            if not tuning_mod.disk_full(exc):
                return None
        return OutputError(
            f"output: no space left on the disk of {self.output} (writing "
            f"{'the tuning database' if 'database' in str(exc) else 'a result file'}); the cells finished "
            f"so far are kept in {self.results_path.name}: free some space and run the same command again "
            "to resume")

    def run(self) -> list[dict[str, Any]]:
        """Run every unfinished cell; return all result rows (old and new).

        The protocol (tune, re-run the top-k configurations, select, score) is one sequence of
        jobs (:meth:`_execute`), run in this process for one worker and by a pool of
        ``workers`` processes for several.

        Before any cell runs, the output folder is claimed (one run at a time; a file there
        or a folder of another study is refused), ``results.csv`` is checked (an older
        version's torn rows are dropped with a warning, their cells run again) and the tuning
        database is opened (a bad storage URL is a one-line
        :class:`~orkit.core.errors.ConfigError`).

        SIGTERM is handled like Ctrl-C while the run lasts (the previous handler is restored
        afterwards): running trials are marked interrupted, the workers stop, and
        ``KeyboardInterrupt`` propagates; the same call resumes the run. A full disk raises
        :class:`OutputError`; the cells finished before it are kept.
        """
        self._claim_output()
        try:
            with self._hold_output(), sigterm_as_interrupt():
                self._claim_marker()
                self._results = self._load_results()
                todo, total = self._todo()
                self._check_storage(todo)
                self._execute(todo, total)
        except BaseException as exc:
            error = self._full_disk(exc)
            if error is None:
                raise
            raise error from exc
        return read_results(self.results_path)

    # ------------------------------------------------------------------ the protocol
    def _execute(self, todo: list[tuple[DataSpec, MethodSpec, int]], total: int) -> None:
        """Run the study's unfinished cells: the protocol as jobs handed to an executor.

        Every tuned cell gets ``workers`` tuning jobs that share its Optuna study (the budget
        counts every worker's trials, so none runs twice; see :func:`tuning.tune`); when its
        tuning is done its top-k x seeds re-runs are queued, and when those are done its cells
        are scored from the selected configuration's re-runs. Untuned cells are fitted from the
        start. A cell's job fits (or takes its re-run), scores every split and simulates the
        sample paths (:func:`_worker_cell`); results, policies and reports are written by this
        process only, as cells finish.

        With one worker the executor runs each job in this process when it is submitted (the
        run is deterministic); with several, a pool of processes runs them and jobs of
        different cells overlap, so no worker waits for a slow cell. Fits are the same either
        way (each seed is its own random stream), but which configurations TPE draws depends
        on the order in which concurrent trials finish: the tuned configuration may differ
        from a one-worker run's.

        Faults: on Ctrl-C, SIGTERM or an error this process stops the workers (SIGTERM, which
        a worker turns into Ctrl-C in its job: its running trial is marked interrupted and runs
        again on resume) before re-raising; workers ignore Ctrl-C themselves, so each trial is
        interrupted once. Workers die with this process when it is killed (see
        :func:`_worker_init`), so a resumed run marks their trials interrupted without ever
        running one twice.
        """
        import concurrent.futures as cf

        from tqdm.auto import tqdm

        from orkit.experiments import tuning as tuning_mod

        storage = self.storage or self._default_storage()
        cells: dict[tuple[str, str], list[int]] = {}
        for d, m, s in todo:
            cells.setdefault((d.name, m.label), []).append(s)
        methods = {m.label: m for m in self.config.methods}
        pool = _InProcess() if self.workers == 1 else _pool(self.workers)
        jobs: dict[cf.Future, tuple] = {}
        tuning_left: dict[tuple[str, str], int] = {}
        reruns: dict[tuple[str, str], dict] = {}
        tuned_steps: dict[tuple[str, str], int] = {}
        studies: dict[tuple[str, str], Any] = {}

        def submit_cells(key: tuple[str, str], params: dict[str, Any]) -> None:
            for seed in cells[key]:  # fitted (or a re-run's fit taken) and scored by a job
                paths = int(self.config.report.get("sample_skus", 3)) if seed == self.config.seeds[0] else 0
                jobs[pool.submit(_worker_cell, self.config, key[0], key[1], params, seed,
                                 self._cached_fit(key[0], key[1], seed, params), paths)] = ("cell", key, seed)

        def finish(key: tuple[str, str], seed: int, scored_cell: _ScoredCell) -> None:
            splits, _ = _worker_context(self.config, key[0])
            self._finish_cell(key[0], methods[key[1]], seed, scored_cell, scored(scored_cell.policy, splits["test"]))
            bar.update(1)

        def advance_tuning(key: tuple[str, str]) -> None:
            tuned_steps[key] = tuned_steps.get(key, 0) + 1
            bar.update(1)

        def tuning_done(key: tuple[str, str]) -> None:
            method = methods[key[1]]
            study = studies[key]
            bar.update(self.config.tuning.trials - tuned_steps.get(key, 0))
            tuned_steps[key] = self.config.tuning.trials
            top = self._top(study, method)
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
                        jobs[pool.submit(_worker_fit, self.config, key[0], key[1], params, seed)] = (
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

        def handle(future: cf.Future) -> None:
            kind, key, *rest = jobs.pop(future)
            try:
                result = future.result()  # a worker's error stops the run here
            except cf.BrokenExecutor:  # a worker killed from outside
                raise OrkitError(
                    "a worker process died without a word (killed by the system, e.g. out of memory); the "
                    "finished cells are kept: run the same command again to resume, with fewer --workers if "
                    "memory is short") from None
            if kind == "tune":
                tuning_left[key] -= 1
                if tuning_left[key] == 0:
                    tuning_done(key)
            elif kind == "rerun":
                rerun_done(key, *rest, *result)
            else:
                finish(key, rest[0], result)

        def drain(timeout: float | None) -> None:
            """Handle the jobs that are done (waiting up to ``timeout`` seconds for one), until
            none is; handling one may submit, and in this process run, the next."""
            while jobs:
                done, _ = cf.wait(list(jobs), timeout=timeout, return_when=cf.FIRST_COMPLETED)
                if not done:
                    return
                for future in [f for f in jobs if f in done]:  # in submission order: a one-worker run's files
                    handle(future)                              # are the same from run to run
                if timeout:  # a pool: report the running trials between waits
                    return

        def count_trials() -> None:
            running = {job[1] for f, job in jobs.items() if job[0] == "tune" and f.running()}
            for key in running if self.progress else ():  # progress of workers' running tuning jobs
                spent = min(self.config.tuning.trials, sum(
                    1 for t in studies[key].get_trials(deepcopy=False) if tuning_mod._finished(t)))
                bar.update(max(0, spent - tuned_steps.get(key, 0)))
                tuned_steps[key] = max(spent, tuned_steps.get(key, 0))

        with tqdm(total=total, disable=not self.progress, desc=self.config.name, unit="step") as bar:
            try:
                for key in cells:  # cell by cell: in this process a cell is done before the next starts
                    method = methods[key[1]]
                    if method.tuned:
                        studies[key] = tuning_mod.open_study(study_name(self.config, key[0], method), storage,
                                                             self.config.tuning)
                        self._recover_orphans(studies[key], method)  # before its workers start
                        tuning_left[key] = self.workers
                        # in this process the bar moves with each trial; workers' trials are counted
                        advance = (lambda key=key: advance_tuning(key)) if isinstance(pool, _InProcess) else None
                        for _ in range(self.workers):
                            jobs[pool.submit(_worker_tune, self.config, key[0], key[1], storage, advance)] = (
                                "tune", key)
                    else:
                        submit_cells(key, dict(method.params))
                    drain(timeout=0)
                while jobs:
                    drain(timeout=2.0)
                    count_trials()
            except BaseException:
                if not isinstance(pool, _InProcess):
                    _stop_workers(pool)
                raise
        pool.shutdown(wait=True)


def trial_objective(config: StudyConfig, method: MethodSpec, splits: dict[str, Dataset],
               problem: InventoryProblem) -> Callable[..., float]:
    """A tuning trial: fit with the tuning seed, score on the selection split (validation, or
    test for an in-sample bound), reporting to the study's pruner when it has one."""

    def objective(params: dict[str, Any], trial: Any = None) -> float:
        policy, _ = fit_policy(method.name, params, config.tuning.seed, *_fit_splits(method, splits), problem, trial=trial if config.tuning.pruner != "none" else None)
        return evaluate(policy, scored(policy, _fit_splits(method, splits)[1]), problem)["weighted_loss"]

    return objective


def _fit_splits(method: MethodSpec, splits: dict[str, Dataset]) -> tuple[Dataset, Dataset]:
    """(fit, select) splits: train and validation, or the test split twice for an in-sample bound."""
    if method.fit_on == "test":
        return splits["test"], splits["test"]
    return splits["train"], splits["validation"]


class _InProcess:
    """The executor of a one-worker run: a job runs in this process when it is submitted (an
    error propagates at once), and its future is already done."""

    def submit(self, function: Callable[..., Any], *args: Any) -> Any:
        import concurrent.futures as cf

        future: cf.Future = cf.Future()
        future.set_result(function(*args))
        return future

    def shutdown(self, wait: bool = True) -> None:
        pass


def _pool(workers: int) -> Any:
    """A pool of ``workers`` fresh processes sharing the cores (see :func:`_worker_init`)."""
    import concurrent.futures as cf
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // workers)
    return cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_worker_init, initargs=(threads, os.getpid()))


# the datasets of one study in a process, each built once
_WORKER_DATA: dict[tuple[str, str], tuple[dict[str, Dataset], InventoryProblem]] = {}


def _worker_init(threads: int, parent: int) -> None:
    """Set up a worker process: its share of the cores, death with its parent, and signals.

    - The worker dies with its parent: on Linux the kernel sends it SIGKILL when the parent
      dies (``prctl(PR_SET_PDEATHSIG)``), and everywhere a watchdog thread exits it once its
      parent is gone (:func:`_watch_parent`). A killed run leaves no worker tuning on, or
      running a trial that the resumed run starts again.
    - Ctrl-C is ignored here: the terminal sends it to the parent too, which stops the workers
      with SIGTERM, so each running trial is interrupted exactly once.
    - SIGTERM interrupts the running job like Ctrl-C (its trial is marked interrupted and runs
      again on resume) and makes the worker refuse jobs still queued (:func:`_worker_stop`).
    """
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    sys.unraisablehook = _interrupt_again
    import torch

    torch.set_num_threads(threads)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the watchdog alone
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="orkit-parent-watchdog", daemon=True).start()


def _watch_parent(parent: int, interval: float = 0.5) -> None:
    """Exit this process as soon as its parent ``parent`` is gone (it is then adopted by
    another process): the portable fallback of ``PR_SET_PDEATHSIG``."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


_JOB_RUNNING = False  # a worker is running a job (not waiting for one)
_STOPPING = False  # the parent asked the worker to stop (SIGTERM)


def _worker_stop(signum: int, frame: Any) -> None:
    """A worker's SIGTERM handler: interrupt the running job like Ctrl-C; jobs the worker had
    already been handed are refused (see :func:`_job`)."""
    global _STOPPING
    _STOPPING = True
    if _JOB_RUNNING:
        interrupt()  # now, or as a shielded block (e.g. recording a failed trial) ends


def _interrupt_again(unraisable: Any) -> None:
    """A worker's ``sys.unraisablehook``: the stop request's ``KeyboardInterrupt`` raised while
    Python ran a callback that cannot raise (a weak reference's, a finalizer) is not printed as
    an ignored exception; the worker sends itself SIGTERM again, so the running job is still
    interrupted, a moment later. Anything else goes to the default hook."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)
        return
    sys.__unraisablehook__(unraisable)


@contextlib.contextmanager
def _job() -> Iterator[None]:
    """Run one job of a worker: refused once the parent asked the worker to stop; a full disk
    becomes an :class:`OutputError` (whose message survives the trip to the parent)."""
    global _JOB_RUNNING
    _JOB_RUNNING = True
    try:
        if _STOPPING:  # checked after the flag is set, so a SIGTERM in between is not missed
            raise KeyboardInterrupt
        yield
    except Exception as exc:
        from orkit.experiments import tuning as tuning_mod

        if not isinstance(exc, OrkitError) and tuning_mod.disk_full(exc):
            raise OutputError(f"no space left on device ({_one_line(exc)[:200]})") from None
        raise
    finally:
        _JOB_RUNNING = False


def _stop_workers(pool: Any, grace: float = 15.0) -> None:
    """Stop a process pool's workers now: SIGTERM (a running trial is marked interrupted),
    then, after ``grace`` seconds, SIGKILL for any that is still running (its trial stays
    marked running and is recovered on resume). Queued jobs are cancelled."""
    from multiprocessing.connection import wait

    processes = [p for p in (getattr(pool, "_processes", None) or {}).values()]
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            if process.exitcode is None:
                os.kill(process.pid, signal.SIGTERM)
    pool.shutdown(wait=False, cancel_futures=True)
    # a process's sentinel is ready once it has exited (waiting on it reaps nothing, so the
    # pool's own thread can still join it)
    sentinels = {p.sentinel: p for p in processes if p.exitcode is None}
    deadline = time.monotonic() + grace
    while sentinels and time.monotonic() < deadline:
        for ready in wait(list(sentinels), timeout=max(0.0, deadline - time.monotonic())):
            sentinels.pop(ready, None)
    for process in sentinels.values():
        with contextlib.suppress(OSError, ValueError):
            process.kill()
    pool.shutdown(wait=True)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Handle SIGTERM like Ctrl-C (``KeyboardInterrupt`` in the main thread) while the block
    runs, then restore the previous handler. Outside the main thread (where Python cannot
    install handlers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _worker_context(config: StudyConfig, dataset: str) -> tuple[dict[str, Dataset], InventoryProblem]:
    """The splits and problem of one of the study's datasets, built once per process."""
    key = (config.fingerprint, dataset)
    if key not in _WORKER_DATA:
        if any(k[0] != config.fingerprint for k in _WORKER_DATA):
            _WORKER_DATA.clear()  # another study's data
        _WORKER_DATA[key] = build_splits(config, next(d for d in config.datasets if d.name == dataset))
    return _WORKER_DATA[key]


def _worker_tune(config: StudyConfig, dataset: str, label: str, storage: str,
                 progress: Callable[[], None] | None = None) -> None:
    """Tuning job: run trials of one cell's shared study until its budget is spent
    (``progress()`` after each trial, in a one-worker run)."""
    from orkit.experiments import tuning as tuning_mod

    with _job():
        method = next(m for m in config.methods if m.label == label)
        splits, problem = _worker_context(config, dataset)
        study = tuning_mod.open_study(study_name(config, dataset, method), storage, config.tuning)
        tuning_mod.tune(study, method, trial_objective(config, method, splits, problem), config.tuning,
                        progress=progress)


class _ScoredCell(NamedTuple):
    """What a cell job hands back: the fitted policy, its training seconds, its result rows
    (one per split), the test split's lean ledger and the sample paths (or None)."""

    policy: Any
    seconds: float
    rows: list[dict[str, Any]]
    test_ledger: Any
    paths: list[dict[str, Any]] | None


def _worker_cell(config: StudyConfig, dataset: str, label: str, params: dict[str, Any], seed: int,
                 fitted: tuple[Any, float] | None, paths: int) -> _ScoredCell:
    """Cell job: fit (unless ``fitted`` holds a re-run's policy and seconds), score on every
    split and, with ``paths`` > 0, simulate that many sample test SKUs: the slow part of a cell
    (a two-stage policy solves a model per scored day) runs in a worker, not in the runner."""
    with _job():
        method = next(m for m in config.methods if m.label == label)
        splits, problem = _worker_context(config, dataset)
        if fitted is None:
            fitted = fit_policy(method.name, params, seed, *_fit_splits(method, splits), problem)
        policy, seconds = fitted
        rows, test_ledger = StudyRunner._rows(dataset, method, params, seed, policy, seconds, splits, problem)
        sample = StudyRunner._path_rows(policy, scored(policy, splits["test"]), problem, paths) if paths else None
    return _ScoredCell(policy, seconds, rows, test_ledger, sample)


def _worker_fit(config: StudyConfig, dataset: str, label: str, params: dict[str, Any],
                seed: int) -> tuple[Any, float, float]:
    """Re-run job of a tuned cell: the fitted policy, its training seconds and its loss on the
    selection split."""
    with _job():
        method = next(m for m in config.methods if m.label == label)
        splits, problem = _worker_context(config, dataset)
        train, selection = _fit_splits(method, splits)
        policy, seconds = fit_policy(method.name, params, seed, train, selection, problem)
        loss = evaluate(policy, scored(policy, selection), problem)["weighted_loss"]
    return policy, seconds, loss


def study_name(config: StudyConfig, dataset: str, method: MethodSpec) -> str:
    """The Optuna study of one (dataset, method) cell."""
    return f"{config.name}/{dataset}/{method.label}"


def read_results(path: Path) -> list[dict[str, Any]]:
    """The rows of a study's ``results.csv`` (values as text), ``[]`` when there is none.

    Raises
    ------
    DataError
        The file is not a results table, or it is torn (a write cut short): ``orkit run``
        repairs a torn file when it starts.
    """
    rows, dropped = _parse_results(Path(path))
    if dropped:
        raise DataError(f"{path}: {'; '.join(dropped)}; run the study again to repair the file")
    return rows


def _parse_results(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """The rows of the finished cells in ``results.csv`` and what had to be dropped.

    Dropped, with a note saying what: an empty file (0 bytes), a last line without its line
    ending (a write cut short, maybe mid-character), and the rows of a cell that lacks one of
    its three splits (its test row is written with its other rows, so the cell runs again).
    Refused with a :class:`~orkit.core.errors.DataError` naming the file, the line and the
    rule: a header other than :data:`RESULT_COLUMNS`, a complete row that breaks a rule (a
    field count, a split, a seed, the params JSON), a cell's split written twice.
    """
    path = Path(path)
    if not path.exists():
        return [], []
    raw = path.read_bytes()
    if not raw:
        return [], ["the file was empty (0 bytes)"]
    dropped: list[str] = []
    end = raw.rfind(b"\n") + 1
    if end < len(raw):  # the last line has no line ending: its write was cut short
        torn = raw[end:].decode("utf-8", errors="replace")
        dropped.append(f"dropped a torn last line ({_preview(torn)})" if end else
                       f"dropped a torn header ({_preview(torn)}): no rows")
        raw = raw[:end]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc}); it is not an orkit results table") from None
    records = csv.reader(io.StringIO(text, newline=""))
    header = next(records, None)
    if header is None:
        return [], dropped
    if tuple(header) != RESULT_COLUMNS:
        missing = [c for c in RESULT_COLUMNS if c not in header]
        extra = [c for c in header if c not in RESULT_COLUMNS]
        what = "; ".join(part for part in (
            f"missing columns {', '.join(missing)}" if missing else "",
            f"unknown columns {', '.join(map(repr, extra))}" if extra else "",
            "" if missing or extra else "columns in another order") if part)
        raise DataError(f"{path}: the header is not that of an orkit results table ({what}); move the file "
                        "away or choose another output folder")
    rows: list[dict[str, str]] = []
    cells: dict[tuple[str, str, int], dict[str, int]] = {}
    for record in records:
        line = records.line_num
        if len(record) != len(RESULT_COLUMNS):
            raise DataError(f"{path}, line {line}: a row must have {len(RESULT_COLUMNS)} fields, got {len(record)}")
        row = dict(zip(RESULT_COLUMNS, record))
        if row["split"] not in SPLITS:
            raise DataError(f"{path}, line {line}: split must be one of {', '.join(SPLITS)}, got {row['split']!r}")
        try:
            seed = int(row["seed"])
            float(row["loss"])
            json.loads(row["params"])
        except ValueError as exc:
            raise DataError(f"{path}, line {line}: seed must be an integer, loss a number and params JSON "
                            f"({exc})") from None
        splits = cells.setdefault((row["dataset"], row["label"], seed), {})
        if row["split"] in splits:
            raise DataError(f"{path}, line {line}: the {row['split']} row of cell ({row['dataset']}, "
                            f"{row['label']}, seed {seed}) is also on line {splits[row['split']]}")
        splits[row["split"]] = line
        rows.append(row)
    unfinished = {cell for cell, splits in cells.items() if len(splits) < len(SPLITS)}
    if unfinished:
        rows = [r for r in rows if (r["dataset"], r["label"], int(r["seed"])) not in unfinished]
        names = ", ".join(f"({d}, {label}, seed {s})" for d, label, s in sorted(unfinished))
        dropped.append(f"dropped the rows of unfinished cell(s) {names}, which run again")
    return rows, dropped


def _preview(text: str, width: int = 40) -> str:
    text = text.replace("\r", "")
    return repr(text if len(text) <= width else text[:width] + "...")


def _text(value: Any) -> str:
    """A value as ``csv`` writes it (so rows in memory equal rows read back)."""
    return "" if value is None else str(value)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _slug(text: str) -> str:
    """A file-name-safe label: ``"constant (tuned)"`` -> ``"constant-tuned"``."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-") or "method"
