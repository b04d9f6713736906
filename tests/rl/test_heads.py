"""The four regularization heads against hand-computed orders (paper.md section 3)."""

from __future__ import annotations

import pytest
import torch

from orkit.core import ValidationError
from orkit.data.schema import FeatureRole
from orkit.rl import (
    BaseHead,
    BothHead,
    CoeffHead,
    EncodedObservation,
    NoneHead,
    base_order,
    both_order,
    coeff_order,
    coefficient_weights,
    make_head,
    none_order,
)
from orkit.rl.heads import head_from_config


def encoded(scale, inventory_position, coeff=None):
    n = len(scale)
    coeff = torch.zeros(n, 0) if coeff is None else torch.tensor(coeff)
    return EncodedObservation(torch.zeros(n, 1), torch.tensor(scale), torch.tensor(inventory_position), coeff,
                              torch.zeros(n))


# ----------------------------------------------------------------------------- the formulas
def test_pure_formulas_by_hand():
    mu = torch.tensor([30.0, 10.0, 5.0])
    ip = torch.tensor([12.0, 15.0, -4.0])
    assert none_order(mu).tolist() == [30.0, 10.0, 5.0]
    assert base_order(mu, ip).tolist() == [18.0, 0.0, 9.0]  # max(mu - tot(I), 0); backlog raises the order
    w = torch.tensor([[1.0, 2.0], [0.5, 0.0]])
    feat = torch.tensor([[3.0, 4.0], [10.0, 7.0]])
    assert coeff_order(w, feat).tolist() == [11.0, 5.0]  # 1*3 + 2*4, 0.5*10
    assert both_order(w, feat, torch.tensor([4.0, 6.0])).tolist() == [7.0, 0.0]


def test_coefficient_weights_are_clipped_to_0_1_and_scaled_by_28():
    out = torch.tensor([-0.5, 0.0, 0.25, 1.0, 3.0])
    assert coefficient_weights(out).tolist() == [0.0, 0.0, 7.0, 28.0, 28.0]
    assert coefficient_weights(out, 10.0).tolist() == [0.0, 0.0, 2.5, 10.0, 10.0]


# ----------------------------------------------------------------------------- the heads (units and clipping)
def test_none_head_orders_scale_times_output_clipped():
    head = NoneHead()
    e = encoded([2.0, 10.0, 1.0], [0.0, 0.0, 0.0])
    out = torch.tensor([[3.0], [20.0], [-1.0]])
    assert head(out, e, max_order=100.0).tolist() == [6.0, 100.0, 0.0]  # 2*3, 10*20 clipped, negative clipped
    assert head(out, e).tolist() == [6.0, 200.0, 0.0]  # no max order


def test_base_head_orders_up_to_the_level():
    head = BaseHead()
    e = encoded([10.0, 10.0, 4.0], [25.0, 50.0, -3.0])
    out = torch.tensor([[4.0], [4.0], [2.0]])  # levels 40, 40, 8
    assert head(out, e, max_order=100.0).tolist() == [15.0, 0.0, 11.0]
    assert head.unclipped_order(out, e).tolist() == [15.0, -10.0, 11.0]


def test_coeff_head_weights_features_and_bias():
    head = CoeffHead(["past", "forecast"])
    assert head.n_outputs() == 3
    # features are given to the head divided by s (and the bias as 1): feat in units = (6, 8, s)
    e = encoded([2.0], [100.0], coeff=[[3.0, 4.0, 1.0]])
    out = torch.tensor([[0.5, 0.25, 1.0 / 28]])  # weights 14, 7, 1
    assert head(out, e).item() == pytest.approx(14 * 6 + 7 * 8 + 1 * 2)  # ignores the inventory position
    assert head(out, e, max_order=50.0).item() == 50.0


def test_both_head_subtracts_the_inventory_position():
    head = BothHead(["past"], bias=False)
    e = encoded([1.0, 1.0], [20.0, 40.0], coeff=[[10.0], [10.0]])
    out = torch.tensor([[3 / 28], [3 / 28]])  # weight 3: level 30
    assert head(out, e).tolist() == pytest.approx([10.0, 0.0])


def test_coeff_head_resolves_its_features_from_the_dataset_feature_roles():
    roles = {"period_index": FeatureRole("categorical"), "a": FeatureRole("quantity"), "b": FeatureRole("forecast")}
    head = CoeffHead().resolve(("period_index", "a", "b"), roles)
    assert head.feature_names == ("a", "b") and head.n_outputs() == 3
    with pytest.raises(ValidationError, match="features of role 'quantity' or 'forecast'"):
        CoeffHead().resolve(("a",), {"a": FeatureRole("numeric")})
    with pytest.raises(ValidationError, match="'c' is not in the dataset"):
        BothHead(["c"]).resolve(("a",), {})


def test_make_head_and_config_round_trip():
    for name, cls in [("none", NoneHead), ("base", BaseHead), ("coeff", CoeffHead), ("Both", BothHead)]:
        assert type(make_head(name)) is cls
    head = BothHead(["x", "y"], coefficient_scale=14.0, bias=False)
    assert head_from_config(head.to_config()) == head
    assert make_head(head) is head
    with pytest.raises(ValidationError, match="regularization must be one of"):
        make_head("entropy")
    with pytest.raises(ValidationError, match="coefficient_scale must be > 0"):
        CoeffHead(coefficient_scale=0)
