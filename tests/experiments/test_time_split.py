"""Studies and the command line with a split over time: ``[split] kind = "time"`` and
``"rolling"``, ``orkit run`` / ``orkit evaluate`` flags, per-SKU policies on a time split, and
one-line errors (issue 18 item 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orkit.cli.main import main
from orkit.core import ConfigError, InventoryProblem
from orkit.data import Dataset, RollingOrigin, generate
from orkit.evaluation import score_window
from orkit.experiments import registry
from orkit.experiments.config import load_study
from orkit.experiments.report import fold_summary, write_report
from orkit.experiments.runner import StudyRunner, build_splits
from orkit.heuristics import BaseStockPolicy
from testkit import TINY_STUDY, write_study

#: the tiny study on 60 periods, split over time: train 0..34, validation 35..44, test 45..59
TIME_STUDY = TINY_STUDY.replace("n_periods = 25", "n_periods = 60") + """
[split]
kind = "time"
validation = 10
test = 15
"""
ROLLING_STUDY = TIME_STUDY.replace('kind = "time"', 'kind = "rolling"\nfolds = 3').replace("test = 15", "test = 8")


def _load(path):
    return load_study(path, known_methods=set(registry.POLICIES))


def _data_and_problem(config):
    spec = config.datasets[0]
    data = generate(spec.generator, **spec.params)
    return data, InventoryProblem(lead_time=1, review_period=1)


def test_a_study_with_a_time_split_runs_end_to_end(tmp_path):
    config = _load(write_study(tmp_path, TIME_STUDY))
    splits, _ = build_splits(config, config.datasets[0])
    assert [splits[k].n_periods for k in ("train", "validation", "test")] == [35, 45, 60]
    assert [splits[k].history_periods for k in ("train", "validation", "test")] == [0, 35, 45]
    assert all(splits[k].n_skus == 30 for k in splits)  # the same SKUs in every window
    rows = StudyRunner(config, output=tmp_path / "out", progress=False).run()
    table = pd.DataFrame(rows)
    assert len(table) == 2 * 2 * 3 and set(table["dataset"]) == {"data"}
    # the fixed level's validation and test losses: scored from the state the history leaves
    data, problem = _data_and_problem(config)
    for split, (start, stop) in (("validation", (35, 45)), ("test", (45, 60))):
        got = table[(table["label"] == "base 25") & (table["split"] == split)]["loss"].astype(float)
        expected = score_window(BaseStockPolicy(25.0), data, problem, start, stop)["weighted_loss"]
        assert got.tolist() == pytest.approx([expected] * 2, rel=1e-6)
    per_sku = pd.read_csv(tmp_path / "out" / "per_sku" / "base-25-seed0.csv")
    assert len(per_sku) == 30 and (per_sku["scored_periods"] == 15).all()
    paths = pd.read_csv(tmp_path / "out" / "paths" / "base-25.csv")
    assert paths["period"].min() == 45 and paths["counted"].all()  # the test window only
    assert write_report(tmp_path / "out").exists()


def test_a_rolling_study_scores_each_fold_on_its_own_test_window(tmp_path):
    config = _load(write_study(tmp_path, ROLLING_STUDY))
    assert [d.name for d in config.datasets] == ["data/fold1", "data/fold2", "data/fold3"]
    rows = StudyRunner(config, output=tmp_path / "out", progress=False).run()
    table = pd.DataFrame(rows)
    test = table[(table["split"] == "test") & (table["label"] == "base 25") & (table["seed"] == "0")]
    assert test["dataset"].tolist() == ["data/fold1", "data/fold2", "data/fold3"]
    data, problem = _data_and_problem(config)
    folds = RollingOrigin(folds=3, test=8, validation=10).splits(data)
    windows = [fold.windows(data)["test"] for fold in folds]
    assert windows == [(36, 44), (44, 52), (52, 60)]  # disjoint, back to back, ending at the end
    expected = [score_window(BaseStockPolicy(25.0), data, problem, *w)["weighted_loss"] for w in windows]
    assert test["loss"].astype(float).tolist() == pytest.approx(expected, rel=1e-6)
    # the report's rolling-origin table: each fold's test loss and their mean
    folds = fold_summary(rows)
    assert list(folds.columns[2:]) == ["fold1", "fold2", "fold3"]
    assert folds.loc["base 25", ["fold1", "fold2", "fold3"]].tolist() == pytest.approx(expected, rel=1e-6)
    assert folds.loc["base 25", "test loss (mean over folds)"] == pytest.approx(np.mean(expected), rel=1e-6)
    assert "## Rolling origin: every fold" in write_report(tmp_path / "out").read_text()


def test_a_method_named_for_a_dataset_runs_on_its_folds(tmp_path):
    text = ROLLING_STUDY.replace('label = "base 25"', 'label = "base 25"\ndatasets = ["data"]')
    config = _load(write_study(tmp_path, text))
    assert config.methods[0].datasets == ("data/fold1", "data/fold2", "data/fold3")


def _file_with_a_late_launch(tmp_path) -> str:
    rng = np.random.default_rng(0)
    demand = rng.poisson(8.0, size=(6, 60)).astype(np.float32)
    demand[5, :50] = 0  # s5 launched in the test window
    first = np.array([0, 0, 0, 0, 0, 50])
    data = Dataset(demand, sku_ids=[f"s{i}" for i in range(6)], life=(first, np.full(6, 59)),
                   start_date="2024-01-01", freq="D")
    return str(data.write(tmp_path / "sales.csv"))


PER_SKU_STUDY = """
name = "per-sku-time"
seeds = [0]
[problem]
lead_time = 1
review_period = 1
[data]
file = "{file}"
[split]
kind = "time"
validation_start = "2024-02-05"
test_start = "2024-02-15"
[[methods]]
name = "base-stock"
label = "per-SKU base-stock"
params = {{ per_sku = true }}
[[methods]]
name = "newsvendor"
"""


def test_per_sku_policies_in_a_time_split_study_are_scored_on_the_skus_they_were_fitted_on(tmp_path):
    config = _load(write_study(tmp_path, PER_SKU_STUDY.format(file=_file_with_a_late_launch(tmp_path))))
    splits, _ = build_splits(config, config.datasets[0])
    assert (splits["train"].n_skus, splits["test"].n_skus) == (5, 6)  # s5 is absent from the train window
    StudyRunner(config, output=tmp_path / "out", progress=False).run()
    per_sku = pd.read_csv(tmp_path / "out" / "per_sku" / "per-SKU-base-stock-seed0.csv")
    assert per_sku["sku"].tolist() == ["s0", "s1", "s2", "s3", "s4"]
    pooled = pd.read_csv(tmp_path / "out" / "per_sku" / "newsvendor-seed0.csv")
    assert pooled["sku"].tolist() == [f"s{i}" for i in range(6)]
    # the launched SKU is scored after its own warm-up (L + P = 2): periods 52..59
    assert pooled.set_index("sku").loc["s5", "scored_periods"] == 8


@pytest.mark.parametrize("patch, message", [
    (('kind = "time"', 'kind = "weekly"'), "split.kind: must be one of 'sku', 'time', 'rolling', got 'weekly'"),
    (("test = 15", "test = 15\nfolds = 2"), "split.folds: unknown key; allowed keys are"),
    (("test = 15", "test = 15\ntest_start = 40"), "split: the test window needs either its length"),
    (("test = 15", 'test = "15"'), "split.test: must be a whole number of periods, got '15'"),
    (("validation = 10", "validation = 0"), "split: validation must be >= 1 periods, got 0"),
    (("seed = 4 }", "seed = 4 }\nsplit = [0.5, 0.25, 0.25]"), "data.split: sets the SKU-random split, which "
                                                             "split.kind = 'time' replaces"),
])
def test_split_config_errors_point_at_the_key(tmp_path, patch, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")) as info:
        _load(write_study(tmp_path, TIME_STUDY.replace(*patch)))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("patch, message", [
    (("test = 15", "test = 60"), "split: data: time split: the validation window would start before the data's first period"),
    (("validation = 10", "validation = 45"), "split: data: time split: the train window is empty"),
])
def test_windows_that_do_not_fit_the_data_are_one_line_errors(tmp_path, patch, message):
    config = _load(write_study(tmp_path, TIME_STUDY.replace(*patch)))
    with pytest.raises(ConfigError, match=message) as info:
        StudyRunner(config, output=tmp_path / "out", progress=False).run()
    assert "\n" not in str(info.value)


def test_orkit_run_takes_a_split_over_time_from_flags(tmp_path, capsys):
    study = write_study(tmp_path, TINY_STUDY.replace("n_periods = 25", "n_periods = 60"))
    out = tmp_path / "out"
    assert main(["run", str(study), "--no-progress", "--output", str(out), "--folds", "2", "--test-periods", "10",
                 "--validation-periods", "10"]) == 0
    table = pd.read_csv(out / "results.csv")
    assert sorted(set(table["dataset"])) == ["data/fold1", "data/fold2"]
    assert "data/fold2" in capsys.readouterr().out


def test_orkit_evaluate_backtests_over_time(tmp_path, capsys):
    path = _file_with_a_late_launch(tmp_path)
    assert main(["evaluate", path, "--policy", "newsvendor", "--validation-start", "2024-02-05",
                 "--test-start", "2024-02-15"]) == 0
    out = capsys.readouterr().out
    assert "windows: train 2024-01-01..2024-02-04 (35 periods), validation 2024-02-05..2024-02-14 (10 periods), " \
           "test 2024-02-15..2024-02-29 (15 periods)" in out
    assert "fitted on each train window" in out and "weighted_loss" in out
    assert main(["evaluate", path, "--policy", "base-stock", "--param", "level=20", "--folds", "3",
                 "--test-periods", "5", "--validation-periods", "5"]) == 0
    out = capsys.readouterr().out
    assert "fold 3: train 2024-01-01..2024-02-19 (50 periods)" in out and "needs no fit" in out


@pytest.mark.parametrize("argv, message", [
    (["--test-periods", "100"], "time split: the validation window would start before the data's first period"),
    (["--test-start", "2024-02-15"], "with --test-start, give the validation window too"),
    (["--test-periods", "10", "--split", "test"], "--split does not go with a split over time"),
    (["--folds", "2", "--test-periods", "5"], "--folds needs --validation-periods"),
    (["--step", "3", "--test-periods", "5"], "--step goes with --folds"),
    (["--folds", "2", "--test-periods", "5", "--validation-periods", "5", "--step", "2"],
     "--step must be >= --test-periods (5) so that test windows do not overlap, got 2"),
    (["--test-start", "2023-12-01", "--validation-periods", "5"], "--test-start must lie in the dataset's periods"),
    (["--validation-start", "2024-02-20", "--test-start", "2024-02-10"], "the validation window is out of order"),
    (["--validation-start", "2024-02-10", "--test-start", "2024-02-10"], "the validation window is empty"),
])
def test_evaluate_split_flags_errors_are_one_line(tmp_path, capsys, argv, message):
    path = _file_with_a_late_launch(tmp_path)
    assert main(["evaluate", path, "--policy", "newsvendor", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1, err


def test_a_sku_withdrawn_before_the_test_window_is_left_out_of_its_per_sku_table(tmp_path):
    demand = np.random.default_rng(3).poisson(8.0, size=(3, 60)).astype(np.float32)
    demand[2, 20:] = 0  # s2 withdrawn after period 19
    data = Dataset(demand, sku_ids=["s0", "s1", "s2"], life=(np.zeros(3, dtype=int), np.array([59, 59, 19])),
                   start_date="2024-01-01", freq="D")
    path = data.write(tmp_path / "sales.csv")
    study = PER_SKU_STUDY.format(file=path).split("[[methods]]")[0] + """
[[methods]]
name = "base-stock"
label = "base 20"
params = { level = 20.0 }
"""
    config = _load(write_study(tmp_path, study))
    rows = pd.DataFrame(StudyRunner(config, output=tmp_path / "out", progress=False).run())
    per_sku = pd.read_csv(tmp_path / "out" / "per_sku" / "base-20-seed0.csv")
    assert per_sku["sku"].tolist() == ["s0", "s1"] and (per_sku["scored_periods"] == 15).all()
    # the metrics leave it out too: the test loss is the mean over the two SKUs scored
    assert float(rows[rows["split"] == "test"]["loss"].iloc[0]) == pytest.approx(per_sku["loss"].mean(), rel=1e-6)
