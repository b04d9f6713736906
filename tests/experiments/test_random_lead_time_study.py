"""A study file states a random lead time as a table of the law's arguments."""

import pandas as pd

from orkit.cli.main import main
from testkit import TINY_STUDY, write_study

LAW = "lead_time = { values = [1, 3], probabilities = [0.6, 0.4], seed = 5 }\n"
ONE_VALUE = "lead_time = { values = [1], probabilities = [1.0] }\n"


def _test_losses(tmp_path, lead_time: str, name: str) -> pd.Series:
    text = TINY_STUDY.replace("lead_time = 1\n", lead_time).replace("trials = 6", "trials = 3").replace(
        "startup_trials = 3", "startup_trials = 2")
    out = tmp_path / name
    assert main(["run", str(write_study(tmp_path, text, f"{name}.toml")), "--output", str(out), "--no-progress"]) == 0
    rows = pd.read_csv(out / "results.csv")
    return rows[rows.split == "test"].set_index(["label", "seed"]).loss.sort_index()


def test_a_study_runs_with_a_random_lead_time_and_a_one_value_law_is_the_fixed_lead_time(tmp_path, one_thread):
    fixed = _test_losses(tmp_path, "lead_time = 1\n", "fixed")
    one_value = _test_losses(tmp_path, ONE_VALUE, "one")
    random = _test_losses(tmp_path, LAW, "random")
    pd.testing.assert_series_equal(one_value, fixed)
    # the fixed level 25 covers 2 periods of demand (mean 10) but not the 4 of a lead time of 3
    assert random[("base 25", 0)] > fixed[("base 25", 0)]


def test_a_lead_time_table_with_unknown_keys_is_one_line(tmp_path, capsys):
    text = TINY_STUDY.replace("lead_time = 1\n", "lead_time = { values = [1, 3], probs = [0.5, 0.5] }\n")
    assert main(["run", str(write_study(tmp_path, text)), "--output", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lead_time as a table takes 'values', 'probabilities'" in err[0], err
