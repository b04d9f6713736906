"""Fair tuning (paper.md section 4): the same Optuna TPE budget for every (learner,
regularization) cell, the top-k configurations re-run with several seeds, selection on
validation, the median-seed run reported.

The Optuna study lives in SQLite inside the output folder by default; any Optuna RDB URL
(``tuning.storage``) lets several workers share one budget (see :func:`tune`).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable

import optuna

from orkit.experiments.config import Distribution, MethodSpec, TuningSpec

__all__ = ["suggest", "tune", "top_configurations", "open_study", "PruningReporter", "requeue_interrupted",
           "recover_orphans"]

log = logging.getLogger(__name__)


def suggest(trial: optuna.Trial, name: str, dist: Distribution) -> Any:
    """Draw one hyper-parameter from its search space."""
    if dist.choices is not None:
        index = trial.suggest_categorical(f"{name}__index", list(range(len(dist.choices))))
        value = dist.choices[index]
        return list(value) if isinstance(value, tuple) else value
    if dist.integer:
        return trial.suggest_int(name, int(dist.low), int(dist.high), log=dist.log)
    return trial.suggest_float(name, float(dist.low), float(dist.high), log=dist.log)


def params_of(trial: optuna.trial.FrozenTrial, method: MethodSpec) -> dict[str, Any]:
    """The full parameter set of a finished trial (fixed params plus drawn ones)."""
    out = dict(method.params)
    for name, dist in method.search.items():
        if dist.choices is not None:
            value = dist.choices[trial.params[f"{name}__index"]]
            out[name] = list(value) if isinstance(value, tuple) else value
        else:
            out[name] = trial.params[name]
    return out


def open_study(name: str, storage: str, tuning: TuningSpec, attempts: int = 8) -> optuna.Study:
    """Create or join the Optuna study ``name`` in ``storage``.

    Workers that start together race to create the database schema and the study; the loser
    of such a race retries instead of failing.
    """
    import random
    import time

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(n_startup_trials=tuning.startup_trials, seed=tuning.seed)
    pruner = make_pruner(tuning)
    for attempt in range(attempts):
        try:
            return optuna.create_study(study_name=name, storage=_storage(storage), direction="minimize",
                                       sampler=sampler, pruner=pruner, load_if_exists=True)
        except Exception as exc:  # sqlalchemy errors from a concurrent schema/study creation
            racing = type(exc).__name__ in ("IntegrityError", "OperationalError", "DuplicatedStudyError") or any(
                text in str(exc) for text in ("already exists", "locked", "UNIQUE constraint"))
            if attempt == attempts - 1 or not racing:
                raise
            time.sleep(0.2 + random.random() * 0.5)
    raise AssertionError("unreachable")


def make_pruner(tuning: TuningSpec) -> optuna.pruners.BasePruner:
    """The study's pruner (``tuning.pruner``); trials report at each tenth of their budget.

    - ``"median"``: from the second report on, a trial whose best validation loss is worse
      than the median of earlier trials at the same report stops (after the start-up trials);
    - ``"halving"``: asynchronous successive halving (Li et al. 2018, "Massively parallel
      hyperparameter tuning"): at 10% of the budget a trial continues only if it is in the
      best third of the trials that reached 10%, and again at 30% and 90%;
    - ``"none"``: every trial runs its whole budget.
    """
    if tuning.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=max(tuning.startup_trials, 1), n_warmup_steps=PRUNE_WARMUP)
    if tuning.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=HALVING_MIN_RESOURCE,
                                                      reduction_factor=HALVING_FACTOR, min_early_stopping_rate=0)
    return optuna.pruners.NopPruner()


def _storage(url: str) -> Any:
    """SQLite waits for a concurrent writer's lock (up to a minute) instead of failing at once."""
    if url.startswith("sqlite"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    return url


#: Tenths of the training budget at which a trial reports its best validation loss so far.
PRUNE_STEPS = tuple(range(1, 10))
#: Reports before which no trial is pruned (a tenth of the budget is too early to judge).
PRUNE_WARMUP = 1
#: Successive halving: the first rung (in tenths of the budget) and the reduction factor, so the
#: rungs are at 1, 3 and 9 tenths and a third of the trials pass each.
HALVING_MIN_RESOURCE, HALVING_FACTOR = 1, 3


def _spent(t: optuna.trial.FrozenTrial) -> bool:
    """A trial that used budget: finished, running, queued or pruned (not one refused because
    the budget was already spent, nor one that failed)."""
    if t.state == optuna.trial.TrialState.PRUNED:
        return not t.user_attrs.get("over_budget")
    return t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING,
                       optuna.trial.TrialState.WAITING)


def _interrupted(t: optuna.trial.FrozenTrial) -> bool:
    return t.state == optuna.trial.TrialState.FAIL and bool(t.user_attrs.get("interrupted"))


class _QuietInterrupts(logging.Filter):
    """Drops optuna's two warnings about a trial stopped by Ctrl-C (the first with the whole
    traceback of the fit): orkit marks the trial interrupted and runs it again on resume, and
    the command line says so once. Failures of any other kind are still logged."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: str | None = None  # the interrupted trial whose second warning comes next

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            match = re.match(r"Trial (\d+) ", message)
            self.pending = match.group(1) if match else None
            return False
        pending, self.pending = self.pending, None
        return not (pending is not None and message == f"Trial {pending} failed with value None.")


def _quiet_interrupts() -> None:
    """Install :class:`_QuietInterrupts` on the logger of optuna's trial loop (once)."""
    logger = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _QuietInterrupts) for f in logger.filters):
        logger.addFilter(_QuietInterrupts())


