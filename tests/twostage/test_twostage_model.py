"""The scenario model against closed-form oracles: newsvendor, base stock, lost-sales SAA, constraints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orkit.core.errors import SolverError, ValidationError
from orkit.twostage import (
    OrderConstraints,
    build_replenishment_model,
    model_size,
    solve,
    update_model_data,
)

H, B = 0.1, 0.9  # DeepStock costs: critical ratio 0.9


def backorder_saa_cost(order: np.ndarray, position: np.ndarray, demand: np.ndarray, lead: int, review: int) -> np.ndarray:
    """Sample-average cost per SKU of ``order`` under backorders; demand (n, S, H)."""
    cumulative = np.cumsum(demand, axis=2)[:, :, lead : lead + review]
    net = (position + order)[:, None, None] - cumulative
    return (H * np.maximum(net, 0) + B * np.maximum(-net, 0)).sum(axis=2).mean(axis=1)


def lost_sales_saa_cost(order: float, on_hand: float, pipeline: np.ndarray, demand: np.ndarray, lead: int, review: int) -> float:
    """Sample-average cost of ``order`` for one SKU under lost sales, simulated period by period."""
    stock = np.full(demand.shape[0], on_hand)
    cost = np.zeros(demand.shape[0])
    for k in range(lead + review):
        if k >= 1 and k - 1 < len(pipeline):
            stock = stock + pipeline[k - 1]
        if k == lead:
            stock = stock + order
        sales = np.minimum(stock, demand[:, k])
        stock = stock - sales
        if k >= lead:
            cost += H * stock + B * (demand[:, k] - sales)
    return float(cost.mean())


def base_stock_saa_level(cumulative: np.ndarray) -> float:
    """Best order-up-to level for the counted cumulative demands (S, P): the minimiser over all
    candidate levels (the SAA optimum is attained at one of the sample points)."""
    candidates = np.unique(cumulative)
    net = candidates[:, None, None] - cumulative[None]
    cost = (H * np.maximum(net, 0) + B * np.maximum(-net, 0)).sum(axis=2).mean(axis=1)
    return float(candidates[int(np.argmin(cost))])


def solved_orders(lead, review, demand, *, position=None, on_hand=None, pipeline=None, lost_sales=False, **kwargs):
    constraints = kwargs.pop("constraints", None)
    model = build_replenishment_model(
        lead, review, demand.shape[1], holding_cost=H, shortage_cost=B, lost_sales=lost_sales,
        constraints=constraints, **kwargs,
    )
    update_model_data(model, demand=demand, inventory_position=position, on_hand=on_hand, pipeline=pipeline)
    return solve(model)


# ---------------------------------------------------------------------------------- oracles
@pytest.mark.parametrize("lost_sales", [False, True])
def test_single_period_order_is_the_critical_fractile_of_the_sample(lost_sales):
    rng = np.random.default_rng(0)
    n_scenarios = 101  # 0.9 * 101 is not an integer: the SAA optimum is unique
    demand = rng.normal(100.0, 20.0, size=(5, n_scenarios, 1)).clip(min=0)
    stock = np.zeros(5)
    result = solved_orders(
        [0] * 5, [1] * 5, demand, lost_sales=lost_sales,
        position=None if lost_sales else stock, on_hand=stock if lost_sales else None,
    )
    fractile = np.quantile(demand[:, :, 0], B / (B + H), axis=1, method="inverted_cdf")
    np.testing.assert_allclose(result.orders, fractile, rtol=1e-7, atol=1e-6)


def test_newsvendor_order_nets_out_the_inventory_position():
    rng = np.random.default_rng(1)
    demand = rng.poisson(20.0, size=(3, 41, 1)).astype(float) + rng.random((3, 41, 1))
    position = np.array([-5.0, 10.0, 1000.0])
    result = solved_orders([0] * 3, [1] * 3, demand, position=position)
    fractile = np.quantile(demand[:, :, 0], 0.9, axis=1, method="inverted_cdf")
    np.testing.assert_allclose(result.orders, np.maximum(fractile - position, 0), atol=1e-6)


@pytest.mark.parametrize("lead,review", [(1, 1), (3, 1), (1, 2), (2, 3)])
def test_with_lead_time_the_order_is_the_base_stock_solution_on_the_same_scenarios(lead, review):
    rng = np.random.default_rng(lead * 10 + review)
    n_skus, n_scenarios = 4, 57
    demand = rng.gamma(4.0, 2.5, size=(n_skus, n_scenarios, lead + review))
    position = rng.uniform(-5, 15, size=n_skus)
    result = solved_orders([lead] * n_skus, [review] * n_skus, demand, position=position)
    cumulative = np.cumsum(demand, axis=2)[:, :, lead : lead + review]
    levels = np.array([base_stock_saa_level(cumulative[i]) for i in range(n_skus)])
    np.testing.assert_allclose(result.orders, np.maximum(levels - position, 0), atol=1e-6)
    # the model's objective is the sample-average cost of its orders
    cost = backorder_saa_cost(result.orders, position, demand, lead, review)
    assert result.objective == pytest.approx(cost.sum(), rel=1e-7)


def test_per_sku_lead_times_and_review_periods_in_one_model():
    rng = np.random.default_rng(3)
    lead, review = np.array([0, 2, 1, 3]), np.array([1, 1, 3, 2])
    demand = rng.gamma(3.0, 3.0, size=(4, 33, 5))
    position = np.array([0.0, 4.0, -2.0, 30.0])
    result = solved_orders(lead, review, demand, position=position)
    for i in range(4):
        cumulative = np.cumsum(demand[i], axis=1)[:, lead[i] : lead[i] + review[i]]
        assert result.orders[i] == pytest.approx(max(base_stock_saa_level(cumulative) - position[i], 0), abs=1e-6)


@pytest.mark.parametrize("lead,review", [(0, 2), (1, 2), (2, 1), (2, 2)])
def test_lost_sales_order_minimises_the_simulated_sample_average_cost(lead, review):
    rng = np.random.default_rng(7 + lead + review)
    demand = rng.normal(10.0, 3.0, size=(1, 40, lead + review)).clip(min=0)
    on_hand, pipeline = 6.5, np.array([4.0, 3.0])[:lead]
    result = solved_orders([lead], [review], demand, on_hand=[on_hand], pipeline=pipeline[None, :], lost_sales=True)
    order = result.orders[0]
    best = min(lost_sales_saa_cost(q, on_hand, pipeline, demand[0], lead, review) for q in np.linspace(0, 80, 8001))
    achieved = lost_sales_saa_cost(order, on_hand, pipeline, demand[0], lead, review)
    assert achieved == pytest.approx(result.objective, rel=1e-7)
    assert achieved <= best + 1e-9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=12),
    st.floats(0.05, 5.0),
    st.floats(0.05, 5.0),
)
def test_newsvendor_property(samples, holding, shortage):
    """For any sample and costs the single-period order minimises the SAA newsvendor cost."""
    demand = np.asarray(samples)[None, :, None]
    model = build_replenishment_model([0], [1], len(samples), holding_cost=holding, shortage_cost=shortage)
    update_model_data(model, demand=demand, inventory_position=[0.0])
    order = solve(model).orders[0]

    def cost(q: float) -> float:
        return float(np.mean(holding * np.maximum(q - demand, 0) + shortage * np.maximum(demand - q, 0)))

    assert cost(order) <= min(cost(q) for q in samples) + 1e-7


# ---------------------------------------------------------------------------------- constraints
def test_binding_shared_capacity_is_respected_and_costs_more():
    rng = np.random.default_rng(4)
    demand = rng.normal(50.0, 10.0, size=(6, 30, 2)).clip(min=0)
    position = np.zeros(6)
    free = solved_orders([1] * 6, [1] * 6, demand, position=position)
    usage = np.array([1.0, 2.0, 1.0, 0.5, 1.0, 3.0])
    capacity = 0.6 * float(usage @ free.orders)
    tight = solved_orders(
        [1] * 6, [1] * 6, demand, position=position,
        constraints=OrderConstraints(capacity=capacity, capacity_usage=usage),
    )
    assert usage @ tight.orders <= capacity + 1e-6
    assert usage @ tight.orders == pytest.approx(capacity, rel=1e-6)  # binding
    assert tight.objective >= free.objective - 1e-9
    assert tight.objective > free.objective  # strictly: the capacity binds


def test_capacity_can_change_between_solves_without_a_rebuild():
    rng = np.random.default_rng(5)
    demand = rng.normal(20.0, 4.0, size=(3, 21, 1)).clip(min=0)  # 0.9 * 21 is fractional: unique optimum
    model = build_replenishment_model([0] * 3, [1] * 3, 21, holding_cost=H, shortage_cost=B,
                                      constraints=OrderConstraints(capacity=1e6))
    update_model_data(model, demand=demand, inventory_position=np.zeros(3))
    free = solve(model)
    for capacity in (30.0, 10.0, 0.0):
        update_model_data(model, demand=demand, inventory_position=np.zeros(3), capacity=capacity)
        assert solve(model).orders.sum() <= capacity + 1e-6
    update_model_data(model, demand=demand, inventory_position=np.zeros(3), capacity=1e6)
    np.testing.assert_allclose(solve(model).orders, free.orders, atol=1e-6)


def test_integer_pack_sizes_give_multiples_of_the_pack():
    rng = np.random.default_rng(6)
    demand = rng.normal(37.0, 9.0, size=(5, 25, 2)).clip(min=0)
    pack = np.array([6.0, 12.0, 1.0, 24.0, 5.0])
    result = solved_orders([1] * 5, [1] * 5, demand, position=np.zeros(5),
                           constraints=OrderConstraints(pack_size=pack))
    packs = result.orders / pack
    np.testing.assert_allclose(packs, np.round(packs), atol=1e-6)
    # the best multiple: no other multiple of the pack has a lower sample-average cost
    for i in range(5):
        cost = [backorder_saa_cost(np.array([m * pack[i]]), np.zeros(1), demand[i : i + 1], 1, 1)[0] for m in range(30)]
        assert backorder_saa_cost(result.orders[i : i + 1], np.zeros(1), demand[i : i + 1], 1, 1)[0] <= min(cost) + 1e-7


def test_minimum_order_quantity_gives_zero_or_at_least_the_minimum():
    rng = np.random.default_rng(8)
    demand = rng.normal(10.0, 2.0, size=(4, 30, 1)).clip(min=0)
    position = np.array([0.0, 9.0, 12.0, 3.0])
    result = solved_orders([0] * 4, [1] * 4, demand, position=position,
                           constraints=OrderConstraints(minimum_order_quantity=8.0))
    orders = result.orders
    assert np.all((orders <= 1e-6) | (orders >= 8.0 - 1e-6))
    assert orders[0] >= 8.0 - 1e-6  # an empty shelf still orders
    assert orders[2] == pytest.approx(0.0, abs=1e-6)  # enough stock: no order


def test_a_minimum_order_above_all_demand_can_still_be_optimal():
    """The big-M must allow orders of the minimum quantity even when it exceeds every scenario."""
    demand = np.full((1, 5, 1), 5.0)
    result = solved_orders([0], [1], demand, position=[0.0], constraints=OrderConstraints(minimum_order_quantity=10.0))
    assert result.orders[0] == pytest.approx(10.0)  # holding 5 costs 0.5 < shortage 4.5


def test_skus_that_may_not_order_get_zero():
    demand = np.full((3, 4, 1), 10.0)
    model = build_replenishment_model([0] * 3, [1] * 3, 4, holding_cost=H, shortage_cost=B)
    update_model_data(model, demand=demand, inventory_position=np.zeros(3), may_order=[True, False, True])
    np.testing.assert_allclose(solve(model).orders, [10.0, 0.0, 10.0], atol=1e-7)


def test_max_order_caps_the_order():
    demand = np.full((1, 3, 1), 50.0)
    assert solved_orders([0], [1], demand, position=[0.0], max_order=20.0).orders[0] == pytest.approx(20.0)


# ---------------------------------------------------------------------------------- solving
def test_an_infeasible_model_raises_solver_error_naming_the_termination_condition():
    model = build_replenishment_model([0, 0], [1, 1], 3, holding_cost=H, shortage_cost=B,
                                      constraints=OrderConstraints(capacity=10.0, minimum_order_quantity=5.0))
    update_model_data(model, demand=np.full((2, 3, 1), 4.0), inventory_position=np.zeros(2))
    model.capacity.set_value(-1.0)  # deliberately infeasible: orders >= 0 cannot use < 0 capacity
    with pytest.raises(SolverError, match=r"termination condition (provenInfeasible|infeasibleOrUnbounded)") as info:
        solve(model)
    assert info.value.termination_condition in ("provenInfeasible", "infeasibleOrUnbounded")
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize("lost_sales", [False, True])
def test_persistent_re_solves_match_fresh_builds(lost_sales):
    rng = np.random.default_rng(9)
    lead, review = [1, 2, 0], [2, 1, 1]
    n_scenarios = 17  # 0.9 * 17 * P is fractional for P = 1, 2: unique optima, comparable orders
    persistent = build_replenishment_model(lead, review, n_scenarios, holding_cost=H, shortage_cost=B, lost_sales=lost_sales)
    for day in range(4):
        demand = rng.gamma(2.0, 5.0 * (day + 1), size=(3, n_scenarios, 3))
        state = {"on_hand": rng.uniform(0, 10, 3), "pipeline": rng.uniform(0, 5, (3, 2))} if lost_sales else {
            "inventory_position": rng.uniform(-10, 20, 3)}
        update_model_data(persistent, demand=demand, **state)
        fresh = build_replenishment_model(lead, review, n_scenarios, holding_cost=H, shortage_cost=B, lost_sales=lost_sales)
        update_model_data(fresh, demand=demand, **state)
        again, new = solve(persistent), solve(fresh, persistent=False)
        assert again.objective == pytest.approx(new.objective, rel=1e-9)
        np.testing.assert_allclose(again.orders, new.orders, atol=1e-6)
    assert getattr(persistent, "_orkit_persistent_highs") is not None


def test_model_size_counts_variables_and_constraints():
    model = build_replenishment_model([1, 1], [2, 2], 10, holding_cost=H, shortage_cost=B,
                                      constraints=OrderConstraints(capacity=5.0, pack_size=2.0))
    size = model_size(model)
    # 2 orders + 2 packs + 2 SKUs x 10 scenarios x 2 counted periods backlog variables
    assert size == {"variables": 2 + 2 + 40, "constraints": 40 + 1 + 2, "integer_variables": 2}


# ---------------------------------------------------------------------------------- input errors
def test_bad_inputs_raise_errors_that_name_the_parameter():
    with pytest.raises(ValidationError, match="lead_time must be >= 0, got -1"):
        build_replenishment_model([-1], [1], 3, holding_cost=H, shortage_cost=B)
    with pytest.raises(ValidationError, match="n_scenarios must be >= 1, got 0"):
        build_replenishment_model([0], [1], 0, holding_cost=H, shortage_cost=B)
    with pytest.raises(ValidationError, match="holding_cost \\+ shortage_cost must be > 0"):
        build_replenishment_model([0], [1], 3, holding_cost=0.0, shortage_cost=0.0)
    with pytest.raises(ValidationError, match="pack_size must be finite and > 0, got 0 at sku index 1"):
        build_replenishment_model([0, 0], [1, 1], 3, holding_cost=H, shortage_cost=B,
                                  constraints=OrderConstraints(pack_size=[2.0, 0.0]))
    model = build_replenishment_model([1], [1], 3, holding_cost=H, shortage_cost=B)
    with pytest.raises(ValidationError, match=r"demand must have shape \(n_skus, n_scenarios, >= horizon\) = \(1, 3, >= 2\)"):
        update_model_data(model, demand=np.zeros((1, 3, 1)), inventory_position=[0.0])
    with pytest.raises(ValidationError, match="inventory_position is required under backorders"):
        update_model_data(model, demand=np.zeros((1, 3, 2)))
    with pytest.raises(ValidationError, match="the model has no shared capacity"):
        update_model_data(model, demand=np.zeros((1, 3, 2)), inventory_position=[0.0], capacity=3.0)
def test_ctrl_c_inside_pyomo_logs_nothing_but_other_errors_still_do(caplog):
    """Pyomo logs an error for any exception raised while it evaluates a value; a Ctrl-C is
    reported once by orkit's command line, so that record is dropped; a real error is kept."""
    import logging

    import pyomo.environ as pyo
    from pyomo.common.numeric_types import value

    import orkit.twostage.model  # noqa: F401  (installs the filter)

    class Interrupting:  # a numeric object whose evaluation is interrupted
        def is_numeric_type(self):
            return True

        def __call__(self, exception=True):
            raise KeyboardInterrupt

    caplog.set_level(logging.ERROR, logger="pyomo.common.numeric_types")
    with pytest.raises(KeyboardInterrupt):
        value(Interrupting())
    assert not [r for r in caplog.records if r.name == "pyomo.common.numeric_types"]
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    with pytest.raises(ValueError):
        value(m.x)
    assert any("evaluating object as numeric value" in r.getMessage() for r in caplog.records)
