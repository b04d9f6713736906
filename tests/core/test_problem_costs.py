"""Per-SKU costs from dataset attributes (keyed by SKU id) and in every policy family: each
family either takes each SKU's costs (two SKUs with the same demand but different costs get
different levels or orders) or refuses them saying why."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from orkit.core import InventoryProblem, ValidationError
from orkit.core.errors import DataError
from orkit.data import Dataset
from orkit.evaluation import evaluate, per_sku_costs
from orkit.heuristics import (
    BaseStockPolicy,
    DynamicProgrammingPolicy,
    EmpiricalDPPolicy,
    NewsvendorPolicy,
    QuantileRegressionNewsvendorPolicy,
)
from orkit.sim import simulate
from orkit.twostage.model import build_replenishment_model, solve, update_model_data


def twins(n_periods: int = 120, seed: int = 0) -> np.ndarray:
    """Two SKUs with the very same demand path."""
    path = np.random.default_rng(seed).poisson(5.0, size=n_periods).astype(float)
    return np.stack([path, path])


# ----------------------------------------------------------------- attributes -> problem
def money_dataset() -> Dataset:
    return Dataset(twins(30), sku_ids=["a", "b"], attributes={
        "unit_cost": [2.0, 10.0], "holding_rate": 0.05, "margin": [1.0, 4.0], "fixed_cost": [0.0, 3.0]})


def test_costs_follow_from_unit_cost_holding_rate_and_margin():
    problem = InventoryProblem(lead_time=0).with_attributes(money_dataset())
    # h = holding_rate * unit_cost, b = margin (the rule in InventoryProblem.with_attributes)
    assert problem.holding_cost.tolist() == pytest.approx([0.1, 0.5])
    assert problem.shortage_cost.tolist() == [1.0, 4.0] and problem.fixed_cost.tolist() == [0.0, 3.0]
    assert problem.sku_ids == ("a", "b")
    # keyed by id: a subset in another order takes its own SKUs' values
    sub = money_dataset().subset([1, 0])
    assert problem.for_data(sub).holding_cost.tolist() == pytest.approx([0.5, 0.1])
    led = simulate(BaseStockPolicy(8.0), sub, problem)
    one = simulate(BaseStockPolicy(8.0), sub.subset([0]), InventoryProblem(lead_time=0, holding_cost=0.5,
                                                                        shortage_cost=4.0, fixed_cost=3.0))
    assert per_sku_costs(led)["total_cost"][0].item() == pytest.approx(per_sku_costs(one)["total_cost"][0].item())
    with pytest.raises(ValidationError, match="keyed by SKU id"):
        simulate(BaseStockPolicy(8.0), torch.ones(2, 5), problem)
    other = Dataset(twins(30), sku_ids=["a", "z"])
    with pytest.raises(ValidationError, match="no per-SKU values for 1 of the data's SKUs \\('z'\\)"):
        problem.for_data(other)


@pytest.mark.parametrize("attributes, given, error, message", [
    ({"holding_rate": [0.1, 0.1]}, (), DataError, "holding_rate needs a unit_cost"),
    ({"holding_cost": [1.0, 1.0], "unit_cost": [1.0, 1.0], "holding_rate": [0.1, 0.1]}, (), DataError, "keep one"),
    ({"shortage_cost": [1.0, 1.0], "margin": [1.0, 1.0]}, (), DataError, "shortage_cost and margin"),
    ({"margin": [1.0, -1.0]}, (), DataError, "attribute margin must be >= 0, got -1 at sku 'b'"),
    ({"unit_cost": ["x", "y"], "holding_rate": [0.1, 0.1]}, (), DataError, "attribute unit_cost must hold numbers"),
    ({"margin": [1.0, 2.0]}, ("shortage_cost",), ValidationError, "shortage_cost is set both by the problem"),
])
def test_bad_or_conflicting_cost_attributes_are_refused(attributes, given, error, message):
    data = Dataset(twins(10), sku_ids=["a", "b"], attributes=attributes)
    with pytest.raises(error, match=message):
        InventoryProblem().with_attributes(data, given=given)


def test_a_unit_cost_alone_sets_no_rate():
    data = Dataset(twins(10), sku_ids=["a", "b"], attributes={"unit_cost": [1.0, 2.0]})
    assert InventoryProblem().with_attributes(data).holding_cost == 0.1


# ----------------------------------------------------------------- families
def test_newsvendor_takes_each_skus_critical_ratio():
    demand = twins()
    problem = InventoryProblem(lead_time=1, review_period=1, holding_cost=1.0, shortage_cost=[1.0, 9.0])
    for per_sku in (False, True):
        policy = NewsvendorPolicy("poisson", per_sku=per_sku).fit(demand, None, problem)
        assert policy.per_sku_ and policy.level_.shape == (2,)
        for i, b in enumerate((1.0, 9.0)):
            alone = NewsvendorPolicy("poisson", per_sku=per_sku).fit(demand, None, problem.with_(shortage_cost=b))
            assert policy.level_[i] == float(np.ravel(alone.level_)[i if per_sku else 0])
        assert policy.level_[1] > policy.level_[0]


def test_base_stock_search_minimises_each_skus_own_cost():
    demand = twins()
    problem = InventoryProblem(lead_time=1, review_period=1, holding_cost=1.0, shortage_cost=[1.0, 9.0])
    levels = BaseStockPolicy(per_sku=True).fit(demand, None, problem).level_
    for i, b in enumerate((1.0, 9.0)):
        alone = BaseStockPolicy(per_sku=True).fit(demand[i:i + 1], None, problem.with_(shortage_cost=b)).level_
        assert levels[i] == alone[0]
    assert levels[1] > levels[0]


def test_contextual_newsvendors_refuse_different_critical_ratios_and_accept_equal_ones():
    demand = twins(60)
    unequal = InventoryProblem(lead_time=0, holding_cost=1.0, shortage_cost=[1.0, 9.0])
    with pytest.raises(ValidationError, match="one quantile model at one critical ratio"):
        QuantileRegressionNewsvendorPolicy(demand_lags=1).fit(demand, None, unequal)
    equal = InventoryProblem(lead_time=0, holding_cost=[1.0, 2.0], shortage_cost=[9.0, 18.0])  # both 0.9
    QuantileRegressionNewsvendorPolicy(demand_lags=1).fit(demand, None, equal)


@pytest.mark.parametrize("policy", [DynamicProgrammingPolicy, EmpiricalDPPolicy])
def test_dynamic_programs_pool_demand_and_refuse_per_sku_costs(policy):
    demand = twins(60)
    with pytest.raises(ValidationError, match="solves one problem for every SKU .* one shortage_cost"):
        policy().fit(demand, None, InventoryProblem(lead_time=1, shortage_cost=[1.0, 9.0]))


def test_empirical_dp_refuses_a_fixed_cost():
    with pytest.raises(ValidationError, match="no fixed ordering cost"):
        EmpiricalDPPolicy().fit(twins(60), None, InventoryProblem(lead_time=1, fixed_cost=5.0))


def test_two_stage_model_orders_each_skus_quantile_and_weighs_the_fixed_cost():
    # L = 0, P = 1, backorders: the order is the b_i / (b_i + h) sample quantile of {1, 2, 5}
    # (Snyder & Shen's newsvendor; the example of build_replenishment_model's docstring for b = 3)
    scenarios = [[[1.0], [2.0], [5.0]]] * 2
    model = build_replenishment_model([0, 0], [1, 1], 3, holding_cost=1.0, shortage_cost=[3.0, 0.4])
    update_model_data(model, inventory_position=[0.0, 0.0], demand=scenarios)
    assert solve(model).orders.tolist() == pytest.approx([5.0, 1.0])
    # K = 100 exceeds what any order saves (at most b * E[D] = 3 * 8/3): no order for that SKU
    model = build_replenishment_model([0, 0], [1, 1], 3, holding_cost=1.0, shortage_cost=3.0, fixed_cost=[0.0, 100.0])
    update_model_data(model, inventory_position=[0.0, 0.0], demand=scenarios)
    assert solve(model).orders.tolist() == pytest.approx([5.0, 0.0])


def test_ds_trains_on_the_ledger_with_each_skus_costs(setting_1, one_thread):
    from orkit.rl import DSPolicy

    train, validation, test, problem = setting_1
    # every SKU of the whole dataset gets its own shortage cost, keyed by id
    ids = np.concatenate([train.sku_ids, validation.sku_ids, test.sku_ids])
    costs = 0.5 + (np.arange(ids.size) % 4)
    keyed = problem.with_(shortage_cost=costs, sku_ids=ids)
    policy = DSPolicy("base", max_epochs=2, hidden_sizes=(16, 16), batch_size=5, seed=0).fit(train, validation, keyed)
    # the validation loss DS keeps is the ledger's loss of the validation SKUs with their costs
    assert policy.best_validation_loss_ == pytest.approx(evaluate(policy, validation, keyed)["weighted_loss"], rel=1e-5)
    scalar = evaluate(policy, validation, problem)["weighted_loss"]
    assert math.isfinite(scalar) and scalar != pytest.approx(policy.best_validation_loss_, rel=1e-3)


@pytest.mark.parametrize("name", ["myopic", "myopic2", "vector-base-stock", "better-vector-base-stock", "dual-balancing"])
def test_lost_sales_heuristics_refuse_per_sku_costs(name):
    from orkit.experiments.registry import make_policy

    problem = InventoryProblem(lead_time=1, lost_sales=True, holding_cost=1.0, shortage_cost=[4.0, 9.0])
    with pytest.raises(ValidationError, match="solves one problem for every SKU .* one shortage_cost"):
        make_policy(name).fit(twins(60), None, problem)


@pytest.mark.parametrize("name, budget", [
    ("ppo", dict(total_timesteps=280, num_steps=140, hidden_sizes=(8,))),
    ("ddpg", dict(total_timesteps=112, learning_starts=56, eval_every=56, batch_size=32, hidden_sizes=(8,))),
])
def test_policy_gradient_learners_score_on_the_ledger_with_each_skus_costs(setting_1, one_thread, name, budget):
    from orkit.experiments.registry import make_policy

    train, validation, test, problem = setting_1
    ids = np.concatenate([train.sku_ids, validation.sku_ids, test.sku_ids])
    keyed = problem.with_(shortage_cost=0.5 + (np.arange(ids.size) % 4), fixed_cost=1.0, sku_ids=ids)
    # minibatches repeat trajectories: the keyed problem follows them (for_data allows repeats)
    policy = make_policy(name, regularization="base", seed=0, **budget).fit(train, validation, keyed)
    assert policy.best_validation_loss_ == pytest.approx(evaluate(policy, validation, keyed)["weighted_loss"], rel=1e-5)


def test_two_stage_policy_serves_each_skus_costs_from_the_observation():
    from orkit.twostage import TwoStagePolicy

    data = Dataset(np.tile(twins(80)[0], (4, 1)), sku_ids=list("abcd"))  # four SKUs, one demand path
    problem = InventoryProblem(lead_time=1, review_period=2, holding_cost=0.1, shortage_cost=[0.3, 0.3, 5.0, 5.0],
                               fixed_cost=[0.0, 2.0, 0.0, 0.0])
    policy = TwoStagePolicy(n_scenarios=10, n_threads=1).fit(data, data, problem)
    led = simulate(policy, data, problem)
    costs, stock = per_sku_costs(led), led.on_hand.clamp(min=0).mean(1)
    assert stock[2] > stock[0] and stock[3] > stock[0]  # larger b, more stock
    assert costs["orders_placed"][1] < costs["orders_placed"][0]  # K > 0, fewer orders
    assert costs["fixed_cost"][1] == 2.0 * costs["orders_placed"][1] and costs["fixed_cost"][0] == 0
    with pytest.raises(ValidationError, match="observation does not give the SKUs' costs"):
        policy._replenishment_model(np.ones(4, dtype=np.int64), np.full(4, 2, dtype=np.int64))


def test_recommend_fits_on_the_cost_attributes_of_its_fit_file(tmp_path, capsys):
    from orkit.cli.main import main

    data = Dataset(np.tile(twins(60)[0], (4, 1)), sku_ids=["a", "b", "c", "d"],
                   attributes={"shortage_cost": [0.3, 0.3, 4.0, 4.0]})
    data.write(tmp_path / "sales.csv")
    (tmp_path / "state.csv").write_text("sku,on_hand\na,0\nb,0\nc,0\nd,0\n")
    out = tmp_path / "orders.csv"
    assert main(["recommend", "--state", str(tmp_path / "state.csv"), "--policy", "newsvendor", "--param",
                 "per_sku=true", "--fit", str(tmp_path / "sales.csv"), "--out", str(out)]) == 0
    orders = pd.read_csv(out).set_index("sku")["order"]
    assert orders["a"] == orders["b"] < orders["c"] == orders["d"]
    assert main(["recommend", "--state", str(tmp_path / "state.csv"), "--policy", "newsvendor", "--fit",
                 str(tmp_path / "sales.csv"), "--shortage-cost", "2", "--out", str(tmp_path / "x.csv")]) != 0
    assert "shortage_cost is set both by a flag" in capsys.readouterr().err