class PruningReporter:
    """A learner ``callback`` that reports the best validation loss so far at each tenth of the
    training budget and stops the trial (``optuna.TrialPruned``) when the study's pruner says so.

    ``budget`` is the training budget in the unit of ``key`` (``"timesteps"`` for PPO and DDPG,
    ``"epoch"`` for DS).
    """

    def __init__(self, trial: optuna.Trial, key: str, budget: float) -> None:
        self.trial, self.key, self.budget = trial, key, float(budget)
        self.best, self.next = float("inf"), 0

    def __call__(self, entry: dict[str, Any]) -> None:
        if "validation_loss" in entry:
            self.best = min(self.best, float(entry["validation_loss"]))
        done = float(entry.get(self.key, 0)) / self.budget
        while self.next < len(PRUNE_STEPS) and done * 10 >= PRUNE_STEPS[self.next]:
            step = PRUNE_STEPS[self.next]
            self.next += 1
            if self.best < float("inf"):
                self.trial.report(self.best, step)
                if self.trial.should_prune():
                    raise optuna.TrialPruned(f"best validation loss {self.best:.4g} at {step}/10 of the budget")


def tune(
    study: optuna.Study,
    method: MethodSpec,
    objective: Callable[[dict[str, Any]], float],
    tuning: TuningSpec,
    progress: Callable[[], None] | None = None,
) -> optuna.Study:
    """Run trials until ``tuning.trials`` of them have completed (counting every worker's).

    Deterministic and resumable:

    - a trial interrupted by Ctrl-C is marked and its configuration enqueued again on resume
      (a trial of a killed run is marked on resume, by :func:`recover_orphans`);
    - each trial re-seeds the sampler from its own number (less the interrupted trials before
      it), so the k-th configuration does not depend on which process drew it, and concurrent
      workers draw from different streams;
    - the budget counts completed, running and pruned trials by trial number (numbers come
      from the storage), so concurrent workers never exceed it and no trial runs twice;
    - with ``tuning.pruner = "median"`` an ``objective(params, trial)`` may report to the trial
      (see :class:`PruningReporter`) and be stopped early; a pruned trial is part of the budget
      and is among the top configurations only when fewer than ``top_k`` trials finished.
    """

    def run(trial: optuna.Trial) -> float:
        trials = study.get_trials(deepcopy=False)
        before = [t for t in trials if _spent(t) and t.number < trial.number]
        if len(before) >= tuning.trials:  # other workers filled the budget meanwhile
            trial.set_user_attr("over_budget", True)
            raise optuna.TrialPruned("budget reached")
        # this trial's draw depends on its position, not on the process that runs it
        skipped = sum(1 for t in trials if t.number < trial.number and _interrupted(t))
        study.sampler = optuna.samplers.TPESampler(n_startup_trials=tuning.startup_trials,
                                                   seed=tuning.seed + trial.number - skipped)
        params = dict(method.params)
        for name, dist in method.search.items():
            params[name] = suggest(trial, name, dist)
        try:
            value = objective(params, trial) if _takes_trial(objective) else objective(params)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        except optuna.TrialPruned:
            if progress:
                progress()
            raise
        if progress:
            progress()
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _quiet_interrupts()
    while True:
        live = [t for t in study.get_trials(deepcopy=False) if _spent(t)]
        if len(live) >= tuning.trials:
            break
        requeue_interrupted(study)
        study.optimize(run, n_trials=1, catch=(ValueError, RuntimeError, FloatingPointError))
    return study


