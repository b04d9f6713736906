"""A max order per SKU (issue 18 item 4): InventoryProblem.max_order takes one cap per SKU (keyed
by SKU id from a ``max_order`` attribute), the simulator clips every order to its own SKU's cap
(eager, compiled, differentiable), and every family uses it or refuses it saying why. The
oracle throughout: a SKU with its own cap behaves exactly as that SKU simulated (or fitted)
alone with the cap as a single value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from orkit.core import InventoryProblem, ValidationError
from orkit.core.errors import DataError
from orkit.data import Dataset
from orkit.evaluation import evaluate, per_sku_costs, per_sku_loss
from orkit.heuristics import (
    BaseStockPolicy,
    ConstantOrderPolicy,
    DynamicProgrammingPolicy,
    EmpiricalDPPolicy,
    NewsvendorPolicy,
)
from orkit.sim import simulate
from orkit.sim.gym_vector import InventoryVectorEnv

CAPS = [3.0, 8.0]


def twins(n_periods: int = 60, seed: int = 0) -> np.ndarray:
    """Two SKUs with the very same demand path (mean 5 a period)."""
    path = np.random.default_rng(seed).poisson(5.0, size=n_periods).astype(float)
    return np.stack([path, path])


def capped_data(n_periods: int = 60) -> Dataset:
    return Dataset(twins(n_periods), sku_ids=["a", "b"], attributes={"max_order": CAPS})


# ----------------------------------------------------------------- the problem
def test_max_order_is_a_scalar_or_one_value_per_sku_read_from_attributes_by_id():
    problem = InventoryProblem(lead_time=1).with_attributes(capped_data())
    assert problem.max_order.tolist() == CAPS and problem.sku_ids == ("a", "b")
    assert problem.for_data(capped_data().subset([1, 0])).max_order.tolist() == CAPS[::-1]
    assert problem.subset([1]).max_order.tolist() == [8.0]
    assert "max order 3..8 (per SKU)" in problem.describe()
    assert InventoryProblem(max_order=5).max_order == 5.0 and InventoryProblem().max_orders(2) is None
    with pytest.raises(ValidationError, match="max_order must be > 0, got 0 at SKU index 1"):
        InventoryProblem(max_order=[3.0, 0.0])
    with pytest.raises(ValidationError, match="per-SKU values must have the same number of SKUs"):
        InventoryProblem(max_order=[3.0, 4.0], holding_cost=[0.1, 0.1, 0.1])
    with pytest.raises(ValidationError, match="max_order has 2 values but the data has 3 SKUs"):
        simulate(BaseStockPolicy(5.0), torch.ones(3, 5), InventoryProblem(max_order=CAPS))
    bad = Dataset(twins(10), sku_ids=["a", "b"], attributes={"max_order": [3.0, 0.0]})
    with pytest.raises(DataError, match="attribute max_order must be > 0, got 0 at sku 'b'"):
        InventoryProblem().with_attributes(bad)
    with pytest.raises(ValidationError, match="max_order is set both by the problem"):
        InventoryProblem(max_order=4.0).with_attributes(capped_data(), given={"max_order"})


# ----------------------------------------------------------------- the simulator
def alone(policy, data: Dataset, i: int, cap: float, **kwargs):
    return simulate(policy, data.subset([i]), InventoryProblem(lead_time=1, max_order=cap), **kwargs)


@pytest.mark.parametrize("ledger, fused", [("full", False), ("lean", False), ("full", True), ("lean", True)])
def test_each_sku_is_clipped_to_its_own_cap_eager_and_compiled(ledger, fused, caplog):
    data = capped_data()
    problem = InventoryProblem(lead_time=1).with_attributes(data)
    with caplog.at_level("WARNING", logger="orkit.sim.simulator"):
        led = simulate(BaseStockPolicy(20.0), data, problem, ledger=ledger, fused=fused)
    assert "did not compile" not in caplog.text  # the compiled run really ran compiled
    loss = per_sku_loss(led)
    assert loss[0] > loss[1]  # equal demand, the smaller cap falls short
    for i, cap in enumerate(CAPS):
        one = alone(BaseStockPolicy(20.0), data, i, cap, ledger=ledger, fused=fused)
        assert loss[i].item() == pytest.approx(per_sku_loss(one)[0].item(), rel=1e-6)
        assert per_sku_costs(led)["total_cost"][i].item() == pytest.approx(per_sku_costs(one)["total_cost"][0].item(),
                                                                          rel=1e-6)
    if ledger == "full":
        assert led.order.max(1).values.tolist() == CAPS  # each SKU orders its own cap, no more


def test_a_differentiable_run_clips_each_sku_and_passes_gradients_below_the_cap():
    data = capped_data()
    problem = InventoryProblem(lead_time=1).with_attributes(data)
    level = torch.tensor([6.0, 6.0], requires_grad=True)
    led = simulate(BaseStockPolicy(level), data, problem, differentiable=True)
    assert led.order[0].max().item() == 3.0 and led.order[1].max().item() > 3.0
    per_sku_loss(led).sum().backward()
    # SKU a's cap binds on every order after the first (the demand averages 5 > 3), so its
    # level moves no order: gradient 0; SKU b's orders follow its level
    assert (led.order[0, 1:] == 3.0).all()
    assert level.grad[0].item() == 0.0 and level.grad[1].item() != 0.0


def test_the_gymnasium_adapters_refuse_a_per_sku_cap():
    with pytest.raises(ValidationError, match="one action space .* cannot take a per-SKU max_order"):
        InventoryVectorEnv(twins(10), InventoryProblem(max_order=CAPS), num_envs=2)


# ----------------------------------------------------------------- families
def test_simulation_fitted_heuristics_search_each_skus_cost_under_its_own_cap():
    data = capped_data(120)
    problem = InventoryProblem(lead_time=1).with_attributes(data)
    for make in (lambda: ConstantOrderPolicy(per_sku=True), lambda: BaseStockPolicy(per_sku=True)):
        fitted = make().fit(data, None, problem)
        name = "quantity_" if isinstance(fitted, ConstantOrderPolicy) else "level_"
        for i, cap in enumerate(CAPS):
            one = make().fit(data.subset([i]), None, InventoryProblem(lead_time=1, max_order=cap))
            assert getattr(fitted, name)[i] == getattr(one, name)[0]
    # a constant order above the cap changes nothing: the search keeps the smallest best value
    assert ConstantOrderPolicy(per_sku=True).fit(data, None, problem).quantity_[0] <= CAPS[0]


def test_analytic_policies_are_clipped_by_the_simulator():
    data = capped_data()
    problem = InventoryProblem(lead_time=1).with_attributes(data)
    policy = NewsvendorPolicy("poisson").fit(data, None, problem)
    led = simulate(policy, data, problem, ledger="full")
    assert (led.order <= torch.tensor(CAPS, dtype=led.order.dtype)[:, None]).all()
    assert per_sku_loss(led)[0] > per_sku_loss(led)[1]


@pytest.mark.parametrize("policy", [DynamicProgrammingPolicy, EmpiricalDPPolicy])
def test_dynamic_programs_refuse_different_caps_and_accept_equal_ones(policy):
    with pytest.raises(ValidationError, match="solves one problem for every SKU .* one max_order.*equal caps"):
        policy().fit(twins(60), None, InventoryProblem(lead_time=1, max_order=CAPS))
    fitted = policy().fit(twins(60), None, InventoryProblem(lead_time=1, max_order=[8.0, 8.0]))
    same = policy().fit(twins(60), None, InventoryProblem(lead_time=1, max_order=8.0))
    obs = simulate(fitted, twins(60), InventoryProblem(lead_time=1, max_order=8.0))
    assert per_sku_loss(obs).tolist() == per_sku_loss(simulate(same, twins(60), InventoryProblem(lead_time=1,
                                                                                                  max_order=8.0))).tolist()


def test_two_stage_bounds_each_skus_order_by_its_cap():
    from orkit.twostage import TwoStagePolicy
    from orkit.twostage.model import build_replenishment_model, solve, update_model_data

    # L = 0, P = 1: the 0.75 sample quantile of {1, 2, 5} is 5 (build_replenishment_model's
    # docstring example), cut to each SKU's cap
    model = build_replenishment_model([0, 0], [1, 1], 3, holding_cost=1.0, shortage_cost=3.0, max_order=[2.0, 100.0])
    update_model_data(model, inventory_position=[0.0, 0.0], demand=[[[1.0], [2.0], [5.0]]] * 2)
    assert solve(model).orders.tolist() == pytest.approx([2.0, 5.0])
    data = capped_data(80)
    problem = InventoryProblem(lead_time=1, review_period=2).with_attributes(data)
    policy = TwoStagePolicy(n_scenarios=10, n_threads=1).fit(data, data, problem)
    led = simulate(policy, data, problem, ledger="full")
    assert led.order.max(1).values.tolist() == CAPS
    with pytest.raises(ValidationError, match="observation does not give the SKUs' caps"):
        policy._replenishment_model(np.ones(2, dtype=np.int64), np.full(2, 2, dtype=np.int64))


def test_ds_trains_with_each_skus_cap_from_the_ledger(one_thread):
    from orkit.rl import DSPolicy

    demand = np.tile(twins(60)[0], (6, 1))
    data = Dataset(demand, sku_ids=[f"s{i}" for i in range(6)],
                   attributes={"max_order": [3.0, 8.0] * 3}).random_split((2, 2, 2), seed=0)
    problem = InventoryProblem(lead_time=1).with_attributes(data)
    train, validation, test = data.splits()
    policy = DSPolicy("base", max_epochs=2, hidden_sizes=(8,), batch_size=2, seed=0).fit(train, validation, problem)
    network = policy.policy_.network
    # the network holds no per-SKU cap (the simulator clips each SKU to its own); its output
    # range is the largest cap in demand scales
    assert network.max_order is None
    assert network.action_range == pytest.approx(8.0 / float(network.encoder.global_scale))
    assert policy.best_validation_loss_ == pytest.approx(evaluate(policy, validation, problem)["weighted_loss"],
                                                         rel=1e-5)
    led = simulate(policy, test, problem, ledger="full")
    caps = torch.as_tensor(problem.for_data(test).max_order, dtype=led.order.dtype)
    assert (led.order <= caps[:, None]).all()


@pytest.mark.parametrize("name, budget", [
    ("ppo", dict(total_timesteps=280, num_steps=140, hidden_sizes=(8,))),
    ("ddpg", dict(total_timesteps=112, learning_starts=56, eval_every=56, batch_size=32, hidden_sizes=(8,))),
])
def test_policy_gradient_learners_score_on_the_ledger_with_each_skus_cap(one_thread, name, budget):
    from orkit.experiments.registry import make_policy

    demand = np.tile(twins(60)[0], (6, 1))
    data = Dataset(demand, sku_ids=[f"s{i}" for i in range(6)],
                   attributes={"max_order": [3.0, 8.0] * 3}).random_split((2, 2, 2), seed=0)
    problem = InventoryProblem(lead_time=1).with_attributes(data)
    train, validation, _ = data.splits()
    policy = make_policy(name, regularization="base", seed=0, **budget).fit(train, validation, problem)
    assert policy.best_validation_loss_ == pytest.approx(evaluate(policy, validation, problem)["weighted_loss"],
                                                         rel=1e-5)
    capped = evaluate(policy, validation, problem)["weighted_loss"]
    assert capped != pytest.approx(evaluate(policy, validation, InventoryProblem(lead_time=1))["weighted_loss"],
                                   rel=1e-3)


def test_warm_start_records_the_teacher_clipped_to_each_skus_cap(one_thread):
    from orkit.rl import DSPolicy
    from orkit.rl.warm_start import record_teacher

    data = capped_data()
    problem = InventoryProblem(lead_time=1).with_attributes(data)
    policy = DSPolicy("base", max_epochs=1, hidden_sizes=(8,), batch_size=2, seed=0).fit(data, data, problem)
    _, orders = record_teacher(BaseStockPolicy(20.0), policy.policy_.network, data, problem)
    assert orders.reshape(2, -1).max(1).values.tolist() == CAPS


def test_recommend_clips_each_sku_to_its_cap_by_id():
    from orkit.experiments.recommend import recommend

    state = pd.DataFrame({"sku": ["b", "a"], "on_hand": [0.0, 0.0]})
    keyed = InventoryProblem(lead_time=1).with_attributes(capped_data())
    table = recommend(BaseStockPolicy(20.0), state, keyed).set_index("sku")["order"]
    assert table.to_dict() == {"b": 8.0, "a": 3.0}
    with pytest.raises(ValidationError, match="per-SKU max_order in recommend must be keyed by SKU id"):
        recommend(BaseStockPolicy(20.0), state, InventoryProblem(lead_time=1, max_order=CAPS))


def test_orkit_recommend_clips_by_the_fit_files_max_order_attribute(tmp_path, capsys):
    from orkit.cli.main import main

    capped_data().write(tmp_path / "sales.csv")
    (tmp_path / "state.csv").write_text("sku,on_hand\na,-20\nb,-20\n")  # a backlog of 20 each
    out = tmp_path / "orders.csv"
    assert main(["recommend", "--state", str(tmp_path / "state.csv"), "--policy", "base-stock", "--param",
                 "per_sku=true", "--fit", str(tmp_path / "sales.csv"), "--out", str(out)]) == 0
    assert pd.read_csv(out).set_index("sku")["order"].to_dict() == {"a": 3.0, "b": 8.0}
    assert main(["recommend", "--state", str(tmp_path / "state.csv"), "--policy", "base-stock", "--fit",
                 str(tmp_path / "sales.csv"), "--max-order", "5", "--out", str(tmp_path / "x.csv")]) != 0
    assert "max_order is set both by a flag" in capsys.readouterr().err
