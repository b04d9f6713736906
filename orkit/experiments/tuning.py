"""Fair tuning (paper.md section 4): the same Optuna TPE budget for every (learner,
regularization) cell, the top-k configurations re-run with several seeds, selection on
validation, the median-seed run reported.

The Optuna study lives in SQLite inside the output folder by default; any Optuna RDB URL
(``tuning.storage``) lets several workers share one budget (see :func:`tune`).

Faults lose nothing: a trial stopped by Ctrl-C or SIGTERM is marked interrupted and its
configuration runs again on resume; a trial left running by a killed process is marked so by
:func:`recover_orphans`; workers on one SQLite database take trials one at a time under a file
lock, so no two processes run one trial; and a cell whose trials keep failing stops after a
bounded number of failures with one message (see :func:`tune`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import optuna

from orkit.core.errors import ConfigError, OrkitError
from orkit.core.interrupts import shielded
from orkit.experiments.config import Distribution, MethodSpec, TuningSpec

__all__ = ["suggest", "tune", "top_configurations", "open_study", "check_storage", "PruningReporter",
           "requeue_interrupted", "recover_orphans", "tuning_failures"]

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
    of such a race retries instead of failing. A storage that cannot be opened (unknown
    dialect, missing driver, unreachable server, a folder that does not exist) is a
    :class:`~orkit.core.errors.ConfigError` naming the URL and the reason.
    """
    import random

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(n_startup_trials=tuning.startup_trials, seed=tuning.seed)
    pruner = make_pruner(tuning)
    for attempt in range(attempts):
        try:
            return optuna.create_study(study_name=name, storage=_storage(storage, tuning.heartbeat_seconds),
                                       direction="minimize",
                                       sampler=sampler, pruner=pruner, load_if_exists=True)
        except Exception as exc:  # sqlalchemy errors from a concurrent schema/study creation
            racing = type(exc).__name__ in ("IntegrityError", "OperationalError", "DuplicatedStudyError") or any(
                text in str(exc) for text in ("already exists", "locked", "UNIQUE constraint"))
            if disk_full(exc):
                raise  # the caller says which folder is full and how to resume
            if attempt == attempts - 1 or not racing:
                raise storage_error(storage, exc, "storage") from exc
            time.sleep(0.2 + random.random() * 0.5)
    raise AssertionError("unreachable")


def check_storage(url: str, name: str = "tuning.storage") -> None:
    """Open the Optuna storage ``url`` once (creating its tables if needed) and close it, so
    that a bad URL fails before any work is done.

    Raises
    ------
    ConfigError
        ``name`` and the URL (password hidden) with the reason: an unknown database dialect,
        a driver that is not installed, a server that cannot be reached, a file that cannot be
        opened.
    """
    try:
        storage = _storage(url)
        if isinstance(storage, str):  # optuna connects lazily to a URL: connect now
            storage = optuna.storages.RDBStorage(storage)
    except Exception as exc:  # sqlalchemy and driver errors of every kind
        if disk_full(exc):
            raise  # the caller says which folder is full and how to resume
        raise storage_error(url, exc, name) from exc
    storage.engine.dispose()


def _hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL sqlalchemy can parse: shown as given
        return url


