"""RL learners on data whose attributes give per-SKU economics, split SKU-randomly: the problem
is keyed by SKU id (InventoryProblem.with_attributes), and each part of the split (training
minibatches, validation, test) takes its own SKUs' values."""

from __future__ import annotations

import numpy as np
import pytest

from orkit.core import InventoryProblem
from orkit.data import Dataset
from orkit.evaluation import evaluate


def lead_time_data() -> Dataset:
    demand = np.random.default_rng(0).poisson(5.0, size=(12, 60)).astype(float)
    return Dataset(demand, sku_ids=[f"s{i}" for i in range(12)],
                   attributes={"lead_time": [0, 1, 2, 3] * 3}).random_split((6, 3, 3), seed=0)


def test_ds_trains_on_a_sku_random_split_with_per_sku_lead_times_from_attributes(one_thread):
    from orkit.rl import DSPolicy

    data = lead_time_data()
    problem = InventoryProblem(lead_time=1, review_period=1).with_attributes(data)
    train, validation, test = data.splits()
    policy = DSPolicy("base", max_epochs=2, hidden_sizes=(8,), batch_size=3, seed=0).fit(train, validation, problem)
    # the network sees the pipeline of the longest lead time among every SKU the problem names
    assert policy.policy_.network.encoder.pipeline_width == 3
    # the validation loss DS keeps is the ledger's, with the validation SKUs' own lead times
    assert policy.best_validation_loss_ == pytest.approx(evaluate(policy, validation, problem)["weighted_loss"],
                                                         rel=1e-5)
    own = evaluate(policy, test, problem)["weighted_loss"]
    shared = evaluate(policy, test, InventoryProblem(lead_time=1, review_period=1))["weighted_loss"]
    assert np.isfinite(own) and own != pytest.approx(shared, rel=1e-3)