def requeue_interrupted(study: optuna.Study) -> int:
    """Enqueue again the configurations of trials interrupted by Ctrl-C that are not already
    run, running or queued; return how many were enqueued.

    :func:`tune` calls it before every trial; a runner that starts several workers on one study
    calls it once first, so that workers starting together do not enqueue the same one twice.
    """
    trials = study.get_trials(deepcopy=False)
    # a queued trial's configuration is in its fixed_params, also once a worker has taken it
    # (RUNNING) and before its objective has suggested them (its params are still empty)
    seen = [t.system_attrs.get("fixed_params") or t.params for t in trials if _spent(t)]
    added = 0
    for t in trials:
        if _interrupted(t) and t.params not in seen:
            study.enqueue_trial(t.params)
            seen.append(t.params)
            added += 1
    return added


def recover_orphans(study: optuna.Study) -> int:
    """Mark the trials a killed run left ``RUNNING`` (SIGKILL, out of memory, power loss: no
    Python code ran to mark them) as interrupted, so that :func:`requeue_interrupted` runs their
    configurations again and the budget counts them once; return how many.

    Only for a study no other process is working on: the runner calls it at the start of a run
    whose tuning database is its own (the default SQLite file in the run folder), before its
    workers start. A trial running in another process would be run twice.
    """
    orphans = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    storage = study._storage  # optuna has no public call to fail a trial it did not hand out
    for t in orphans:
        storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        storage.set_trial_user_attr(t._trial_id, "orphaned", True)
        storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
    return len(orphans)


def _takes_trial(objective: Callable) -> bool:
    import inspect

    try:
        return len(inspect.signature(objective).parameters) >= 2
    except (TypeError, ValueError):
        return False


def top_configurations(study: optuna.Study, method: MethodSpec, k: int) -> list[dict[str, Any]]:
    """The ``k`` best distinct configurations: finished trials by validation loss, then (when
    fewer than ``k`` finished, as with an aggressive pruner) pruned trials, those that trained
    longest first and among them by their last reported validation loss."""
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    done.sort(key=lambda t: (t.value, t.number))
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values
              and not t.user_attrs.get("over_budget")]
    pruned.sort(key=lambda t: (-max(t.intermediate_values), t.intermediate_values[max(t.intermediate_values)], t.number))
    out: list[dict[str, Any]] = []
    for t in done + pruned:
        params = params_of(t, method)
        if params not in out:
            out.append(params)
        if len(out) == k:
            break
    return out


def trial_losses(study: optuna.Study, method: MethodSpec) -> list[tuple[dict[str, Any], float]]:
    """(configuration, validation loss) of every finished trial: the loss of that
    configuration's run with the tuning seed, which a re-run with that seed reproduces."""
    return [(params_of(t, method), float(t.value)) for t in study.trials
            if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]


def best_so_far(study: optuna.Study) -> list[float]:
    """Best validation loss after each trial, in trial order (for the report's curve)."""
    values, best = [], float("inf")
    for t in sorted(study.trials, key=lambda t: t.number):
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None:
            best = min(best, t.value)
            values.append(best)
    return values
