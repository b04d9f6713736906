"""Average-cost DP (relative value iteration): base-stock optimality under backorders, brute force
under lost sales, simulator agreement, state-space limits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, Observation, StateSpaceError, ValidationError
from orkit.evaluation import evaluate
from orkit.heuristics import (
    BaseStockPolicy,
    Discrete,
    DynamicProgrammingPolicy,
    Poisson,
    base_stock_cost,
    base_stock_level,
    count_dp_states,
    solve_average_cost_dp,
)


@pytest.mark.parametrize("lead_time", [0, 1, 2])
@pytest.mark.parametrize(
    "pmf", [Poisson(3.0).truncate().pmf, np.array([0.1, 0.2, 0.4, 0.2, 0.1])], ids=["poisson", "custom"]
)
def test_backorder_dp_cost_equals_the_optimal_base_stock_cost(lead_time, pmf):
    h, b = 1.0, 9.0
    sol = solve_average_cost_dp(pmf, holding_cost=h, shortage_cost=b, lead_time=lead_time, lost_sales=False)
    S = base_stock_level(h, b, Discrete(pmf), lead_time)
    assert sol.average_cost == pytest.approx(float(base_stock_cost(S, h, b, Discrete(pmf), lead_time)), abs=1e-6)
    # the optimal action is base-stock: order up to S* whenever the position is below it, in every
    # state of the recurrent class (deeper backlogs are lumped at the floor of the truncated model)
    ip = sol.states.sum(axis=1)
    recurrent = sol.states[:, 0] >= S - max(lead_time, 1) * (pmf.size - 1)
    below = (ip <= S) & recurrent
    np.testing.assert_array_equal(sol.orders[below], S - ip[below])


def _step(state, q, d, lead_time):
    """One period of the lost-sales dynamics, written independently of the solver."""
    x0, pipe = state[0], list(state[1:])
    if lead_time == 0:
        x0 += q
    sales = min(x0, d)
    y = x0 - sales
    cost = 1.0 * y + 4.0 * (d - sales)
    if lead_time == 0:
        return (y,), cost
    if lead_time == 1:
        return (y + q,), cost
    return (y + pipe[0], *pipe[1:], q), cost


def _gain_from(states, P, c, start):
    """Long-run average cost from ``start`` (Cesaro limit via the lazy chain, by repeated squaring)."""
    M = 0.5 * (np.eye(len(states)) + P)
    for _ in range(40):
        M = M @ M
        M /= M.sum(axis=1, keepdims=True)  # keep rows stochastic despite round-off
    return float(M[start] @ c)


@pytest.mark.parametrize("lead_time, U", [(0, 3), (1, 3), (2, 3)])
def test_lost_sales_dp_agrees_with_brute_force_over_stationary_policies(lead_time, U):
    pmf = np.array([0.3, 0.5, 0.2])
    sol = solve_average_cost_dp(
        pmf, holding_cost=1.0, shortage_cost=4.0, lead_time=lead_time, lost_sales=True, max_inventory_position=U
    )
    states = [tuple(s) for s in sol.states]
    index = {s: i for i, s in enumerate(states)}
    rooms = [U - sum(s) for s in states]
    best = np.inf
    for policy in itertools.product(*[range(r + 1) for r in rooms]):
        P = np.zeros((len(states), len(states)))
        c = np.zeros(len(states))
        for i, s in enumerate(states):
            for d, p in enumerate(pmf):
                nxt, cost = _step(s, policy[i], d, lead_time)
                P[i, index[nxt]] += p
                c[i] += p * cost
        best = min(best, _gain_from(states, P, c, index[(0,) * len(states[0])]))
    assert sol.average_cost == pytest.approx(best, abs=1e-7)


@pytest.mark.parametrize("lead_time", [1, 2])
def test_dp_policy_in_the_simulator_earns_the_dp_average_cost(lead_time):
    problem = InventoryProblem(lead_time=lead_time, review_period=1, holding_cost=1.0, shortage_cost=4.0,
                               lost_sales=True, warmup_periods=40)
    policy = DynamicProgrammingPolicy(Poisson(5.0)).fit(np.zeros((1, 2)), None, problem)
    demand = np.random.default_rng(7).poisson(5.0, size=(1200, 300)).astype(np.float32)
    loss = evaluate(policy, demand, problem)["weighted_loss"]
    assert loss == pytest.approx(policy.solution_.average_cost, rel=0.015)
    # and the DP policy beats the best base-stock policy (base-stock is not optimal under lost sales)
    best_bs = min(evaluate(BaseStockPolicy(float(S)), demand[:500], problem)["weighted_loss"] for S in range(8, 20))
    assert policy.solution_.average_cost < best_bs


def test_dp_policy_learns_the_pmf_from_training_demand():
    demand = np.random.default_rng(0).poisson(3.0, size=(200, 50)).astype(float)
    problem = InventoryProblem(lead_time=1, review_period=1, holding_cost=1.0, shortage_cost=4.0, lost_sales=True)
    policy = DynamicProgrammingPolicy().fit(demand, None, problem)
    assert policy.solution_.average_cost == pytest.approx(
        solve_average_cost_dp(Poisson(3.0), holding_cost=1.0, shortage_cost=4.0, lead_time=1).average_cost, rel=0.05
    )
    ip = torch.tensor([0.0, 2.0, 50.0])
    orders = policy.act(Observation(period=1, on_hand=ip, inventory_position=ip, pipeline=torch.zeros(3, 1)))
    assert orders.tolist() == policy.solution_.order([0, 2, 50]).tolist()
    assert orders[2] == 0  # far above the table: nothing to order


def test_state_space_limit_is_checked_before_allocating():
    states, pairs, _ = count_dp_states(8, 0, 60)
    assert states > 10**9 and pairs > states
    with pytest.raises(StateSpaceError, match=r"needs [\d,]+ states .* more than max_states=1,000,000"):
        solve_average_cost_dp(Poisson(5.0), holding_cost=1.0, shortage_cost=9.0, lead_time=8)
    assert issubclass(StateSpaceError, MemoryError)


@pytest.mark.parametrize("lead_time, lost_sales", [(0, True), (0, False), (1, True), (3, True), (2, False)])
def test_counts_match_the_enumeration(lead_time, lost_sales):
    pmf = np.array([0.3, 0.3, 0.2, 0.1, 0.1])
    sol = solve_average_cost_dp(pmf, holding_cost=1.0, shortage_cost=4.0, lead_time=lead_time, max_order=4,
                                lost_sales=lost_sales)
    counts = count_dp_states(lead_time, sol.min_on_hand, sol.max_inventory_position, 4, pmf.size - 1)
    assert counts == (sol.n_states, sol.n_state_actions, sol.n_transitions)
    assert sol.orders.max() <= 4 and (lead_time < 2 or sol.states[:, 1:].max() <= 4)


def test_transition_limit():
    with pytest.raises(StateSpaceError, match=r"needs [\d,]+ transitions .* more than max_transitions=1,000"):
        solve_average_cost_dp(Poisson(5.0), holding_cost=1.0, shortage_cost=9.0, lead_time=2, max_transitions=1000)


def test_dp_policy_restrictions():
    with pytest.raises(ValidationError, match="review_period 1"):
        DynamicProgrammingPolicy(Poisson(1.0)).fit(np.ones((2, 5)), None, InventoryProblem(lead_time=1, review_period=2))


@pytest.mark.slow
def test_lead_time_four_dp_policy_in_the_simulator():
    """The benchmark instance: Poisson(5), L = 4, lost sales (about 74k states)."""
    problem = InventoryProblem(lead_time=4, review_period=1, holding_cost=1.0, shortage_cost=4.0,
                               lost_sales=True, warmup_periods=60)
    policy = DynamicProgrammingPolicy(Poisson(5.0)).fit(np.zeros((1, 2)), None, problem)
    demand = np.random.default_rng(11).poisson(5.0, size=(4000, 560)).astype(np.float32)
    loss = evaluate(policy, demand, problem)["weighted_loss"]
    assert loss == pytest.approx(policy.solution_.average_cost, rel=0.005)
