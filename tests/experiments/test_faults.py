"""Faults lose nothing: interrupted, killed, full-disk and failing runs of `orkit run` resume to
the results of an uninterrupted run, and every fault is reported in one line.

The studies here are small heuristic studies whose tuning is seeded random sampling
(``startup_trials >= trials``): each trial's configuration is a function of its position
only, so even a two-worker run has one right answer to compare with.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from orkit.cli.main import main
from orkit.core import ConfigError
from orkit.core import files as files_mod
from orkit.core.errors import DataError, OrkitError
from orkit.experiments import registry
from orkit.experiments import report as report_mod
from orkit.experiments import runner as runner_mod
from orkit.experiments.config import load_study
from orkit.experiments.report import write_report
from orkit.experiments.runner import RESULT_COLUMNS, OutputError, StudyRunner, read_results
from testkit import TINY_STUDY, write_study

# the tiny study, every trial drawn at random (so concurrent workers draw the same configurations)
STUDY = TINY_STUDY.replace('name = "tiny"', 'name = "faults"').replace("startup_trials = 3", "startup_trials = 6")


def load(path: Path):
    return load_study(path, known_methods=set(registry.POLICIES))


def table(rows: list[dict]) -> list[tuple]:
    """Result rows in a fixed order, every column but the (timing) train_seconds."""
    columns = [c for c in RESULT_COLUMNS if c != "train_seconds"]
    keyed = [tuple(str(r[c]) for c in columns) for r in rows]
    at = {c: columns.index(c) for c in ("dataset", "label", "seed", "split")}
    return sorted(keyed, key=lambda t: (t[at["dataset"]], t[at["label"]], int(t[at["seed"]]), t[at["split"]]))


def temporaries(folder: Path) -> list[Path]:
    """Temporary files of the atomic writer left behind (there must be none)."""
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
                    out.append(int(entry.name))
    return out


def gone(pid: int) -> bool:
    """A process that has exited (a zombie not yet reaped by its new parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2:].split()[0] in ("Z", "X")


def trial_rows(out: Path) -> list[tuple[int, str, dict]]:
    """(number, state, user attributes) of every trial in the folder's tuning database."""
    import json

    with contextlib.closing(sqlite3.connect(out / "tuning.db")) as db:
        trials = db.execute("select trial_id, number, state from trials order by number").fetchall()
        return [(number, state, {k: json.loads(v) for k, v in db.execute(
            "select key, value_json from trial_user_attributes where trial_id = ?", (tid,))})
            for tid, number, state in trials]


def trial_params(out: Path) -> dict[int, float]:
    with contextlib.closing(sqlite3.connect(out / "tuning.db")) as db:
        return dict(db.execute("select t.number, p.param_value from trials t join trial_params p "
                               "on t.trial_id = p.trial_id where p.param_name = 'quantity'").fetchall())


# ---------------------------------------------------------------------- 3, 4, 5: interruptions
# A study run through the CLI in a subprocess, whose tuned method is a constant order whose fit
# waits at a gate (a file) once FREE fits have started, in any process: the test interrupts
# the run while its last trials wait there, and the resumed run opens the gate.
GATED_SCRIPT = '''
import fcntl, os, sys, time

from orkit.experiments import registry
from orkit.heuristics import ConstantOrderPolicy


class Gated:
    """A constant order whose fit waits for the gate file once ORKIT_TEST_FREE fits started."""

    def __init__(self, quantity=None):
        self.quantity = quantity
        self._inner = ConstantOrderPolicy(quantity)

    def fit(self, train, validation, problem):
        with open(os.environ["ORKIT_TEST_COUNTER"], "a") as handle:  # one byte per fit started
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write("x")
            handle.flush()
            started = os.fstat(handle.fileno()).st_size
        while started > int(os.environ["ORKIT_TEST_FREE"]) and not os.path.exists(os.environ["ORKIT_TEST_GATE"]):
            time.sleep(0.02)
        return self

    def act(self, obs):
        return self._inner.act(obs)


registry.register("gated-constant", Gated)  # at import: spawned workers import this file too

if __name__ == "__main__":
    from orkit.cli.main import main

    sys.exit(main(sys.argv[1:]))
'''

TRIALS = 6


def _gated_command(script: Path, study: Path, out: Path) -> list[str]:
    return [sys.executable, str(script), "run", str(study), "--output", str(out), "--workers", "2", "--no-progress"]


