"""The study report: t-intervals from scipy, paired comparisons over SKUs, segments, money,
and the per-SKU and path files the runner writes for them."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from orkit.core import ConfigError
from orkit.data import Dataset
from orkit.experiments import registry
from orkit.experiments.config import load_study
from orkit.experiments.report import (_plot_paths, ci95, money_table, paired_comparison, read_per_sku,
                                      segment_table, summarize, write_report)
from orkit.experiments.runner import StudyRunner, build_splits
from orkit.experiments.segments import assign_segments, demand_profile, sample_skus
from testkit import write_study

# published two-sided 95% t quantiles t_{0.975, df} (e.g. Montgomery & Runger, table V)
T_975 = {2: 4.303, 19: 2.093}


# ---------------------------------------------------------------------- intervals
@pytest.mark.parametrize("n", [3, 20])
def test_the_interval_is_the_t_interval_for_any_number_of_seeds(n):
    values = [float(v) for v in np.resize([1.0, 2.0, 4.0], n)]
    expected = T_975[n - 1] * statistics.stdev(values) / math.sqrt(n)
    assert ci95(values) == pytest.approx(expected, rel=2e-4)  # the table's 4 digits
    rows = [{"label": "m", "split": split, "seed": seed, "loss": loss, "fill_rate": 1.0, "stockout_rate": 0.0,
             "turnover_days": 1.0, "train_seconds": 0.0} for seed, loss in enumerate(values)
            for split in ("validation", "test")]
    assert summarize(rows).loc["m", "± 95% CI"] == pytest.approx(expected, rel=2e-4)


def test_one_value_has_no_interval():
    assert math.isnan(ci95([3.0])) and math.isnan(ci95([]))


# ---------------------------------------------------------------------- paired comparison
def _losses(table: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """``{label: {sku: [loss of seed 0, seed 1, ...]}}`` as read_per_sku's rows."""
    return pd.DataFrame([{"label": label, "seed": seed, "sku": sku, "loss": loss}
                         for label, skus in table.items() for sku, losses in skus.items()
                         for seed, loss in enumerate(losses)])


# per SKU, mean over seeds: A = (2, 4, 1), B = (3, 6, 1)
PAIRED = _losses({"A": {"s1": [1.0, 3.0], "s2": [4.0, 4.0], "s3": [0.5, 1.5]},
                  "B": {"s1": [3.0, 3.0], "s2": [5.0, 7.0], "s3": [1.0, 1.0]}})


def test_paired_differences_by_hand():
    table = paired_comparison(PAIRED)
    assert table.attrs["reference"] == "A" and list(table.index) == ["A", "B"]  # the best by default
    b = table.loc["B"]
    # B - A per SKU: 1, 2, 0 -> mean 1, standard deviation 1
    assert b["difference"] == pytest.approx(1.0)
    assert b["± 95% CI of difference"] == pytest.approx(T_975[2] / math.sqrt(3), rel=2e-4)
    assert b["better on"] == 0.0 and b["SKUs"] == 3
    assert b["test loss"] == pytest.approx(10 / 3)
    assert b["± 95% CI"] == pytest.approx(T_975[2] * statistics.stdev([3, 6, 1]) / math.sqrt(3), rel=2e-4)
    assert table.loc["A", "difference"] == 0.0
    # against a named reference: A - B = -1, -2, 0; A is better on two SKUs of three
    named = paired_comparison(PAIRED, reference="B")
    assert named.attrs["reference"] == "B"
    assert named.loc["A", "difference"] == pytest.approx(-1.0)
    assert named.loc["A", "better on"] == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match="report.reference must be one of the methods .*'A', 'B'.*got 'C'"):
        paired_comparison(PAIRED, reference="C")


# ---------------------------------------------------------------------- segments
def test_segments_of_hand_made_skus():
    # zero shares: the third SKU is intermittent at exactly 30%; the others' median mean is 5.5
    segments = assign_segments([20.0, 1.0, 0.5, 8.0, 3.0], [0.0, 0.0, 0.3, 0.05, 0.29])
    assert segments.tolist() == ["fast", "slow", "intermittent", "fast", "slow"]
    profile = demand_profile([[0, 0, 3, 1], [2, 2, 2, 2]])
    assert profile.demand_mean.tolist() == [1.0, 2.0] and profile.zero_share.tolist() == [0.5, 0.0]


def test_the_sample_is_a_fast_a_slow_and_an_intermittent_mover():
    demand = [[30, 31, 29, 30],  # 0 fast
              [2, 3, 2, 3],  # 1 slow
              [0, 0, 0, 4],  # 2 intermittent (75% zeros)
              [20, 20, 20, 20],  # 3 fast
              [25, 25, 25, 25],  # 4 fast, at the fast movers' median (20, 25, 30): chosen
              [1, 1, 1, 1],  # 5 slow
              [0, 0, 1, 0]]  # 6 intermittent
    chosen = sample_skus(demand, 3)
    assert chosen == [(4, "fast"), (1, "slow"), (2, "intermittent")]
    # more than one per segment: the next of each segment in turn; fewer: fast first
    assert [segment for _, segment in sample_skus(demand, 5)] == ["fast", "slow", "intermittent", "fast", "slow"]
    assert sample_skus(demand, 1) == [(4, "fast")]
    # without intermittent SKUs the sample has fast and slow movers only
    assert {segment for _, segment in sample_skus([[5, 5], [1, 1], [9, 9]], 3)} == {"fast", "slow"}


