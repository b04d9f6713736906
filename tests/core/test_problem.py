"""InventoryProblem validation: every bad value names the parameter, the rule and the value."""

from __future__ import annotations

import numpy as np
import pytest

from orkit.core import InventoryProblem, ValidationError


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lead_time": -1}, "lead_time must be >= 0, got -1"),
        ({"lead_time": 1.5}, "lead_time must be an integer, got 1.5"),
        ({"review_period": 0}, "review_period must be >= 1, got 0"),
        ({"holding_cost": -0.1}, "holding_cost must be >= 0, got -0.1"),
        ({"shortage_cost": float("nan")}, "shortage_cost must be finite, got nan"),
        ({"max_order": 0}, "max_order must be > 0, got 0"),
        ({"warmup_periods": -2}, "warmup_periods must be >= 0, got -2"),
        ({"lost_sales": "yes"}, "lost_sales must be True or False, got 'yes'"),
        ({"lead_time": [1, -1]}, "lead_time must be >= 0, got -1"),
        ({"lead_time": [1, 2], "review_period": [1, 2, 3]}, "same number of SKUs"),
        ({"holding_cost": [0.1, -0.2]}, "holding_cost must be >= 0, got -0.2 at SKU index 1"),
        ({"shortage_cost": [1.0, float("inf")]}, "shortage_cost must be finite, got inf at SKU index 1"),
        ({"fixed_cost": -1}, "fixed_cost must be >= 0, got -1"),
        ({"fixed_cost": [[1.0]]}, "fixed_cost must be a number or one number per SKU (1-d), got shape (1, 1)"),
        ({"fixed_cost": ["a", "b"]}, "fixed_cost must hold numbers"),
        ({"lead_time": [1, 2], "fixed_cost": [1.0, 2.0, 3.0]}, "per-SKU values must have the same number of SKUs, got lead_time 2, fixed_cost 3"),
        ({"lost_sales": True, "initial_on_hand": -1}, "initial_on_hand must be >= 0 under lost sales"),
    ],
)
def test_bad_values_are_rejected_with_a_clear_message(kwargs, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        InventoryProblem(**kwargs)


def test_validation_errors_are_value_errors():
    with pytest.raises(ValueError):
        InventoryProblem(lead_time=-1)


def test_defaults_and_derived_quantities():
    p = InventoryProblem(lead_time=1, review_period=2)
    assert p.critical_ratio == pytest.approx(0.9)  # DeepStock: b / (b + h) = 0.9 / 1.0
    assert p.warmups(3).tolist() == [3, 3, 3]  # L + P
    assert p.with_(warmup_periods=0).warmups(2).tolist() == [0, 0]
    assert not p.per_sku


def test_per_sku_timing():
    p = InventoryProblem(lead_time=np.array([0, 2, 3]), review_period=1)
    assert p.per_sku and p.max_lead_time == 3
    assert p.lead_times(3).tolist() == [0, 2, 3]
    assert p.warmups(3).tolist() == [1, 3, 4]
    with pytest.raises(ValidationError, match="lead_time has 3 values but the data has 4 SKUs"):
        p.lead_times(4)


def test_per_sku_costs():
    p = InventoryProblem(holding_cost=[0.1, 1.0], shortage_cost=0.9, fixed_cost=[0, 5])
    assert p.per_sku_costs and not p.per_sku and p.n_skus == 2
    assert p.critical_ratio.tolist() == pytest.approx([0.9, 0.9 / 1.9])
    assert p.holding_costs(2).tolist() == [0.1, 1.0] and p.shortage_costs(2).tolist() == [0.9, 0.9]
    assert p.fixed_costs(2).dtype == np.float64
    with pytest.raises(ValidationError, match="fixed_cost has 2 values but the data has 3 SKUs"):
        p.fixed_costs(3)
    one = p.subset([1])
    assert one.holding_cost.tolist() == [1.0] and one.fixed_cost.tolist() == [5.0] and one.shortage_cost == 0.9
    assert "holding cost 0.1..1 (per SKU)" in p.describe() and "fixed cost 0..5 (per SKU)" in p.describe()
    assert InventoryProblem(fixed_cost=64).fixed_cost == 64.0 and "fixed cost 64" in InventoryProblem(fixed_cost=64).describe()
    assert "fixed cost" not in InventoryProblem().describe()
    with pytest.raises(ValidationError, match="holding_cost \\+ shortage_cost must be > 0 .* at SKU index 1"):
        InventoryProblem(holding_cost=[1.0, 0.0], shortage_cost=[1.0, 0.0]).critical_ratio


def test_keyed_problems_follow_their_skus_by_id_repeats_included():
    from types import SimpleNamespace

    p = InventoryProblem(shortage_cost=[1.0, 2.0, 3.0], sku_ids=["a", "b", "c"])
    assert p.for_data(SimpleNamespace(sku_ids=["c", "a", "c"])).shortage_cost.tolist() == [3.0, 1.0, 3.0]
    assert p.for_data(SimpleNamespace(sku_ids=["c", "a", "c"])).sku_ids is None
    assert p.subset([2]).sku_ids == ("c",)
    with pytest.raises(ValidationError, match="sku_ids must not repeat a SKU"):
        InventoryProblem(shortage_cost=[1.0, 2.0], sku_ids=["a", "a"])
    with pytest.raises(ValidationError, match="got sku_ids 3, shortage_cost 2"):
        InventoryProblem(shortage_cost=[1.0, 2.0], sku_ids=["a", "b", "c"])
