"""The finite-horizon empirical DP of DeepStock setting 1: cost accounting against the simulator,
modified base-stock structure, the published test loss."""

from __future__ import annotations

import numpy as np
import pytest

from orkit.core import InventoryProblem, ValidationError
from orkit.evaluation import evaluate
from orkit.heuristics import BaseStockPolicy, EmpiricalDPPolicy, solve_empirical_dp


def test_empirical_dp_cost_accounting_matches_the_simulator(setting_1):
    """Trajectories drawn from the per-period empirical law: simulated loss = the DP's expected loss."""
    train, validation, _, problem = setting_1
    policy = EmpiricalDPPolicy().fit(train, validation, problem)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, train.n_skus, size=(10000, train.n_periods))
    sampled = train.demand[picks, np.arange(train.n_periods)]
    loss = evaluate(policy, sampled, problem)["weighted_loss"]
    assert loss == pytest.approx(policy.solution_.expected_loss, rel=0.01)
    # no single level does better on that distribution
    shared = BaseStockPolicy().fit(sampled[:1000], None, problem)
    assert loss < evaluate(shared, sampled, problem)["weighted_loss"]


def test_empirical_dp_is_modified_base_stock_per_review_day(setting_1):
    """With an order cap q_max the optimum is y*(x) = min(max(x, S_r), x + q_max) (Federgruen & Zipkin 1986)."""
    train, validation, _, problem = setting_1
    sol = EmpiricalDPPolicy().fit(train, validation, problem).solution_
    costed = np.isfinite(sol.levels)
    for k in np.flatnonzero(costed):
        expected = np.minimum(np.maximum(sol.positions, sol.levels[k]), sol.positions + problem.max_order)
        np.testing.assert_array_equal(sol.order_up_to[k], expected)


def test_deepstock_setting_1_empirical_dp_test_loss(setting_1):
    """The benchmark of setting 1 (paper.md section 5): the empirical DP's test loss (seed 0)."""
    train, validation, test, problem = setting_1
    policy = EmpiricalDPPolicy().fit(train, validation, problem)
    loss = evaluate(policy, test, problem)["weighted_loss"]
    assert loss == pytest.approx(1.0150715, abs=1e-5)  # reported in docs/heuristics.md
    shared = BaseStockPolicy().fit(train, validation, problem)
    assert loss < evaluate(shared, test, problem)["weighted_loss"]


def test_empirical_dp_needs_integer_demand_and_backorders():
    with pytest.raises(ValidationError, match="integer demand"):
        solve_empirical_dp(np.full((2, 10), 1.5), lead_time=1, review_period=2, holding_cost=0.1, shortage_cost=0.9)
    with pytest.raises(ValidationError, match="backorders"):
        EmpiricalDPPolicy().fit(np.ones((2, 10)), None, InventoryProblem(lost_sales=True))


def test_window_minimisers_are_the_smallest_ones_of_brute_force():
    """V_r(x) = min over y in [x, x + q_max] of H(y): the doubling table against every window
    enumerated (integer values, so ties are many)."""
    from orkit.heuristics.empirical_dp import _window_argmin

    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 33, 64):
        values = rng.integers(0, 4, size).astype(float)
        for window in range(size):
            span = np.clip(np.arange(size)[:, None] + np.arange(window + 1)[None, :], 0, size - 1)
            expected = span[np.arange(size), np.argmin(values[span], axis=1)]
            np.testing.assert_array_equal(_window_argmin(values, window), expected)
