"""Tuning workers sharing one Optuna study on a real PostgreSQL server.

`.ci/run` starts a throwaway server (Debian's package, 127.0.0.1 only, data in a temporary
folder) and sets ``ORKIT_TEST_POSTGRES_URL``; without it these tests skip and say why. The URL is
the one the docs show, ``postgresql://user@host:port/database`` (the driver is the ``postgres``
extra, psycopg 3, which ``make test`` installs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pandas as pd
import pytest

from testkit import TINY_STUDY, write_study

pytestmark = pytest.mark.postgres

URL = os.environ.get("ORKIT_TEST_POSTGRES_URL")
BUDGET = 8


@pytest.fixture
def url():
    if not URL:
        pytest.skip("no PostgreSQL server: .ci/run starts one and sets ORKIT_TEST_POSTGRES_URL")
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (pip install 'orkit[postgres]') is missing")
    return URL


def _study(tmp_path, heartbeat: float = 30.0, name: str | None = None):
    """The tiny study under a fresh name (each test its own Optuna studies), every trial drawn at
    random so that the configurations do not depend on which worker draws them."""
    name = name or f"pg-{uuid.uuid4().hex[:10]}"
    text = (TINY_STUDY.replace('name = "tiny"', f'name = "{name}"')
            .replace("trials = 6", f"trials = {BUDGET}").replace("startup_trials = 3", f"startup_trials = {BUDGET}")
            + f"heartbeat_seconds = {heartbeat}\n")
    return write_study(tmp_path, text, f"{name}.toml"), f"{name}/data/constant (tuned)"


def _tune(study_file, url, script: str | None = None):
    command = ["-m", "orkit"] if script is None else ["-c", script]
    return subprocess.Popen([sys.executable, *command, "tune", str(study_file), "--method", "constant (tuned)",
                             "--storage", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _trials(url, name):
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def test_two_tune_workers_share_the_budget_exactly(url, tmp_path):
    study_file, name = _study(tmp_path)
    workers = [_tune(study_file, url) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    trials = _trials(url, name)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == BUDGET  # none lost, none beyond the budget
    assert len({t.params["quantity"] for t in complete}) == BUDGET  # no configuration run twice
    assert not [t for t in trials if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)]


SLOW_WORKER = """
import sys, time
from orkit.cli.main import main
from orkit.experiments import registry

real = registry.resolve("constant-order")


def slow(quantity=None):  # each trial takes a while, so the test can kill the worker inside one
    time.sleep(3.0)
    return real(quantity)


registry.register("constant-order", slow)
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_worker_s_trial_is_marked_failed_and_run_again(url, tmp_path):
    """SIGKILL a worker inside a trial: its heartbeat stops, another worker marks the trial
    failed (Optuna's heartbeat) and runs its configuration again (RetryFailedTrialCallback)."""
    study_file, name = _study(tmp_path, heartbeat=1.0)
    victim = _tune(study_file, url, SLOW_WORKER)
    deadline = time.monotonic() + 120
    killed = None
    while killed is None and time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            running = [t for t in _trials(url, name) if t.state == optuna.trial.TrialState.RUNNING and t.params]
        except KeyError:  # the study does not exist yet
            running = []
        if running:
            killed = running[0]
    assert killed is not None, victim.communicate(timeout=5)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)

    rescuer = _tune(study_file, url)
    _, err = rescuer.communicate(timeout=300)
    assert rescuer.returncode == 0, err
    trials = {t.number: t for t in _trials(url, name)}
    dead = trials[killed.number]
    # failed by the heartbeat, with no error of its own: not a failure of its configuration
    assert dead.state == optuna.trial.TrialState.FAIL and "error" not in dead.user_attrs
    retries = [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].state == optuna.trial.TrialState.COMPLETE
    assert retries[0].params == killed.params
    complete = [t for t in trials.values() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == BUDGET and len({t.params["quantity"] for t in complete}) == BUDGET
    assert not [t for t in trials.values() if t.state == optuna.trial.TrialState.RUNNING]


def test_two_workers_on_postgres_give_a_one_worker_run_s_results(url, tmp_path):
    def run(workers: int):
        study_file, _ = _study(tmp_path / f"w{workers}", name=f"pg-{workers}-{uuid.uuid4().hex[:8]}")
        out = tmp_path / f"out{workers}"
        done = subprocess.run([sys.executable, "-m", "orkit", "run", str(study_file), "--storage", url, "--output",
                               str(out), "--workers", str(workers), "--no-progress"], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr
        table = pd.read_csv(out / "results.csv").drop(columns=["train_seconds"])
        return table.sort_values(["label", "seed", "split"]).reset_index(drop=True)

    (tmp_path / "w1").mkdir()
    (tmp_path / "w2").mkdir()
    pd.testing.assert_frame_equal(run(2), run(1))