def test_segment_table_by_hand():
    per_sku = _losses({"A": {"f1": [1.0], "f2": [3.0], "s1": [2.0], "i1": [5.0]},
                       "B": {"f1": [2.0], "f2": [2.0], "s1": [1.0], "i1": [9.0]}})
    profile = {"f1": (10.0, 0.0), "f2": (12.0, 0.0), "s1": (1.0, 0.1), "i1": (0.5, 0.8)}
    per_sku["demand_mean"] = [profile[s][0] for s in per_sku.sku]
    per_sku["zero_share"] = [profile[s][1] for s in per_sku.sku]
    table = segment_table(per_sku).set_index(["method", "segment"])
    assert table.loc[("A", "fast"), "test loss"] == 2.0 and table.loc[("A", "fast"), "SKUs"] == 2
    assert table.loc[("A", "fast"), "± 95% CI"] == pytest.approx(12.706 * 1.0, rel=2e-4)  # t_{0.975, 1}, s = sqrt 2
    assert table.loc[("B", "intermittent"), "test loss"] == 9.0 and math.isnan(table.loc[("B", "slow"), "± 95% CI"])
    assert table.loc[("B", "slow"), "test loss"] == 1.0


# ---------------------------------------------------------------------- money
def test_money_from_units_and_unit_costs_by_hand():
    per_sku = pd.DataFrame({
        "label": ["A", "A", "A", "A"], "seed": [0, 0, 1, 1], "sku": ["x", "y", "x", "y"],
        "loss": [1.0, 2.0, 1.0, 2.0], "holding_units": [10.0, 4.0, 20.0, 4.0], "shortage_units": [2.0, 0.0, 0.0, 0.0],
        "scored_periods": [5, 4, 5, 4], "unit_cost": [3.0, 10.0, 3.0, 10.0], "holding_rate": [0.1] * 4,
        "margin": [2.0, 5.0, 2.0, 5.0]})
    row = money_table(per_sku).loc["A"]
    # seed 0: 3 * 10/5 + 10 * 4/4 = 16; seed 1: 3 * 20/5 + 10 = 22 -> 19
    assert row["inventory value"] == pytest.approx(19.0)
    assert row["holding cost"] == pytest.approx(1.9)
    assert row["shortage margin"] == pytest.approx((2 * 2 / 5 + 0) / 2)  # seed 0 only was short
    assert row["weighted loss"] == pytest.approx(1.5)
    assert money_table(per_sku.drop(columns=["unit_cost"])).empty
    assert list(money_table(per_sku.drop(columns=["margin", "holding_rate"])).columns) == ["weighted loss",
                                                                                          "inventory value"]


# ---------------------------------------------------------------------- a study's files and report
STUDY = """
name = "movers"
seeds = [0, 1]
[problem]
lead_time = 1
review_period = 1
[data]
file = "{file}"
split = [0.4, 0.2, 0.4]
[[methods]]
name = "base-stock"
label = "base 12"
params = {{ level = 12.0 }}
[[methods]]
name = "base-stock"
label = "base-stock (fitted)"
[[methods]]
name = "constant-order"
label = "constant 4"
params = {{ quantity = 4.0 }}
"""


@pytest.fixture(scope="module")
def movers(tmp_path_factory):
    """A finished study on 40 Poisson SKUs (fast, slow and intermittent movers) with unit costs."""
    folder = tmp_path_factory.mktemp("movers")
    rng = np.random.default_rng(3)
    rates = np.resize([15.0, 8.0, 2.0, 0.15], 40)
    demand = rng.poisson(rates[:, None], size=(40, 60)).astype(float)
    attributes = {"unit_cost": rng.uniform(1.0, 20.0, 40).round(2), "holding_rate": np.full(40, 0.01),
                  "margin": rng.uniform(1.0, 5.0, 40).round(2)}
    Dataset(demand, sku_ids=[f"item{i:02d}" for i in range(40)], attributes=attributes).write(folder / "movers.csv")
    study = write_study(folder, STUDY.format(file=folder / "movers.csv"))
    config = load_study(study, known_methods=set(registry.POLICIES))
    StudyRunner(config, output=folder / "out", progress=False).run()
    return config, folder / "out"