def _gated_env(folder: Path, free: int) -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", ORKIT_TEST_COUNTER=str(folder / "fits"),
                ORKIT_TEST_GATE=str(folder / "gate"), ORKIT_TEST_FREE=str(free))


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """The gated study and its uninterrupted two-worker run (the reference)."""
    root = tmp_path_factory.mktemp("gated")
    script = root / "gated.py"
    script.write_text(GATED_SCRIPT)
    study = write_study(root, STUDY.replace('name = "constant-order"', 'name = "gated-constant"'))
    (root / "gate").touch()
    out = root / "reference"
    done = subprocess.run(_gated_command(script, study, out), env=_gated_env(root, 0), capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    return SimpleNamespace(script=script, study=study, reference=table(read_results(out / "results.csv")))


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_an_interrupted_two_worker_run_resumes_to_the_uninterrupted_results(gated, tmp_path, signame):
    """Interrupt `orkit run --workers 2` while its last two tuning trials run: with Ctrl-C
    (SIGINT) or SIGTERM the trials are marked interrupted and the workers stopped; with
    SIGKILL the workers die with their parent (PR_SET_PDEATHSIG / watchdog) and leave the
    trials running in the database. The same command then runs those trials again (once
    each; before, they were queued but never run: 3 of 5 trials selected from) and ends with
    exactly the uninterrupted run's results."""
    out = tmp_path / "run"
    command = _gated_command(gated.script, gated.study, out)
    # the first TRIALS - 2 fits run, the last two trials wait at the closed gate
    run = subprocess.Popen(command, env=_gated_env(tmp_path, TRIALS - 2), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    fits = tmp_path / "fits"
    try:
        wait_until(lambda: fits.exists() and fits.stat().st_size >= TRIALS, 300, "the last two trials to start")
        workers = [pid for pid in children(run.pid)]
        assert len(workers) >= 2  # the two workers (and multiprocessing's resource tracker)
        os.kill(run.pid, getattr(signal, signame))
        _, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    if signame == "SIGKILL":
        assert run.returncode == -signal.SIGKILL
    else:
        assert run.returncode == 130, err
        assert "orkit: interrupted; finished cells are kept" in err and "Traceback" not in err, err
    # 4: no worker outlives its parent
    wait_until(lambda: all(gone(pid) for pid in workers), 10, f"the workers {workers} to end with their parent")

    states = [state for _, state, _ in trial_rows(out)]
    assert states.count("COMPLETE") == TRIALS - 2
    if signame == "SIGKILL":
        assert states.count("RUNNING") == 2  # nobody could mark them
    else:
        assert "RUNNING" not in states
        assert sum(1 for _, state, attrs in trial_rows(out) if state == "FAIL" and attrs.get("interrupted")) == 2

    fits.unlink()
    (tmp_path / "gate").touch()
    resumed = subprocess.run(command, env=_gated_env(tmp_path, 0), capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    assert table(read_results(out / "results.csv")) == gated.reference
    # 5: the budget is spent exactly and no configuration ran twice (nor crashed telling a trial)
    trials = trial_rows(out)
    complete = [number for number, state, _ in trials if state == "COMPLETE"]
    params = trial_params(out)
    assert len(complete) == TRIALS and len({params[n] for n in complete}) == TRIALS
    interrupted = [number for number, state, attrs in trials if state == "FAIL" and attrs.get("interrupted")]
    assert len(interrupted) == 2 and all(params[n] in {params[c] for c in complete} for n in interrupted)
    assert "Cannot tell" not in resumed.stderr and "Traceback" not in resumed.stderr


def test_the_watchdog_ends_a_worker_whose_parent_is_gone():
    """Where PR_SET_PDEATHSIG is missing (not Linux) a worker's watchdog thread ends it when
    its parent dies: here the watchdog alone, in a child of a process that is then killed."""
    watch = "import sys; from orkit.experiments.runner import _watch_parent; _watch_parent(int(sys.argv[1]), 0.05)"
    parent = subprocess.Popen([sys.executable, "-c", (
        "import os, subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {watch!r}, str(os.getpid())])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        time.sleep(0.5)
        assert not gone(child)
        parent.kill()
        parent.wait(timeout=30)
        wait_until(lambda: gone(child), 60, "the orphaned child to exit")
    finally:
        parent.kill()


def test_a_second_run_of_a_folder_in_use_is_refused(tmp_path):
    """One run at a time holds an output folder (so the trials its database shows running are
    its own or a dead run's, which a resume may safely run again)."""
    import fcntl

    config = load(write_study(tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".orkit-run.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ConfigError, match="is in use by another orkit run"):
            StudyRunner(config, output=out, progress=False).run()
    assert not (out / "results.csv").exists()


def test_orphans_of_a_live_process_are_not_taken_over(tmp_path):
    """recover_orphans never marks a trial whose process is still alive: it waits, then
    refuses in one line, so a configuration is never run by two processes at once."""
    import optuna

    from orkit.experiments.config import TuningSpec
    from orkit.experiments.tuning import open_study, recover_orphans

    study = open_study("s", f"sqlite:///{tmp_path / 't.db'}", TuningSpec())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = Path(f"/proc/{sleeper.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        trial = study.ask()
        trial.set_user_attr("process", f"{os.uname().nodename}/{sleeper.pid}/{start}")
        with pytest.raises(ConfigError, match=f"still running in process {sleeper.pid}"):
            recover_orphans(study, wait=0.3)
        sleeper.kill()
        sleeper.wait()
        assert recover_orphans(study, wait=5) == 1  # once the process is gone (a zombie counts)
    finally:
        sleeper.kill()
    assert study.trials[0].state == optuna.trial.TrialState.FAIL and study.trials[0].user_attrs["orphaned"]


KILLED_TWICE = '''
import os, signal, sys

from orkit.experiments import registry
from orkit.experiments.config import load_study
from orkit.experiments.runner import StudyRunner

real, calls = registry.resolve("constant-order"), [0]


def killed(quantity=None):  # SIGKILL at the given call of the tuned method: no Python code runs after it
    calls[0] += 1
    if calls[0] == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(quantity)


registry.POLICIES["constant-order"] = killed
config = load_study(sys.argv[1], known_methods=set(registry.POLICIES))
StudyRunner(config, output=sys.argv[2], progress=False).run()
'''


def test_a_one_worker_run_killed_twice_resumes_to_identical_files(tmp_path):
    """Keep what worked: a one-worker run killed with -9 twice (in tuning trials) resumes to
    an identical results.csv and identical saved policies, neural weights included."""
    study = write_study(tmp_path, STUDY + """
[[methods]]
name = "ds"
label = "DS tiny"
params = { max_epochs = 3, hidden_sizes = [8] }
""")
    config = load(study)
    StudyRunner(config, output=tmp_path / "reference", progress=False).run()
    script = tmp_path / "killed.py"
    script.write_text(KILLED_TWICE)
    out = tmp_path / "run"
    for at in (4, 3):  # the 4th trial, then the 3rd call of the resumed run
        killed = subprocess.run([sys.executable, str(script), str(study), str(out), str(at)], capture_output=True,
                                text=True, timeout=240, env=dict(os.environ, OMP_NUM_THREADS="1"))
        assert killed.returncode == -signal.SIGKILL, killed.stderr
    StudyRunner(config, output=out, progress=False).run()
    assert table(read_results(out / "results.csv")) == table(read_results(tmp_path / "reference" / "results.csv"))
    saved = sorted(p.relative_to(out) for p in (out / "policies").rglob("*")
                   if p.is_file() and p.suffix in (".safetensors", ".pt", ".json") and p.name != "policy.json")
    assert any(p.suffix == ".safetensors" for p in saved)
    for name in saved:
        assert (out / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name
    for name in ("paths/constant-tuned.csv", "tuning/constant-tuned.json"):
        assert (out / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name


# ---------------------------------------------------------------------- 1, 2: files
def test_every_result_file_is_renamed_into_place(tmp_path, monkeypatch):
    """results.csv, study.json, tuning/*.json, paths/*.csv, report.md and the plots are each
    written to a temporary file and renamed over the target (a crash or a full disk leaves
    the previous file or none, never a torn one)."""
    renamed = set()
    real = os.replace

    def replace(source, target, *args, **kwargs):
        renamed.add(Path(target).resolve())
        return real(source, target, *args, **kwargs)

    monkeypatch.setattr(files_mod.os, "replace", replace)
    out = tmp_path / "out"
    StudyRunner(load(write_study(tmp_path)), output=out, progress=False).run()
    write_report(out)
    written = [p.resolve() for p in out.rglob("*") if p.is_file() and "policies" not in p.parts
               and not p.name.startswith("tuning.db") and not p.name.endswith(".lock")]
    assert {p.name for p in written} >= {"results.csv", "study.json", "report.md", "test_loss.png", "paths.png",
                                         "tuning.png", "constant-tuned.json", "base-25.csv"}
    assert [p for p in written if p not in renamed] == []


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run of the study (its folder is copied by the tests that damage it)."""
    root = tmp_path_factory.mktemp("finished")
    config = load(write_study(root))
    StudyRunner(config, output=root / "out", progress=False).run()
    return SimpleNamespace(config=config, folder=root / "out", reference=table(read_results(root / "out" / "results.csv")))


def _last_row_cut(text: str) -> str:
    body = text.rstrip("\r\n")
    return body[: body.rfind("\n") + 1 + 25]  # the last row cut 25 characters in


@pytest.mark.parametrize("damage, dropped", [
    (lambda text: "", "the file was empty (0 bytes)"),
    (lambda text: text[: text.index("\n") + 1], None),  # the header alone: a table with no rows
    (_last_row_cut, "dropped a torn last line ('data,constant-order,const')"),
    (lambda text: text[: text.rstrip("\r\n").rfind("\n") + 1], "dropped the rows of unfinished cell(s) "
                                                                "(data, constant (tuned), seed 1), which run again"),
    (lambda text: text[:30], "dropped a torn header"),
], ids=["empty", "header-only", "torn-last-row", "cell-without-test-row", "torn-header"])
def test_a_torn_results_table_is_repaired_on_start(finished, tmp_path, caplog, damage, dropped):
    """A torn results.csv (an older version's append cut short by a kill or a full disk) is
    repaired when the run starts, with one warning line saying what was dropped; the cells
    it lost run again and the run ends as an uninterrupted one. Before, a 0-byte file made
    every later run of the folder crash with a KeyError."""
    out = tmp_path / "out"
    shutil.copytree(finished.folder, out)
    path = out / "results.csv"
    path.write_bytes(damage(path.read_bytes().decode()).encode())
    with caplog.at_level(logging.WARNING, logger="orkit"):
        rows = StudyRunner(finished.config, output=out, progress=False).run()
    repaired = [r.getMessage() for r in caplog.records if "repaired" in r.getMessage()]
    if dropped is None:
        assert repaired == []
    else:
        assert len(repaired) == 1 and "\n" not in repaired[0] and str(path) in repaired[0]
        assert dropped in repaired[0], repaired[0]
    assert table(rows) == finished.reference == table(read_results(path))


@pytest.mark.parametrize("damage, message", [
    (lambda text: text.replace(",loss,", ",cost,", 1), r"the header is not that of an orkit results table "
                                                        r"\(missing columns loss; unknown columns 'cost'\)"),
    (lambda text: text.replace(",test,", ",tset,", 1), r"results.csv, line \d+: split must be one of train, "
                                                        r"validation, test, got 'tset'"),
    (lambda text: text.replace("data,", "data,x,", 1).replace("\n", "\nrubbish\n", 1),
     r"line 2: a row must have 15 fields, got 1"),
], ids=["wrong-header", "bad-split", "bad-row"])
def test_a_results_table_that_cannot_be_repaired_is_refused(finished, tmp_path, damage, message):
    """A results.csv that is not orkit's (another header) or is damaged inside (a complete
    row that breaks a rule) is refused in one line naming the file and what is wrong, and
    left as it is; never a KeyError traceback."""
    out = tmp_path / "out"
    shutil.copytree(finished.folder, out)
    path = out / "results.csv"
    path.write_bytes(damage(path.read_bytes().decode()).encode())
    before = path.read_bytes()
    with pytest.raises(DataError, match=message):
        StudyRunner(finished.config, output=out, progress=False).run()
    assert path.read_bytes() == before


def test_a_damaged_study_marker_is_one_clear_line(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "study.json").write_text('{"name": "fau')
    assert main(["run", str(write_study(tmp_path)), "--output", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "study.json is damaged" in err


# ---------------------------------------------------------------------- 6: failing trials
@pytest.mark.parametrize("workers", [1, 2])
def test_a_study_whose_trials_all_fail_stops_with_one_message(tmp_path, caplog, capfd, workers):
    """Every configuration of the search space is invalid: tuning stops after as many failures
    as the trial budget with one message naming the method and the last error (before: 652
    failed trials and 15,648 warning lines in 120 s, never stopping). Each failure is one log
    line, without a traceback; optuna's own warnings are not shown."""
    study = write_study(tmp_path, STUDY.replace("low = 5.0, high = 15.0", "low = -15.0, high = -5.0"))
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        code = main(["run", str(study), "--output", str(out), "--no-progress", "--workers", str(workers)])
    assert code == 2
    captured = capfd.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("orkit: error:")]
    assert len(errors) == 1
    assert __import__("re").fullmatch(
        r"orkit: error: methods\[constant \(tuned\)\]: (\d+) tuning trials failed and none finished; "
        r"last error: quantity must be >= 0, got -\d+(\.\d+)?", errors[0]), errors[0]
    reported = int(errors[0].split("]: ")[1].split()[0])
    failed = sum(1 for _, state, attrs in trial_rows(out) if state == "FAIL" and not attrs.get("interrupted"))
    # bounded: the budget's worth, and one more per other worker that was finishing a trial
    assert TRIALS <= reported <= failed <= TRIALS + workers - 1
    lines = [r.getMessage() for r in caplog.records] + captured.err.splitlines()
    per_trial = [m for m in lines if "tuning trial" in m and "failed:" in m]
    # one line per failed trial, none more: a worker stopped while it was failing its last
    # trial records the failure and logs it before it stops (orkit.core.interrupts.shielded)
    assert len(per_trial) == failed and "Traceback" not in captured.err
    assert not [r for r in caplog.records if r.name.startswith("optuna")]


def test_tuning_that_keeps_failing_selects_among_what_finished(tmp_path, monkeypatch, caplog):
    """Most configurations fail (here quantity < 11): tuning stops after `trials` failures and
    selects among the trials that finished, saying so once."""
    real = registry.resolve("constant-order")

    def picky(quantity=None):
        if quantity is not None and quantity < 11:
            raise ValueError(f"quantity must be >= 11, got {quantity:.3g}")
        return real(quantity)

    monkeypatch.setitem(registry.POLICIES, "constant-order", picky)
    config = load(write_study(tmp_path))
    with caplog.at_level(logging.WARNING):
        rows = StudyRunner(config, output=tmp_path / "out", progress=False).run()
    stopped = [r.getMessage() for r in caplog.records if "tuning stopped after" in r.getMessage()]
    assert len(stopped) == 1 and "last error: ValueError: quantity must be >= 11" in stopped[0]
    states = [state for _, state, _ in trial_rows(tmp_path / "out")]
    assert states.count("FAIL") == TRIALS and 0 < states.count("COMPLETE") < TRIALS
    tuned = {float(__import__("json").loads(r["params"])["quantity"]) for r in rows if r["label"] == "constant (tuned)"}
    assert len(tuned) == 1 and tuned.pop() >= 11


def test_a_failed_trial_is_one_line_and_ctrl_c_none(caplog):
    """A trial that fails is one warning line naming the method, the trial and the error, with
    no traceback; a trial stopped by Ctrl-C logs nothing (the command line says it once) and
    is marked interrupted; optuna itself logs nothing. (Replaces the test that expected
    optuna's two warnings, the first with the whole traceback, per failed trial.)"""
    import optuna

    from orkit.experiments.config import Distribution, MethodSpec, TuningSpec
    from orkit.experiments.tuning import tune

    method = MethodSpec(name="constant-order", label="c", search={"quantity": Distribution(low=5.0, high=15.0)})
    calls = {"n": 0}

    def objective(params):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("a real failure")
        raise KeyboardInterrupt

    study = optuna.create_study()
    with caplog.at_level(logging.DEBUG), pytest.raises(KeyboardInterrupt):
        tune(study, method, objective, TuningSpec(trials=3, startup_trials=3))
    messages = [(r.name, r.levelno, r.getMessage(), r.exc_info) for r in caplog.records]
    assert messages == [("orkit.experiments.tuning", logging.WARNING,
                         "methods[c]: tuning trial 0 failed: ValueError: a real failure", None)]
    assert study.trials[0].user_attrs["error"] == "ValueError: a real failure"
    assert study.trials[1].user_attrs.get("interrupted") is True


def test_a_study_that_ended_with_no_finished_trial_is_retried_when_run_again(tmp_path, caplog):
    """After "N tuning trials failed and none finished", running again tries again with a new
    allowance (the cause may have been transient or fixed); failures that did not end tuning
    count across resumes, so a resumed run stops where an uninterrupted one would."""
    config = load(write_study(tmp_path, STUDY.replace("low = 5.0, high = 15.0", "low = -15.0, high = -5.0")))
    for attempt in (1, 2):
        with pytest.raises(ConfigError, match=rf"{TRIALS} tuning trials failed and none finished"):
            StudyRunner(config, output=tmp_path / "out", progress=False).run()
        assert sum(1 for _, state, _ in trial_rows(tmp_path / "out") if state == "FAIL") == attempt * TRIALS
    assert len(read_results(tmp_path / "out" / "results.csv")) == 2 * 3  # the untuned cells are kept


# ---------------------------------------------------------------------- 7: storage, output
def _driver_missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


@pytest.mark.parametrize("url, reason", [
    ("nosuchdb://host/x", "unknown database dialect 'nosuchdb'"),
    ("postgresql+psycopg2://me:secret@localhost/x", "its database driver is not installed (No module named 'psycopg2')"),
    ("sqlite:///{missing}/tuning.db", "cannot connect (unable to open database file)"),
    ("not a url", "not a database URL"),
], ids=["unknown-dialect", "missing-driver", "unreachable", "not-a-url"])
def test_a_bad_storage_url_fails_before_any_cell(tmp_path, capsys, url, reason):
    """A bad --storage fails in one line naming the URL (password hidden) and the reason,
    before any cell is computed (before: a 35-137-line traceback after the untuned cells)."""
    if "psycopg2" in url and not _driver_missing("psycopg2"):
        pytest.skip("psycopg2 is installed here")
    url = url.format(missing=tmp_path / "no" / "such" / "folder")
    out = tmp_path / "out"
    assert main(["run", str(write_study(tmp_path)), "--output", str(out), "--storage", url, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("orkit: error: --storage: cannot open the tuning database") and reason in err, err
    assert "secret" not in err
    assert not (out / "results.csv").exists() and not (out / "policies").exists()


def test_an_output_that_is_a_file_is_one_clear_line(tmp_path, capsys):
    existing = tmp_path / "results"
    existing.write_text("mine")
    for output, message in ((existing, f"output: {existing} is a file, not a folder"),
                            (existing / "sub", f"output: cannot create the folder {existing / 'sub'}: a part of "
                                               "its path is a file")):
        assert main(["run", str(write_study(tmp_path)), "--output", str(output), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    assert existing.read_text() == "mine"


# ---------------------------------------------------------------------- 8: full disk
class _FullDisk:
    """A file handle on a full disk: every write fails with ENOSPC."""

    def __init__(self, handle):
        self._handle = handle

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._handle, name)


def _fill_disk_at(monkeypatch, target: str, occurrence: int) -> None:
    """Make the ``occurrence``-th atomic write of a file named ``target`` (or of a file in the
    folder ``target``) fail with ENOSPC inside the real atomic writer."""
    real = files_mod.atomic_write
    seen = {"n": 0}

    @contextlib.contextmanager
    def atomic_write(path, *args, **kwargs):
        with real(path, *args, **kwargs) as handle:
            if target in (Path(path).name, Path(path).parent.name):
                seen["n"] += 1
                if seen["n"] == occurrence:
                    handle = _FullDisk(handle)
            yield handle

    for module in (files_mod, runner_mod, report_mod):
        if hasattr(module, "atomic_write"):
            monkeypatch.setattr(module, "atomic_write", atomic_write)


@pytest.mark.parametrize("target, occurrence, kept", [
    ("study.json", 1, 0),  # the very first write
    ("results.csv", 2, 1),  # after the first cell was recorded
    ("paths", 2, 2),  # the tuned cell's sample paths
    ("tuning", 1, 2),  # the tuning summary
], ids=["study.json", "results.csv", "paths", "tuning"])
def test_a_full_disk_stops_the_run_in_one_line_and_it_resumes(finished, tmp_path, monkeypatch, capsys, target,
                                                              occurrence, kept):
    """A write that fails with ENOSPC stops the run with one line; no temporary or torn file
    is left, the cells finished before are kept, and once there is space the same command
    resumes to the uninterrupted run's results (before: a 0-byte results.csv after which
    every run of the folder crashed)."""
    study = write_study(tmp_path)
    out = tmp_path / "out"
    _fill_disk_at(monkeypatch, target, occurrence)
    assert main(["run", str(study), "--output", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left on the disk of" in err and "run the same command again" in err
    assert temporaries(out) == []
    if kept:
        assert len({(r["label"], r["seed"]) for r in read_results(out / "results.csv")}) == kept
        assert set(table(read_results(out / "results.csv"))) <= set(finished.reference)
    else:
        assert not (out / "results.csv").exists() and not (out / "study.json").exists()
    monkeypatch.undo()
    assert main(["run", str(study), "--output", str(out), "--no-progress"]) == 0
    assert table(read_results(out / "results.csv")) == finished.reference


def test_a_full_disk_is_an_orkit_error_and_an_os_error(tmp_path, monkeypatch):
    _fill_disk_at(monkeypatch, "results.csv", 1)
    with pytest.raises(OutputError) as caught:
        StudyRunner(load(write_study(tmp_path)), output=tmp_path / "out", progress=False).run()
    assert isinstance(caught.value, OrkitError) and isinstance(caught.value, OSError)


@pytest.mark.parametrize("target", ["report.md", "test_loss.png"])
def test_a_full_disk_while_writing_the_report_keeps_the_previous_one(finished, tmp_path, monkeypatch, target):
    out = tmp_path / "out"
    shutil.copytree(finished.folder, out)
    before = write_report(out, notes="first").read_bytes()
    plot = (out / "test_loss.png").read_bytes()
    if target.endswith(".png"):
        monkeypatch.setattr(files_mod.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    else:
        _fill_disk_at(monkeypatch, target, 1)
    with pytest.raises(OutputError, match="report: no space left on the disk of .*the results are complete"):
        write_report(out, notes="second")
    monkeypatch.undo()
    assert (out / "report.md").read_bytes() == before and (out / "test_loss.png").read_bytes() == plot
    assert temporaries(out) == []


@pytest.fixture
def small_disk(tmp_path):
    """A real tmpfs of 64 KiB (resized by the test), or a skip where mounting is not allowed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True,
                                 text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); the injected-ENOSPC tests cover a full disk")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not permitted'}); the injected-ENOSPC "
                    "tests cover a full disk")

    def resize(size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(disk)], check=True, capture_output=True, timeout=30)

    yield SimpleNamespace(path=disk, resize=resize)
    subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)


def _pages(folder: Path) -> int:
    """Bytes that the files in ``folder`` take on a tmpfs (whole 4 KiB pages)."""
    return sum(-(-p.stat().st_size // 4096) * 4096 for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("fraction", [0.2, 0.46, 0.7])
def test_a_run_on_a_real_full_disk_fails_cleanly_and_resumes(finished, small_disk, capsys, fraction):
    """The same on a real full file system (a small tmpfs) holding a fraction of what the
    finished run takes: the tuning database, a result file or the report no longer fits."""
    study = write_study(small_disk.path.parent)
    whole = small_disk.path.parent / "whole"  # on the ordinary disk: how much the run writes
    assert main(["run", str(study), "--output", str(whole), "--no-progress"]) == 0
    small_disk.resize(f"{max(16, int(_pages(whole) * fraction) // 1024)}k")
    capsys.readouterr()
    out = small_disk.path / "out"
    code = main(["run", str(study), "--output", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no space left" in err, err
    assert temporaries(out) == []
    if (out / "results.csv").exists():
        assert set(table(read_results(out / "results.csv"))) <= set(finished.reference)
    small_disk.resize("64m")
    assert main(["run", str(study), "--output", str(out), "--no-progress"]) == 0
    assert table(read_results(out / "results.csv")) == finished.reference
    assert (out / "report.md").exists()


def test_a_stop_request_lost_in_a_callback_is_sent_again(monkeypatch):
    """A worker's SIGTERM raised while Python ran a weak-reference callback is 'ignored' by
    Python (printed as a traceback, the job runs on); the worker's unraisable hook sends the
    signal again instead, and passes any other exception to the default hook."""
    import signal
    import types

    from orkit.experiments import runner

    received, printed = [], []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    monkeypatch.setattr(sys, "__unraisablehook__", printed.append)
    try:
        runner._interrupt_again(types.SimpleNamespace(exc_value=KeyboardInterrupt()))
        for _ in range(100):  # the handler runs at the next bytecode boundary
            if received:
                break
        assert received == [signal.SIGTERM] and printed == []
        other = types.SimpleNamespace(exc_value=ValueError("boom"))
        runner._interrupt_again(other)
        assert printed == [other] and received == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
