"""The orkit command line: generate, evaluate, demo; errors are one line, no traceback."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from orkit.cli.main import main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("generate", "evaluate", "demo"):
        assert command in out


def test_generate_then_evaluate(tmp_path, capsys):
    path = tmp_path / "d1.parquet"
    assert main(["generate", "deepstock-1", "--out", str(path), "--seed", "3"]) == 0
    assert path.exists()
    assert main(["evaluate", str(path), "--policy", "base-stock", "--param", "level=36"]) == 0
    out = capsys.readouterr().out
    assert "weighted_loss" in out and "fill_rate" in out


def test_generate_never_overwrites_without_force(tmp_path, capsys):
    path = tmp_path / "mine.csv"
    path.write_text("precious")
    assert main(["generate", "iid-normal", "--out", str(path), "--param", "n_skus=5",
                 "--param", "n_periods=8"]) == 2
    assert path.read_text() == "precious"
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["generate", "iid-normal", "--out", str(path), "--force", "--param", "n_skus=5",
                 "--param", "n_periods=8"]) == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "missing.csv", "--policy", "base-stock"], "does not exist"),
        (["generate", "nope", "--out", "x.csv"], "name must be one of"),
        (["generate", "iid-normal", "--out", "x.csv", "--param", "n_skus"], "--param must look like NAME=VALUE"),
        (["run", "quickstart", "--workers", "0"], "--workers must be at least 1, got 0"),
        (["run", "quickstart", "--trials", "0"], "--trials must be at least 1, got 0"),
        (["run", "quickstart", "--trials", "2", "--top-k", "3"], "tuning.top_k: must be <= tuning.trials (2), got 3"),
    ],
)
def test_errors_are_one_clear_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_bad_policy_parameter_from_the_shell(tmp_path):
    path = tmp_path / "d.csv"
    assert main(["generate", "iid-poisson", "--out", str(path), "--param", "n_skus=4",
                 "--param", "n_periods=6", "--param", "rate=3"]) == 0
    proc = subprocess.run([sys.executable, "-m", "orkit", "evaluate", str(path), "--policy", "constant-order",
                           "--param", "quantity=-1"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "orkit: error: quantity must be >= 0, got -1"


def test_demo_prints_the_comparison_table(capsys):
    assert main(["demo", "--skus", "500", "--periods", "30"]) == 0
    out = capsys.readouterr().out
    assert "base-stock (optimal, 36.66)" in out and "weighted_loss" in out


def test_run_records_its_command_and_wall_time(tmp_path, capsys):
    """The report of `orkit run` says how it was produced: the command line (so the run can be
    repeated) and the wall time with the workers; benchmarks/deepstock_findings.py reads both."""
    study = tmp_path / "tiny.toml"
    study.write_text(
        'name = "tiny"\nseeds = [0]\n[problem]\nlead_time = 1\nreview_period = 1\n[data]\n'
        'generator = "iid-normal"\nparams = { n_skus = 20, n_periods = 20, mean = 10.0, std = 3.0, seed = 4 }\n'
        '[[methods]]\nname = "base-stock"\nlabel = "base 25"\nparams = { level = 25.0 }\n')
    out = tmp_path / "my run"
    assert main(["run", str(study), "--output", str(out), "--no-progress"]) == 0
    report = (out / "report.md").read_text()
    assert re.search(r"Wall time of this run: [0-9.]+ s \(1 worker, \d+ CPU cores\)\.", report)
    assert f"Command: `orkit run {study} --output '{out}' --no-progress`" in report  # quoted for the shell


def test_evaluate_trains_a_learner_with_a_progress_bar_on_request(tmp_path, capsys):
    """``orkit evaluate --policy ds`` fits the learner on the training split; ``--param
    progress=true`` draws its progress bar (by default only on a terminal)."""
    path = tmp_path / "d1.parquet"
    assert main(["generate", "deepstock-1", "--out", str(path), "--seed", "3"]) == 0
    capsys.readouterr()
    argv = ["evaluate", str(path), "--policy", "ds", "--param", "max_epochs=2", "--param", "hidden_sizes=[8]"]
    assert main(argv) == 0
    quiet = capsys.readouterr()
    assert "DS base" not in quiet.err and "weighted_loss" in quiet.out
    assert main([*argv, "--param", "progress=true"]) == 0
    shown = capsys.readouterr()
    assert "DS base" in shown.err and "2/2" in shown.err and shown.out == quiet.out


def test_evaluate_says_what_it_scored_and_fitted_on(tmp_path, capsys):
    from orkit.data import generate

    data = generate("iid-poisson", n_skus=10, n_periods=30, rate=5.0, seed=0, split_sizes=(6, 2, 2))
    data.write(tmp_path / "d.csv")
    assert main(["evaluate", str(tmp_path / "d.csv"), "--policy", "newsvendor", "--split", "all"]) == 0
    out = capsys.readouterr().out
    assert "10 SKUs x 30 periods; scored on all 10 SKUs" in out
    assert "fitted on the train split of" in out and "(6 SKUs), validated on its validation split (2 SKUs)" in out
    assert "problem: lead time 1, review period 1, holding cost 0.1, shortage cost 0.9, backorders" in out
    assert main(["evaluate", str(tmp_path / "d.csv"), "--policy", "base-stock", "--param", "level=12"]) == 0
    out = capsys.readouterr().out
    assert "scored on the test split (2 SKUs)" in out and "needs no fit (its parameters are given)" in out


def test_split_all_scores_every_sku(tmp_path, capsys):
    """--split all scores all SKUs, also for a policy that is fitted first (the train split)."""
    from orkit.data import generate
    from orkit.evaluation import evaluate
    from orkit.heuristics import NewsvendorPolicy
    from orkit.core import InventoryProblem

    data = generate("iid-poisson", n_skus=10, n_periods=30, rate=5.0, seed=0, split_sizes=(6, 2, 2))
    data.write(tmp_path / "d.csv")
    assert main(["evaluate", str(tmp_path / "d.csv"), "--policy", "newsvendor", "--split", "all"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("weighted_loss"))
    train, validation, _ = data.splits()
    policy = NewsvendorPolicy().fit(train, validation, InventoryProblem())
    expected = evaluate(policy, data, InventoryProblem())["weighted_loss"]
    assert float(line.split()[1]) == pytest.approx(expected, abs=1e-4)


def test_fit_on_a_file_without_split_uses_all_of_it(tmp_path, capsys):
    """recommend --fit FILE: a per-SKU policy fitted on every SKU of a file without split labels
    serves every SKU (it used to fit on a random 80% and then fail)."""
    from orkit.data import generate

    data = generate("iid-poisson", n_skus=12, n_periods=40, rate=5.0, seed=0)
    data.write(tmp_path / "sales.csv")
    state = tmp_path / "state.csv"
    state.write_text("sku,on_hand\n" + "".join(f"{s},3\n" for s in data.sku_ids[::-1]))
    out = tmp_path / "orders.csv"
    assert main(["recommend", "--state", str(state), "--policy", "base-stock", "--param", "per_sku=true",
                 "--fit", str(tmp_path / "sales.csv"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fitted on all 12 SKUs of" in printed and "no split labels" in printed
    import pandas as pd

    orders = pd.read_csv(out)
    assert len(orders) == 12 and orders.sku.tolist() == list(data.sku_ids[::-1])


SALES = """item,day,units,price,out_of_stock
bread,2024-01-01,12,2.5,0
bread,2024-01-02,9,2.5,0
bread,2024-01-04,14,2.5,1
rolls,2024-01-01,30,0.4,0
rolls,2024-01-02,28,0.4,0
rolls,2024-01-03,31,0.4,0
rolls,2024-01-04,27,0.4,0
"""


def test_evaluate_and_fit_read_a_sales_extract_with_a_column_mapping(tmp_path, capsys):
    (tmp_path / "sales.csv").write_text(SALES)
    flags = ["--column", "sku=item", "--column", "date=day", "--column", "demand=units",
             "--column", "stockout=out_of_stock", "--fill-missing", "zero"]
    assert main(["evaluate", str(tmp_path / "sales.csv"), "--policy", "base-stock", "--param", "level=30",
                 "--split", "all", "--warmup", "1", *flags]) == 0
    out = capsys.readouterr().out
    assert "2 SKUs x 4 periods; 1 missing row(s) of 1 SKU(s) filled with zero demand; scored on all 2 SKUs" in out
    assert main(["evaluate", str(tmp_path / "sales.csv"), "--policy", "newsvendor", "--fit", str(tmp_path / "sales.csv"),
                 "--split", "all", "--warmup", "1", *flags]) == 0
    assert "fitted on all 2 SKUs of" in capsys.readouterr().out


def test_fit_on_a_dated_history_leaves_out_today_s_rows(tmp_path, capsys):
    """A sales extract with dates and today's rows (features known, demand not yet): --fit
    with --column date=... fits on the days with demand and says what it left out."""
    import pandas as pd

    days = pd.date_range("2024-03-01", periods=30, freq="D")
    rows = [{"item": f"A{i}", "day": d.date().isoformat(), "units": (i + k) % 5 if k < 29 else None}
            for i in range(4) for k, d in enumerate(days)]
    pd.DataFrame(rows).to_csv(tmp_path / "sales.csv", index=False)
    state = tmp_path / "state.csv"
    state.write_text("sku,on_hand\nA0,1\nA1,2\nA2,0\nA3,5\n")
    out = tmp_path / "orders.csv"
    assert main(["recommend", "--state", str(state), "--policy", "base-stock", "--param", "per_sku=true",
                 "--fit", str(tmp_path / "sales.csv"), "--column", "sku=item", "--column", "date=day",
                 "--column", "demand=units", "--out", str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "fitted on all 4 SKUs" in printed and "4 rows of day 2024-03-30 have no demand yet (today's)" in printed
    assert pd.read_csv(out).sku.tolist() == ["A0", "A1", "A2", "A3"]


def test_feature_roles_and_calendar_features_from_the_command_line(tmp_path, capsys):
    """--feature-role NAME=ROLE declares how a column is used and --calendar derives calendar
    features from the dates: the two-stage forecaster refuses dated data without them and fits
    with them (issue 18 items 2 and 5)."""
    import numpy as np
    import pandas as pd

    from orkit.data import Dataset

    rng = np.random.default_rng(0)
    days = pd.date_range("2024-03-01", periods=45, freq="D")
    rows = pd.DataFrame({"item": np.repeat([f"A{i}" for i in range(10)], 45),
                         "day": np.tile(days.strftime("%Y-%m-%d"), 10),
                         "units": rng.poisson(8.0, 450), "store": np.repeat(np.arange(10) % 3, 45)})
    rows.to_csv(tmp_path / "sales.csv", index=False)
    flags = ["--column", "sku=item", "--column", "date=day", "--column", "demand=units"]
    two_stage = ["evaluate", str(tmp_path / "sales.csv"), "--policy", "two-stage", "--param", "n_scenarios=5",
                 "--param", "n_threads=1", *flags]
    assert main(two_stage) == 2
    assert "has dates (daily periods) but no calendar feature" in capsys.readouterr().err
    assert main([*two_stage, "--calendar", "weekday", "--feature-role", "store=categorical:0,1,2"]) == 0, \
        capsys.readouterr().err
    read = Dataset.read(tmp_path / "sales.csv", sku="item", date="day", demand="units", calendar=["weekday"],
                        feature_roles=["store=categorical:0,1,2"])
    assert {n: str(r) for n, r in read.feature_roles.items()} == {"store": "categorical:0,1,2",
                                                                  "weekday": "calendar:weekday"}


def test_a_random_lead_time_from_the_command_line_is_the_law_of_the_python_api(tmp_path, capsys):
    """--lead-time 1:0.5,2:0.3,4:0.2 --lead-time-seed 3 scores what InventoryProblem with that
    LeadTimeDistribution scores (same draws); another seed other draws."""
    from orkit.core import InventoryProblem, LeadTimeDistribution
    from orkit.data import generate
    from orkit.evaluation import evaluate
    from orkit.heuristics import BaseStockPolicy

    data = generate("iid-poisson", n_skus=10, n_periods=60, rate=5.0, seed=0, split_sizes=(6, 2, 2))
    data.write(tmp_path / "d.csv")

    def loss(seed):
        assert main(["evaluate", str(tmp_path / "d.csv"), "--policy", "base-stock", "--param", "level=25",
                     "--lead-time", "1:0.5,2:0.3,4:0.2", "--lead-time-seed", str(seed)]) == 0
        out = capsys.readouterr().out
        assert "lead time random (mean 1.9, max 4)" in out
        return float(next(l for l in out.splitlines() if l.startswith("weighted_loss")).split()[1])

    problem = InventoryProblem(lead_time=LeadTimeDistribution([1, 2, 4], [0.5, 0.3, 0.2], seed=3))
    expected = evaluate(BaseStockPolicy(level=25.0), data.splits()[2], problem)["weighted_loss"]
    assert loss(3) == pytest.approx(expected, abs=1e-4)
    assert loss(4) != loss(3)
