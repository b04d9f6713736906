"""A policy fitted per SKU is scored on the SKUs it was fitted on, or refused with a clear message
(issue 18 item 4: `per_sku = true` used to abort with "level has 30 values but there are 10 SKUs")."""

from __future__ import annotations

import pytest

from orkit.cli.main import main
from orkit.core import InventoryProblem, ValidationError
from orkit.data import generate
from orkit.evaluation import evaluate
from orkit.heuristics import NewsvendorPolicy


def test_a_per_sku_policy_is_scored_on_its_own_skus_only(capsys, tmp_path):
    data = generate("iid-normal", n_skus=30, n_periods=40, mean=10.0, std=3.0, seed=4).random_split([0.6, 0.2, 0.2], seed=0)
    train, _, test = data.splits()
    problem = InventoryProblem(lead_time=1)
    policy = NewsvendorPolicy(per_sku=True).fit(train, None, problem)
    assert evaluate(policy, train, problem)["weighted_loss"] > 0
    with pytest.raises(ValidationError, match=f"for the {train.n_skus} SKUs it was fitted on, and {test.n_skus} of the "
                                              f"data's {test.n_skus} SKUs were not among them .* split over time"):
        evaluate(policy, test, problem)
    with pytest.raises(ValidationError, match="in another order or only some of them"):
        evaluate(policy, train.subset(list(range(train.n_skus))[::-1]), problem)
    data.write(tmp_path / "tiny.csv")
    assert main(["evaluate", str(tmp_path / "tiny.csv"), "--policy", "newsvendor", "--param", "per_sku=true"]) != 0
    assert "--test-periods N" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "tiny.csv"), "--policy", "newsvendor", "--param", "per_sku=true",
                 "--test-periods", "10"]) == 0
