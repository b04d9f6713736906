"""The shipped bakery studies: ``orkit run bakery`` (the full backtest) and ``bakery-demo`` (what
``make demo`` runs) parse, compare every family on a split over time, and a tiny-budget variant
runs end to end on the real data."""

from __future__ import annotations

import tomllib

import pandas as pd
import pytest

from orkit.data import TimeSplit
from orkit.experiments import registry
from orkit.experiments.config import load_study, parse_study, shipped_studies
from orkit.experiments.report import write_report
from orkit.experiments.runner import StudyRunner, build_splits

#: every family the issue asks for, by registered name
FAMILIES = {"newsvendor", "base-stock", "weighted-saa-newsvendor", "two-stage", "ds", "ppo"}


@pytest.mark.parametrize("name", ["bakery", "bakery-demo"])
def test_the_bakery_studies_parse_and_compare_every_family_over_time(name):
    config = load_study(name, known_methods=set(registry.POLICIES))
    assert {m.name for m in config.methods} == FAMILIES
    assert {m.label for m in config.methods} >= {"DS Base", "DS Coeff", "PPO Base"}
    per_sku = [m for m in config.methods if m.params.get("per_sku")]
    assert {m.name for m in per_sku} == {"newsvendor", "base-stock"}
    (spec,) = config.datasets
    assert spec.dataset == "bakery" and isinstance(spec.time_split, TimeSplit)
    assert config.problem.lost_sales and config.problem.lead_time == 0


def test_the_full_study_tests_on_the_last_year_and_the_demo_on_march_and_april_2019():
    config = load_study("bakery")
    splits, problem = build_splits(config, config.datasets[0])
    assert [str(splits[k].dates[splits[k].history_periods].date()) for k in ("train", "validation", "test")] == \
        ["2016-01-02", "2017-11-01", "2018-05-01"]
    assert splits["test"].n_periods - splits["test"].history_periods == 365
    assert all(splits[k].n_skus == 105 for k in splits)  # the same SKUs in every window
    demo = load_study("bakery-demo")
    splits, _ = build_splits(demo, demo.datasets[0])
    test = splits["test"]
    assert str(test.dates[test.history_periods].date()) == "2019-03-01" and test.n_periods - test.history_periods == 61


def tiny(document: dict) -> dict:
    """The demo study at a tiny budget: one seed, January to April 2019, two DS epochs, one
    PPO rollout, five demand scenarios in the two-stage model."""
    document = {**document, "seeds": [0], "name": "bakery-tiny"}
    document["data"] = {**document["data"], "params": {"start": "2019-01-01"}}
    document["split"] = {"kind": "time", "validation_start": "2019-03-01", "test_start": "2019-04-01"}
    methods = []
    for method in document["methods"]:
        params = dict(method.get("params", {}))
        if method["name"] == "ds":
            params.update(max_epochs=2, batch_size=105)
        if method["name"] == "ppo":
            params.update(total_timesteps=2048, num_steps=2048, update_epochs=1)
        if method["name"] == "two-stage":
            params.update(n_scenarios=5)
        methods.append({**method, "params": params})
    document["methods"] = methods
    return document


def test_a_tiny_variant_of_the_demo_runs_every_family_on_the_bakery_data(tmp_path, one_thread):
    document = tomllib.loads(shipped_studies()["bakery-demo"].read_text())
    config = parse_study(tiny(document), known_methods=set(registry.POLICIES))
    rows = pd.DataFrame(StudyRunner(config, output=tmp_path / "out", progress=False).run())
    test = rows[rows["split"] == "test"]
    assert set(test["label"]) == {m.label for m in config.methods}
    losses = test.set_index("label")["loss"].astype(float)
    assert (losses > 0).all() and losses.notna().all()
    for path in (tmp_path / "out" / "per_sku").glob("*-seed0.csv"):  # one table per method
        per_sku = pd.read_csv(path)
        assert len(per_sku) == 105 and (per_sku["scored_periods"] == 30).all(), path.name  # April 2019, every SKU
    assert len(list((tmp_path / "out" / "per_sku").glob("*-seed0.csv"))) == len(config.methods)
    report = write_report(tmp_path / "out").read_text()
    assert "## Paired comparison over SKUs" in report and "PPO Base" in report
    # the sample paths carry the real dates of the test window (April 2019), which the plot's axis shows
    for path in (tmp_path / "out" / "paths").glob("*.csv"):
        dates = pd.read_csv(path)["date"]
        assert dates.min() == "2019-04-01" and dates.max() == "2019-04-30", path.name