def storage_error(url: str, exc: BaseException, name: str = "storage") -> OrkitError:
    """A one-line :class:`ConfigError` for a storage that cannot be opened: ``name``, the URL
    (password hidden) and what went wrong. An orkit error passes through unchanged."""
    if isinstance(exc, OrkitError):
        return exc
    chain = list(_chain(exc))
    names = {type(e).__name__ for e in chain}
    missing = next((e for e in chain if isinstance(e, ModuleNotFoundError)), None)
    if "NoSuchModuleError" in names:
        dialect = url.partition(":")[0]
        reason = f"unknown database dialect {dialect!r} (e.g. sqlite, postgresql, mysql)"
    elif "ArgumentError" in names:
        reason = "not a database URL (dialect://user:password@host/database, e.g. sqlite:///tuning.db)"
    elif missing is not None:
        reason = f"its database driver is not installed ({missing})"
    elif isinstance(exc, ImportError):
        reason = f"its database driver is not installed ({exc})"
    else:
        cause = next((e for e in chain if type(e).__name__ == "OperationalError"), exc)
        detail = str(getattr(cause, "orig", None) or cause).split("\n")[0].strip()
        reason = f"cannot connect ({detail or type(cause).__name__})"
    return ConfigError(f"{name}: cannot open the tuning database {_hide_password(url)!r}: {reason}")


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc``, its causes and contexts (and a sqlalchemy error's driver error), once each."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        orig = getattr(exc, "orig", None)
        if isinstance(orig, BaseException) and id(orig) not in seen:
            seen.add(id(orig))
            yield orig
        exc = exc.__cause__ or exc.__context__


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the disk is full: ``OSError`` ENOSPC or EDQUOT,
    or SQLite's "database or disk is full" (optuna wraps it in its own error)."""
    import errno

    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        text = str(e)
        if "database or disk is full" in text or "No space left on device" in text:
            return True
    return False


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


def _storage(url: str, heartbeat_seconds: float | None = None) -> Any:
    """The Optuna storage of ``url``.

    - SQLite waits for a concurrent writer's lock (up to a minute) instead of failing at once.
    - A database server (PostgreSQL, MySQL) is shared by workers on several machines, any of
      which may be killed: with ``heartbeat_seconds``, each running trial records a heartbeat
      that often (Optuna's heartbeat), and a trial silent for three times as long is marked
      failed by the next worker that looks and its configuration queued again (Optuna's
      ``RetryFailedTrialCallback``, at most twice for one configuration). It records no error,
      so it counts as interrupted (:func:`_interrupted`): not a failure of its configuration,
      not part of the budget.
    """
    if url.startswith("sqlite"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    if heartbeat_seconds is None:
        return url
    interval = max(1, round(heartbeat_seconds))  # optuna counts whole seconds
    with _quiet_experimental():
        retry = optuna.storages.RetryFailedTrialCallback(max_retry=2)
        return optuna.storages.RDBStorage(url, heartbeat_interval=interval, grace_period=3 * interval,
                                          failed_trial_callback=retry)


@contextlib.contextmanager
def _quiet_experimental() -> Iterator[None]:
    """Optuna marks its heartbeat API experimental (a warning per use); orkit pins the behaviour
    in its tests instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def _heartbeat(study: optuna.Study) -> int | None:
    """The study's heartbeat interval in seconds, or None when its storage records none."""
    interval = getattr(study._storage, "get_heartbeat_interval", None)
    return interval() if callable(interval) else None


@contextlib.contextmanager
def _beating(study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Record the trial's heartbeat while the block runs (storages with a heartbeat only)."""
    interval = _heartbeat(study)
    if interval is None:
        yield
        return
    storage, stop = study._storage, threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a lost beat is retried at the next interval
                storage.record_heartbeat(trial._trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="orkit-trial-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


#: Tenths of the training budget at which a trial reports its best validation loss so far.
PRUNE_STEPS = tuple(range(1, 10))
#: Reports before which no trial is pruned (a tenth of the budget is too early to judge).
PRUNE_WARMUP = 1
#: Successive halving: the first rung (in tenths of the budget) and the reduction factor, so the
#: rungs are at 1, 3 and 9 tenths and a third of the trials pass each.
HALVING_MIN_RESOURCE, HALVING_FACTOR = 1, 3


def _spent(t: optuna.trial.FrozenTrial) -> bool:
    """A trial that uses budget: finished, running, queued or pruned (not one refused because
    the budget was already spent, nor one that failed or was interrupted)."""
    if t.state == optuna.trial.TrialState.PRUNED:
        return not t.user_attrs.get("over_budget")
    return t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING,
                       optuna.trial.TrialState.WAITING)


def _interrupted(t: optuna.trial.FrozenTrial) -> bool:
    """A trial stopped from outside: by Ctrl-C or SIGTERM (marked ``interrupted``), or killed
    (no error recorded: a killed run's orphan, or a trial whose heartbeat stopped)."""
    return t.state == optuna.trial.TrialState.FAIL and (
        bool(t.user_attrs.get("interrupted")) or "error" not in t.user_attrs)


def _failed(t: optuna.trial.FrozenTrial) -> bool:
    """A trial that failed on its own (an error or a NaN loss, recorded as ``error``)."""
    return t.state == optuna.trial.TrialState.FAIL and not _interrupted(t)


def _finished(t: optuna.trial.FrozenTrial) -> bool:
    """A trial whose configuration can be selected: completed, or pruned after training."""
    return t.state == optuna.trial.TrialState.COMPLETE or (
        t.state == optuna.trial.TrialState.PRUNED and not t.user_attrs.get("over_budget"))


#: Errors that fail one trial (recorded, logged in one line, the next trial drawn) instead of
#: stopping the run: bad values of a hyper-parameter, a diverged fit.
TRIAL_ERRORS = (OrkitError, ValueError, RuntimeError, FloatingPointError)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error_text(exc: BaseException) -> str:
    """An orkit error's own message (it names the parameter, the rule and the value); other
    errors with their type, which is part of what they say."""
    message = _one_line(str(exc))
    if isinstance(exc, OrkitError):
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _lock_path(study: optuna.Study) -> Path | None:
    """The lock file of a study in a SQLite file (``<database>.lock``), else None.

    SQLite has no row locks: two processes can both read a queued trial as waiting and both
    mark it running (optuna's ``SELECT ... FOR UPDATE`` is a plain read there), so workers take
    trials under this file lock. Server databases (PostgreSQL, MySQL) lock the row themselves.
    """
    storage = study._storage  # optuna wraps the RDB storage in a cache; its URL has no public getter
    url = getattr(getattr(storage, "_backend", storage), "url", None)
    if not isinstance(url, str) or not url.startswith("sqlite"):
        return None
    try:
        from sqlalchemy.engine import make_url

        database = make_url(url).database
    except Exception:  # pragma: no cover - the storage opened, so its URL parses
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database + ".lock")


@contextlib.contextmanager
def _study_lock(study: optuna.Study) -> Iterator[None]:
    """Hold the study's lock file (SQLite only; a no-op elsewhere and where ``fcntl`` is missing)."""
    path = _lock_path(study)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: optuna's own row handling only
        fcntl = None
    if path is None or fcntl is None:
        yield
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks after boot, from ``/proc``), or None
    where ``/proc`` is missing or the process is gone or a zombie (dead, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode(errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # the name in parentheses may hold spaces
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


_IDENTITY: dict[int, str] = {}


def _process_identity() -> str:
    """``host/pid/start`` of this process, recorded on each trial it runs (see
    :func:`recover_orphans`)."""
    pid = os.getpid()
    if pid not in _IDENTITY:
        _IDENTITY[pid] = f"{socket.gethostname()}/{pid}/{_process_start(pid) or ''}"
    return _IDENTITY[pid]


def _still_running(identity: str | None) -> int | None:
    """The pid of the process that ran a trial, if that process is still alive; else None.

    A trial of this very process is never running here (its run is only starting), nor one
    of another host (a folder's own database is used from one machine). On Linux the start
    time tells a live process from a new one that reuses the pid.
    """
    if not identity:
        return None
    host, _, rest = identity.partition("/")
    pid_text, _, start = rest.partition("/")
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return None
    pid = int(pid_text)
    if os.path.isdir("/proc"):
        now = _process_start(pid)
        return pid if now is not None and (not start or now == start) else None
    try:  # pragma: no cover - no /proc (macOS): any live process with that pid
        os.kill(pid, 0)
    except ProcessLookupError:  # pragma: no cover
        return None
    except PermissionError:  # pragma: no cover - alive, someone else's
        return pid
    return pid  # pragma: no cover


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

    - a trial interrupted by Ctrl-C (or SIGTERM, which orkit turns into Ctrl-C) is marked and
      its configuration enqueued again on resume (a trial of a killed run is marked on resume,
      by :func:`recover_orphans`); a queued trial runs even when it fills the budget;
    - each trial re-seeds the sampler from its position (its number, less the interrupted
      and refused trials before it), so the k-th configuration does not depend on which
      process drew it, and concurrent workers draw from different streams;
    - the budget counts completed, running, queued and pruned trials by trial number (numbers
      come from the storage), so concurrent workers never exceed it; on a SQLite database
      workers take trials under a file lock, so no trial runs twice;
    - with ``tuning.pruner = "median"`` an ``objective(params, trial)`` may report to the trial
      (see :class:`PruningReporter`) and be stopped early; a pruned trial is part of the budget
      and is among the top configurations only when fewer than ``top_k`` trials finished.

    A trial that fails (one of :data:`TRIAL_ERRORS`, or a NaN loss) is logged in one line and
    does not count towards the budget. After ``tuning.trials`` failures tuning stops: with no
    finished trial at all it raises :class:`~orkit.core.errors.ConfigError` naming the method
    and the last error (running again retries, with a new allowance); otherwise the cell keeps
    what finished (:func:`tuning_failures` says so). A disk-full error is not a failure of the
    configuration: it stops the run.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    takes_trial = _takes_trial(objective)
    # Failures count across resumes, so that a resumed run stops where an uninterrupted one
    # would; but a run that ended because none finished is tried again with a new allowance
    # (the cause may have been transient, or fixed meanwhile).
    trials = study.get_trials(deepcopy=False)
    ended = sum(1 for t in trials if _failed(t)) >= tuning.trials and not any(_finished(t) for t in trials)
    baseline = max((t.number for t in trials), default=-1) if ended else -1
    while True:
        with _study_lock(study):
            with _quiet_experimental():
                optuna.storages.fail_stale_trials(study)  # killed workers' trials: failed, queued again
            requeue_interrupted(study)
            trials = study.get_trials(deepcopy=False)
            failed = [t for t in trials if t.number > baseline and _failed(t)]
            if len(failed) >= tuning.trials:
                if not any(_finished(t) for t in trials):
                    raise ConfigError(_failure_message(method, failed))
                break
            waiting = any(t.state == optuna.trial.TrialState.WAITING for t in trials)
            if not waiting and sum(1 for t in trials if _spent(t)) >= tuning.trials:
                running = any(t.state == optuna.trial.TrialState.RUNNING for t in trials)
                if not (running and _heartbeat(study)):
                    break
                # others' trials are running: stay until they finish, or until their
                # heartbeats stop and a killed one's configuration comes back to run here
                time.sleep(1.0)
                continue
            trial = study.ask()  # a queued trial first; the lock makes it this process's alone
        with _beating(study, trial):
            ran = _run_trial(study, trial, method, objective, tuning, takes_trial, progress)
        if not ran:
            break  # refused: the budget is full by lower trial numbers, nothing left for this worker
    return study


def _run_trial(study: optuna.Study, trial: optuna.Trial, method: MethodSpec, objective: Callable[..., float],
               tuning: TuningSpec, takes_trial: bool, progress: Callable[[], None] | None) -> bool:
    """Run one trial that :func:`tune` took and tell the study how it ended; False when the
    trial was refused because trials with lower numbers fill the budget.

    A refused worker stops (a later failure frees a place, which the worker whose trial
    failed fills), so no loop can keep drawing refused trials."""
    state = optuna.trial.TrialState
    try:
        trial.set_user_attr("process", _process_identity())
        trials = study.get_trials(deepcopy=False)
        before = [t for t in trials if _spent(t) and t.number < trial.number]
        if len(before) >= tuning.trials:  # other workers filled the budget meanwhile
            trial.set_user_attr("over_budget", True)
            study.tell(trial, state=state.PRUNED, skip_if_finished=True)
            return False
        # this trial's draw depends on its position, not on the process that runs it
        skipped = sum(1 for t in trials if t.number < trial.number
                      and (_interrupted(t) or (t.state == state.PRUNED and t.user_attrs.get("over_budget"))))
        study.sampler = optuna.samplers.TPESampler(n_startup_trials=tuning.startup_trials,
                                                   seed=tuning.seed + trial.number - skipped)
        params = dict(method.params)
        for name, dist in method.search.items():
            params[name] = suggest(trial, name, dist)
        value = objective(params, trial) if takes_trial else objective(params)
    except optuna.TrialPruned:
        study.tell(trial, state=state.PRUNED, skip_if_finished=True)
        if progress:
            progress()
        return True
    except KeyboardInterrupt:
        trial.set_user_attr("interrupted", True)
        study.tell(trial, state=state.FAIL, skip_if_finished=True)
        raise
    except TRIAL_ERRORS as exc:
        if disk_full(exc):  # not the configuration's fault: stop the run, resume later
            raise
        _fail(study, trial, method, _error_text(exc))
        return True
    except BaseException as exc:  # a bug: record it on the trial, then stop the run
        with contextlib.suppress(Exception):
            trial.set_user_attr("error", _error_text(exc))
            study.tell(trial, state=state.FAIL, skip_if_finished=True)
        raise
    if value is None or (isinstance(value, float) and math.isnan(value)):
        _fail(study, trial, method, f"validation loss is {value}")
        return True
    # skip_if_finished: were the trial finished by someone else, this is not a reason to crash
    study.tell(trial, float(value), skip_if_finished=True)
    if progress:
        progress()
    return True


def _fail(study: optuna.Study, trial: optuna.Trial, method: MethodSpec, error: str) -> None:
    """Record a failed trial and say so in one line (no traceback: the error names the
    parameter and the value; the run goes on with the next trial). A stop request waits until
    both are done, so every recorded failure has its line."""
    with shielded():
        trial.set_user_attr("error", error)
        study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        log.warning("methods[%s]: tuning trial %d failed: %s", method.label, trial.number, error)


def _failure_message(method: MethodSpec, failed: list[optuna.trial.FrozenTrial]) -> str:
    last = max(failed, key=lambda t: t.number)
    return (f"methods[{method.label}]: {len(failed)} tuning trials failed and none finished; "
            f"last error: {last.user_attrs.get('error', 'unknown (no error recorded)')}")


def tuning_failures(study: optuna.Study, method: MethodSpec, tuning: TuningSpec) -> str | None:
    """A one-line warning when the cell's tuning stopped on failures with fewer than
    ``tuning.trials`` finished trials (the selection is among those that finished), else None."""
    trials = study.get_trials(deepcopy=False)
    failed = [t for t in trials if _failed(t)]
    finished = sum(1 for t in trials if _finished(t))
    if not failed or finished >= tuning.trials:
        return None
    last = max(failed, key=lambda t: t.number)
    return (f"methods[{method.label}]: tuning stopped after {len(failed)} failed trials with {finished} of "
            f"{tuning.trials} finished; the selection is among those; last error: "
            f"{last.user_attrs.get('error', 'unknown')}")


def requeue_interrupted(study: optuna.Study) -> int:
    """Enqueue again, once, the configuration of each trial interrupted by Ctrl-C (or killed)
    after it drew its parameters; return how many were enqueued.

    The queued trial records which trial it replaces (user attribute ``requeue_of``), so an
    interrupted trial is queued once however often this runs. A trial interrupted before it
    drew anything is not queued: the next new trial takes its position, and so its draw (see
    :func:`tune`). :func:`tune` calls this before every trial, under the study's lock on
    SQLite, so that workers starting together do not queue one configuration twice.
    """
    trials = study.get_trials(deepcopy=False)
    requeued = {t.user_attrs.get("requeue_of") for t in trials}
    # queued by an older version (no requeue_of): a queued trial's configuration is in its
    # fixed_params, also once a worker has taken it and before it has suggested them
    seen = [t.system_attrs.get("fixed_params") or t.params for t in trials if _spent(t)]
    added = 0
    for t in trials:
        if not _interrupted(t) or not t.params or t.number in requeued or t.params in seen:
            continue
        study.enqueue_trial(t.params, user_attrs={"requeue_of": t.number})
        seen.append(t.params)
        added += 1
    return added


def recover_orphans(study: optuna.Study, wait: float = 10.0) -> int:
    """Mark the trials a killed run left ``RUNNING`` (SIGKILL, out of memory, power loss: no
    Python code ran to mark them) as interrupted, so that :func:`requeue_interrupted` runs their
    configurations again and the budget counts them once; return how many.

    Only for a study no other process is working on: the runner calls it at the start of a run
    whose tuning database is its own (the default SQLite file in the run folder, which one run
    at a time holds), before its workers start. The workers of a killed run die with it; a
    trial whose process (recorded on the trial) is still alive is waited for up to ``wait``
    seconds, then refused, so that no configuration is ever run by two processes at once.

    Raises
    ------
    ConfigError
        A trial's process is still running after ``wait`` seconds.
    """
    orphans = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    deadline = time.monotonic() + wait
    for t in orphans:
        while (pid := _still_running(t.user_attrs.get("process"))) is not None:
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"tuning trial {t.number} of study {study.study_name!r} is still running in process {pid} "
                    "(a worker of an earlier run of this folder?); let it finish or stop it, then run again")
            time.sleep(0.1)
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
