"""One schema for features (issue 18 item 2): a generated dataset trains the same after a round
trip through CSV or Parquet, and a foreign frame with declared roles trains like the generated
one; without the roles it does not (the trap the schema closes)."""

from __future__ import annotations

import pandas as pd
import pytest

from orkit.core import InventoryProblem
from orkit.data import Dataset, generate
from orkit.evaluation import evaluate
from orkit.rl import DSPolicy

TINY = dict(max_epochs=2, hidden_sizes=(16, 16), batch_size=5, seed=0)


@pytest.fixture(scope="module")
def generated():
    return generate("deepstock-1", seed=0, n_test=20)


def ds_base_test_loss(dataset: Dataset, problem: InventoryProblem) -> float:
    train, validation, test = dataset.splits()
    policy = DSPolicy("base", **TINY).fit(train, validation, problem)
    return evaluate(policy, test, problem)["weighted_loss"]


def test_a_generated_dataset_trains_the_same_after_csv_and_parquet(generated, tmp_path):
    problem = InventoryProblem(**generated.metadata["problem"])
    expected = ds_base_test_loss(generated, problem)
    for suffix in ("csv", "parquet"):
        back = Dataset.read(generated.write(tmp_path / f"setting-1.{suffix}"))
        assert back.feature_roles == generated.feature_roles
        assert ds_base_test_loss(back, problem) == pytest.approx(expected, abs=1e-6)


def test_a_foreign_frame_with_declared_roles_trains_like_the_generated_one(generated):
    problem = InventoryProblem(**generated.metadata["problem"])
    expected = ds_base_test_loss(generated, problem)
    frame = pd.DataFrame(generated.to_frame())
    frame.attrs.clear()  # a table from elsewhere: no orkit header, no metadata
    roles = ["period_index=categorical", "demand_mean_past_28=quantity", "demand_mean_past_7=quantity",
             "forecast_mean_next_7=forecast", "forecast_mean_next_28=forecast"]
    declared = Dataset.from_frame(frame, feature_roles=roles)
    assert ds_base_test_loss(declared, problem) == pytest.approx(expected, abs=1e-6)
    undeclared = Dataset.from_frame(frame)  # every feature numeric: another network input
    assert ds_base_test_loss(undeclared, problem) != pytest.approx(expected, abs=1e-6)
