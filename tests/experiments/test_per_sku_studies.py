"""Per-SKU policies and per-SKU costs in studies: a per-SKU fit scored on other SKUs is one clear
ConfigError; with a split over time the same SKUs are matched by id, and costs taken from the
data's attributes change the fitted levels (issue 18 item 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orkit.core import ConfigError
from orkit.data import Dataset
from orkit.experiments import registry
from orkit.experiments.config import load_study
from orkit.experiments.runner import StudyRunner, build_splits
from testkit import write_study

STUDY = """
name = "econ"
seeds = [0]
[problem]
lead_time = 1
review_period = 1
[data]
file = "{file}"
{split}
[[methods]]
name = "newsvendor"
label = "newsvendor"
params = {{ distribution = "poisson", per_sku = true }}
"""
SKU_SPLIT = "split = [0.5, 0.25, 0.25]"
TIME_SPLIT = '[split]\nkind = "time"\nvalidation = 20\ntest = 20'


def twins_file(folder, margin):
    """Eight SKUs with the very same Poisson path; holding rate 0.1 of a unit cost of 1."""
    path = np.random.default_rng(0).poisson(5.0, size=100).astype(float)
    data = Dataset(np.tile(path, (8, 1)), sku_ids=[f"s{i}" for i in range(8)],
                   attributes={"unit_cost": 1.0, "holding_rate": 0.1, "margin": margin})
    data.write(folder / "twins.csv")
    return folder / "twins.csv"


def test_a_per_sku_policy_scored_on_other_skus_is_a_config_error(tmp_path):
    study = write_study(tmp_path, STUDY.format(file=twins_file(tmp_path, 0.9), split=SKU_SPLIT))
    config = load_study(study, known_methods=set(registry.POLICIES))
    with pytest.raises(ConfigError, match="cannot be scored on a split of other SKUs .* split over time .* per_sku = false"):
        StudyRunner(config, output=tmp_path / "out", progress=False).run()


def test_per_sku_costs_from_attributes_give_per_sku_levels_in_a_time_split_study(tmp_path):
    margin = np.array([0.3, 0.3, 0.3, 0.3, 4.0, 4.0, 4.0, 4.0])  # b = margin, h = 0.1
    study = write_study(tmp_path, STUDY.format(file=twins_file(tmp_path, margin), split=TIME_SPLIT))
    config = load_study(study, known_methods=set(registry.POLICIES))
    splits, problem = build_splits(config, config.datasets[0])
    assert problem.for_data(splits["test"]).shortage_cost.tolist() == margin.tolist()
    rows = pd.DataFrame(StudyRunner(config, output=tmp_path / "out", progress=False).run())
    assert set(rows["split"]) == {"train", "validation", "test"}
    per_sku = pd.read_csv(tmp_path / "out" / "per_sku" / "newsvendor-seed0.csv")
    assert per_sku["sku"].tolist() == [f"s{i}" for i in range(8)]
    # equal demand, different margins: the SKUs with the larger margin hold more stock
    low, high = per_sku["holding_units"][:4], per_sku["holding_units"][4:]
    assert (high.to_numpy() > low.to_numpy()).all()