def test_per_sku_losses_average_to_the_results_test_loss(movers):
    config, out = movers
    test = build_splits(config, config.datasets[0])[0]["test"]
    results = pd.read_csv(out / "results.csv")
    per_sku = read_per_sku(out)
    assert sorted(per_sku.label.unique()) == ["base 12", "base-stock (fitted)", "constant 4"]
    assert sorted(per_sku.seed.unique()) == [0, 1]
    for (label, seed), cell in per_sku.groupby(["label", "seed"]):
        assert cell.sku.tolist() == [str(s) for s in test.sku_ids]
        loss = results[(results.label == label) & (results.seed == seed) & (results.split == "test")].loss.item()
        assert cell.loss.mean() == pytest.approx(loss, rel=1e-5)
        profile = demand_profile(test.demand)
        assert np.allclose(cell.demand_mean, profile.demand_mean) and np.allclose(cell.zero_share, profile.zero_share)
        assert np.allclose(cell.unit_cost, test.attributes.unit_cost)
        assert (cell.scored_periods == test.n_periods - 2).all()  # warm-up L + P = 2
    assert set(pd.read_csv(out / "results.csv").columns) == set(results.columns)  # results.csv unchanged


def test_the_money_columns_are_the_ledgers_costs(movers):
    # the study's problem takes h = holding_rate * unit_cost and b = margin per SKU from the data
    # (InventoryProblem.with_attributes): each SKU's loss is its money per scored period
    _, out = movers
    per_sku = read_per_sku(out)
    money = (per_sku.holding_rate * per_sku.unit_cost * per_sku.holding_units + per_sku.margin * per_sku.shortage_units)
    assert np.allclose(per_sku.loss * per_sku.scored_periods, money, rtol=1e-5)
    table = money_table(per_sku)
    by_seed = per_sku.assign(money=money / per_sku.scored_periods).groupby(["label", "seed"]).money.sum()
    assert np.allclose(table["holding cost"] + table["shortage margin"], by_seed.groupby(level=0).mean()[table.index])


def test_the_paths_file_holds_the_chosen_skus(movers):
    config, out = movers
    test = build_splits(config, config.datasets[0])[0]["test"]
    chosen = [(str(test.sku_ids[row]), segment) for row, segment in sample_skus(test.demand, 3)]
    assert [segment for _, segment in chosen] == ["fast", "slow", "intermittent"]
    for cell in ("base-12", "base-stock-fitted", "constant-4"):
        paths = pd.read_csv(out / "paths" / f"{cell}.csv", dtype={"sku": str})
        assert list(paths.drop_duplicates("sku")[["sku", "segment"]].itertuples(index=False, name=None)) == chosen
        first = paths[paths.sku == chosen[0][0]]
        assert first.period.tolist() == list(range(test.n_periods))
        assert first.counted.tolist() == [0, 0] + [1] * (test.n_periods - 2)
        row = int(np.flatnonzero(test.sku_ids == chosen[0][0])[0])
        assert np.allclose(first.demand, test.demand[row])


def test_the_report_holds_paired_segment_and_money_tables_and_plots(movers, tmp_path):
    import shutil

    import matplotlib.image

    _, finished = movers
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    text = write_report(out).read_text()
    for section in ("## Paired comparison over SKUs", "## Test loss by segment", "## Money",
                    "## Inventory, orders and demand of sample test SKUs"):
        assert section in text
    assert " fast (" in text and " slow (" in text and " intermittent (" in text
    assert "inventory value" in text and "shortage margin" in text
    best = paired_comparison(read_per_sku(out)).attrs["reference"]
    assert f"against **{best}**" in text
    assert "against **constant 4**" in write_report(out, reference="constant 4").read_text()
    for png in ("test_loss.png", "paths.png"):
        image = matplotlib.image.imread(out / png)
        assert image.shape[0] > 300 and image.shape[1] > 600
    # the paths plot names its methods by their labels (not the file names)
    assert _plot_paths(out, tmp_path / "p.png") == ""


def test_a_study_without_unit_costs_says_nothing_about_money(tmp_path):
    config = load_study(write_study(tmp_path), known_methods=set(registry.POLICIES))
    StudyRunner(config, output=tmp_path / "out", progress=False).run()
    text = write_report(tmp_path / "out").read_text()
    assert "## Paired comparison over SKUs" in text and "## Money" not in text and "unit cost" not in text


def test_a_dated_path_panel_shows_dates_on_its_axis():
    """A study on dated data writes each path row's date; the path plot's axis shows dates
    (a dataset without dates keeps the period index)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from orkit.experiments.report import _path_panel

    rows = pd.DataFrame({"period": range(10, 24), "demand": 3.0, "on_hand": 1.0, "counted": 1,
                         "date": pd.date_range("2019-04-01", periods=14).strftime("%Y-%m-%d")})
    fig, (dated, plain) = plt.subplots(1, 2)
    _path_panel(dated, rows, {"m": rows}, "on_hand", {"m": "C0"}, runaway=True)
    _path_panel(plain, rows.drop(columns="date"), {"m": rows}, "on_hand", {"m": "C0"}, runaway=True)
    labels = [t.get_text() for t in dated.get_xticklabels()]
    assert dated.get_xlabel() == "date" and labels[0] == "2019-04-01" and all(label.startswith("2019-04-") for label in labels)
    assert plain.get_xlabel() == "period"
    plt.close(fig)
