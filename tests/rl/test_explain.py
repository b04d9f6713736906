"""Recommendation mode shows why: target levels for Base/Both, coefficients for Coeff/Both."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orkit.core import InventoryProblem
from orkit.data import generate
from orkit.experiments.recommend import recommend
from orkit.rl import DSPolicy


@pytest.fixture(scope="module")
def setting_1():
    data = generate("deepstock-1", seed=0)
    train, validation, _ = data.splits()
    return data, train, validation, InventoryProblem(**data.metadata["problem"])


def state_table(data, period=10, n=4):
    frame = pd.DataFrame({"sku": [f"s{i}" for i in range(n)], "on_hand": np.arange(n, dtype=float) * 5,
                          "pipeline_1": np.full(n, 3.0), "period": period})
    for j, name in enumerate(data.feature_names):
        frame[name] = data.features[:n, period, j]
    for lag in range(1, 8):
        frame[f"demand_lag_{lag}"] = data.demand[:n, period - lag]
    return frame


@pytest.mark.parametrize("regularization, columns", [
    ("base", {"target_level"}),
    ("coeff", {"coefficient_0"}),
    ("both", {"target_level", "coefficient_0"}),
])
def test_recommend_explains_regularized_orders(setting_1, regularization, columns):
    data, train, validation, problem = setting_1
    policy = DSPolicy(regularization, max_epochs=2, seed=0).fit(train, validation, problem)
    table = recommend(policy, state_table(data), problem)
    assert columns <= set(table.columns)
    assert (table.order >= 0).all()
    if regularization == "base":
        # Base orders up to the level: order = max(level - inventory position, 0)
        position = table.index.to_numpy() * 5.0 + 3.0
        expected = np.clip(table.target_level.to_numpy() - position, 0, problem.max_order)
        np.testing.assert_allclose(table.order.to_numpy(), expected, rtol=1e-5, atol=1e-4)


def test_a_saved_policy_loads_through_the_registry(setting_1, tmp_path):
    from orkit.experiments.registry import load_policy

    data, train, validation, problem = setting_1
    policy = DSPolicy("base", max_epochs=2, seed=0).fit(train, validation, problem)
    policy.save(tmp_path / "ds-base-seed0")
    loaded = load_policy(tmp_path / "ds-base-seed0")
    state = state_table(data)
    pd.testing.assert_frame_equal(recommend(loaded, state, problem), recommend(policy, state, problem))
