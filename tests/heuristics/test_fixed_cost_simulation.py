"""The (s, S) and (r, Q) policies in the simulator with a fixed cost per order: the simulated
cost of a pair is its exact renewal cost (Zheng & Federgruen 1991), and pairs fitted by
simulation are near the exact optimum.

Tolerances come from the standard error: the SKUs are independent trajectories, so the mean of
their per-period costs has standard error ``std / sqrt(n_skus)``; a check at 4 standard errors
fails by chance with probability 6e-5 (and the seeds are fixed).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem
from orkit.evaluation.metrics import per_sku_loss
from orkit.heuristics import (
    BaseStockPolicy,
    Poisson,
    RQPolicy,
    SSPolicy,
    optimize_base_stock_level,
    optimize_rq_policy,
    optimize_ss_policy,
    rq_policy_cost,
    ss_policy_cost,
    zheng_federgruen,
)
from orkit.sim import simulate

pytestmark = pytest.mark.usefixtures("one_thread")


def _simulated(policy, demand, problem):
    loss = per_sku_loss(simulate(policy, torch.as_tensor(demand), problem, ledger="lean", dtype=torch.float64)).numpy()
    return loss.mean(), loss.std(ddof=1) / np.sqrt(loss.size)


@pytest.fixture(scope="module")
def poisson_6():
    # 400 independent trajectories of 3000 periods (100 warm-up periods leave the empty start out)
    return np.random.default_rng(0).poisson(6.0, size=(400, 3000)).astype(float)


def test_simulating_the_zheng_federgruen_optimum_gives_its_cost(poisson_6):
    # Snyder & Shen (2019), Example 4.7: h = 1, p = 4, K = 5, Poisson(6), L = 0 -> (4, 10), 8.0341
    s, S, cost = (float(v) for v in zheng_federgruen(1.0, 4.0, 5.0, Poisson(6.0)))
    assert (s, S) == (4.0, 10.0) and cost == pytest.approx(8.0341, abs=5e-5)
    problem = InventoryProblem(lead_time=0, review_period=1, holding_cost=1.0, shortage_cost=4.0, fixed_cost=5.0,
                               warmup_periods=100)
    mean, se = _simulated(SSPolicy(s, S), poisson_6, problem)
    assert abs(mean - cost) < 4 * se and se < 0.005


@pytest.mark.parametrize("lead_time, review_period", [(1, 1), (1, 2), (3, 1)])
def test_simulated_costs_of_ss_and_rq_pairs_are_their_exact_costs(poisson_6, lead_time, review_period):
    problem = InventoryProblem(lead_time=lead_time, review_period=review_period, holding_cost=1.0, shortage_cost=4.0,
                               fixed_cost=5.0, warmup_periods=100)
    level = 6 * (lead_time + 1)  # a pair around the lead-time demand
    for policy, exact in [
        (SSPolicy(level - 2.0, level + 6.0), ss_policy_cost(level - 2, level + 6, 1, 4, 5, Poisson(6), lead_time, review_period)),
        (RQPolicy(level - 2.0, 7.0), rq_policy_cost(level - 2, 7, 1, 4, 5, Poisson(6), lead_time, review_period)),
    ]:
        mean, se = _simulated(policy, poisson_6, problem)
        assert abs(mean - float(exact)) < 4 * se, (type(policy).__name__, mean, float(exact), se)


def test_ss_fitted_by_simulation_is_near_the_exact_optimum():
    demand = np.random.default_rng(1).poisson(10.0, size=(100, 400)).astype(float)
    for K in (5.0, 64.0):
        problem = InventoryProblem(lead_time=0, review_period=1, holding_cost=1.0, shortage_cost=9.0, fixed_cost=K,
                                   warmup_periods=20)
        best = float(zheng_federgruen(1.0, 9.0, K, Poisson(10.0)).cost)   # 35.022 for K = 64 (ZF Table 1)
        s, S = optimize_ss_policy(demand, problem)
        assert float(ss_policy_cost(s[0], S[0], 1.0, 9.0, K, Poisson(10.0))) <= 1.005 * best
        r, Q = optimize_rq_policy(demand, problem)
        assert float(rq_policy_cost(r[0], Q[0], 1.0, 9.0, K, Poisson(10.0))) <= 1.01 * best


def test_ss_beats_base_stock_under_lost_sales_with_a_fixed_cost():
    rng = np.random.default_rng(2)
    train, test = rng.poisson(5.0, size=(50, 400)).astype(float), rng.poisson(5.0, size=(200, 1000)).astype(float)
    problem = InventoryProblem(lead_time=2, review_period=1, holding_cost=1.0, shortage_cost=9.0, fixed_cost=40.0,
                               lost_sales=True, warmup_periods=20)
    ss = SSPolicy().fit(train, None, problem)
    base = BaseStockPolicy(optimize_base_stock_level(train, problem)[0])
    ss_cost, ss_se = _simulated(ss, test, problem)
    base_cost, base_se = _simulated(base, test, problem)
    assert ss.order_up_to_level_ - ss.reorder_point_ > 5      # batches orders
    assert ss_cost < base_cost - 4 * np.hypot(ss_se, base_se)


def test_per_sku_fits_follow_each_skus_fixed_cost():
    demand = np.random.default_rng(3).poisson(5.0, size=(30, 300)).astype(float)
    K = np.repeat([0.0, 20.0, 200.0], 10)
    problem = InventoryProblem(lead_time=1, review_period=1, holding_cost=1.0, shortage_cost=9.0, fixed_cost=K,
                               lost_sales=True, warmup_periods=20)
    policy = SSPolicy(per_sku=True).fit(demand, None, problem)
    gap = policy.order_up_to_level_ - policy.reorder_point_
    medians = [np.median(gap[k * 10:(k + 1) * 10]) for k in range(3)]
    assert medians[0] < medians[1] < medians[2]


def test_the_dp_policy_charges_the_problems_fixed_cost():
    from orkit.heuristics import DynamicProgrammingPolicy

    demand = np.random.default_rng(4).poisson(6.0, size=(200, 2000)).astype(float)
    problem = InventoryProblem(lead_time=0, review_period=1, holding_cost=1.0, shortage_cost=4.0, fixed_cost=5.0,
                               warmup_periods=100)
    policy = DynamicProgrammingPolicy(Poisson(6.0)).fit(demand, None, problem)
    assert policy.solution_.average_cost == pytest.approx(8.0341, abs=5e-5)   # Snyder & Shen, Example 4.7
    mean, se = _simulated(policy, demand, problem)
    assert abs(mean - policy.solution_.average_cost) < 4 * se
