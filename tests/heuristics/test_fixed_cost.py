"""Fixed ordering costs: EOQ family, power approximation, exact (s, S) and (r, Q) costs, the
Zheng-Federgruen optimum, and the exact DP with a fixed cost, against published values.

Sources (values quoted at the precision the source prints):

- Snyder & Shen (2019), *Fundamentals of Supply Chain Theory*, 2nd ed. (Wiley): Example 3.1
  (EOQ), Example 3.8 (EOQ with planned backorders), sec. 3.6 (EPQ: Example 3.1 at production
  rate 2000), Example 4.7 ((s, S) with Poisson demand, Algorithm 4.2), Example 4.8 (power
  approximation), Problems 3.1, 3.2(b), 3.22, 4.31 and 4.32 (answers as published with the
  book's companion package stockpyl, tests/test_eoq.py and tests/test_ss.py).
- Zheng & Federgruen (1991), "Finding optimal (s, S) policies is about as simple as evaluating a
  single policy", *Operations Research* 39(4), 654-665, Table 1: Poisson demand, h = 1, p = 9,
  K = 64, lead time 0 (the 24 rows as transcribed in stockpyl's tests/test_ss.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from orkit.core import ValidationError
from orkit.heuristics import (
    Discrete,
    Normal,
    Poisson,
    base_stock_cost,
    economic_order_quantity,
    economic_order_quantity_with_backorders,
    economic_production_quantity,
    power_approximation,
    rq_policy_cost,
    solve_average_cost_dp,
    ss_policy_cost,
    zheng_federgruen,
)

# Zheng & Federgruen (1991), Table 1: mean demand, optimal s*, S*, and c(s*, S*)
ZF_MEAN = [10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 21, 22, 23, 24, 51, 52, 59, 61, 63, 64]
ZF_S_LOW = [6, 10, 14, 19, 23, 28, 33, 37, 42, 47, 52, 56, 62, 67, 15, 16, 17, 18, 43, 44, 51, 52, 54, 55]
ZF_S_UP = [40, 49, 62, 56, 66, 77, 87, 97, 108, 118, 129, 75, 81, 86, 65, 68, 52, 54, 110, 112, 126, 131, 73, 74]
ZF_COST = [35.022, 42.698, 49.173, 54.262, 57.819, 61.215, 64.512, 67.776, 70.975, 74.149, 77.306, 78.518,
           79.037, 79.554, 50.406, 51.632, 52.757, 53.518, 71.611, 72.246, 76.679, 77.929, 78.287, 78.402]


# ------------------------------------------------------------------------------ EOQ family
@pytest.mark.parametrize("K, h, lam, q, g", [
    (8, 0.75 * 0.3, 1300, 304.05, 68.41),           # Snyder & Shen, Example 3.1
    (2250, 275, 500 * 365, 1728.11, 475230.21),     # Snyder & Shen, Problem 3.1
])
def test_eoq_reproduces_the_textbook_examples(K, h, lam, q, g):
    sol = economic_order_quantity(K, h, lam)
    assert float(sol.order_quantity) == pytest.approx(q, abs=0.005)
    assert float(sol.cost) == pytest.approx(g, abs=0.005)


@pytest.mark.parametrize("K, h, p, lam, q, x, g", [
    (8, 0.75 * 0.3, 5, 1300, 310.81, 0.0431, 66.92),                 # Snyder & Shen, Example 3.8
    (40, 165 * 0.17 + 12, 60, 40 * 52, 83.2354, 0.4003, 1999.1482),  # Snyder & Shen, Problem 3.2(b)
])
def test_eoq_with_planned_backorders_reproduces_the_textbook_examples(K, h, p, lam, q, x, g):
    sol = economic_order_quantity_with_backorders(K, h, p, lam)
    digits = 10 ** -(len(str(q).split(".")[1]))
    assert float(sol.order_quantity) == pytest.approx(q, abs=digits / 2)
    assert float(sol.backorder_fraction) == pytest.approx(x, abs=5e-5)
    assert float(sol.cost) == pytest.approx(g, abs=digits / 2)


@pytest.mark.parametrize("K, h, lam, mu, q, g", [
    (8, 0.75 * 0.3, 1300, 2000, 513.93, 40.47),    # Snyder & Shen, Example 3.1 with mu = 2000
    (4, 0.08, 80, 110, 171.27, 3.74),              # Snyder & Shen, Problem 3.22
])
def test_epq_reproduces_the_textbook_examples(K, h, lam, mu, q, g):
    sol = economic_production_quantity(K, h, lam, mu)
    assert float(sol.order_quantity) == pytest.approx(q, abs=0.005)
    assert float(sol.cost) == pytest.approx(g, abs=0.005)


def test_eoq_family_is_vectorised_and_consistent():
    K, h, lam = np.array([8.0, 50.0, 2.0]), np.array([0.225, 1.0, 3.0]), np.array([1300.0, 20.0, 7.0])
    q, g = economic_order_quantity(K, h, lam)
    assert q.shape == (3,)
    # the EOQ balances ordering and holding cost: K lambda / Q = h Q / 2 = g / 2
    np.testing.assert_allclose(K * lam / q, h * q / 2, rtol=1e-12)
    np.testing.assert_allclose(g, K * lam / q + h * q / 2, rtol=1e-12)
    # an infinite shortage cost or production rate gives back the EOQ
    qb, x, gb = economic_order_quantity_with_backorders(K, h, 1e12, lam)
    np.testing.assert_allclose(qb, q, rtol=1e-6)
    qp, gp = economic_production_quantity(K, h, lam, 1e12 * lam)
    np.testing.assert_allclose(qp, q, rtol=1e-6)
    # planned backorders are never dearer than none
    assert np.all(gb <= g + 1e-9)


@pytest.mark.parametrize("call, match", [
    (lambda: economic_order_quantity(-8, 0.225, 1300), "fixed_cost must be > 0, got -8"),
    (lambda: economic_order_quantity(8, 0.0, 1300), "holding_cost must be > 0, got 0"),
    (lambda: economic_order_quantity(8, "banana", 1300), "holding_cost must be a number"),
    (lambda: economic_production_quantity(8, 0.225, 1300, 1000), "production_rate must be > demand_rate"),
    (lambda: economic_order_quantity_with_backorders(8, 0.225, np.nan, 1300), "shortage_cost must be finite"),
])
def test_eoq_family_refuses_bad_parameters(call, match):
    with pytest.raises(ValidationError, match=match):
        call()


# ------------------------------------------------------------------------------ power approximation
@pytest.mark.parametrize("h, p, K, mu, sigma, s, S", [
    (0.18, 0.70, 2.5, 50, 8, 40.19, 74.29),     # Snyder & Shen, Example 4.8
    (2, 36, 60, 190, 48, 226.61, 324.38),        # Snyder & Shen, Problem 4.32
])
def test_power_approximation_reproduces_the_textbook_examples(h, p, K, mu, sigma, s, S):
    got_s, got_S = power_approximation(h, p, K, mu, sigma, cap_at_base_stock=False)
    assert float(got_s) == pytest.approx(s, abs=0.005)
    assert float(got_S) == pytest.approx(S, abs=0.005)


def test_power_approximation_caps_at_the_base_stock_level_when_orders_are_small():
    from scipy.stats import norm

    # Example 4.8: Q_p / mu = 34.1 / 50 <= 1.5, so Ehrhardt & Mosier cap S at the newsvendor level
    s, S = power_approximation(0.18, 0.70, 2.5, 50, 8)
    S0 = 50 + 8 * norm.ppf(0.70 / 0.88)
    assert float(S) == pytest.approx(S0) and float(s) == pytest.approx(40.19, abs=0.005)
    # Problem 4.32: Q_p / mu = 97.8 / 190 <= 1.5 too; a large K (Q_p / mu > 1.5) leaves the pair as is
    free = power_approximation(1.0, 9.0, 640.0, 10.0, 3.0, cap_at_base_stock=False)
    capped = power_approximation(1.0, 9.0, 640.0, 10.0, 3.0)
    np.testing.assert_allclose(capped, free)
    # lead time: the pair moves with the demand over L + 1 periods, vectorised over SKUs
    s2, S2 = power_approximation(1.0, 9.0, 64.0, np.array([10.0, 10.0]), 3.0, lead_time=np.array([0, 2]))
    assert s2[1] > s2[0] + 15


# ------------------------------------------------------------------------------ exact (s, S) cost and the ZF optimum
@pytest.mark.parametrize("s, S, cost", [
    (4, 10, 8.034111561471644),     # Snyder & Shen, Example 4.7 (the optimum)
    (6, 18, 10.193798671644046),    # Snyder & Shen, Example 4.7, another pair
])
def test_ss_policy_cost_reproduces_example_4_7(s, S, cost):
    assert float(ss_policy_cost(s, S, 1, 4, 5, Poisson(6))) == pytest.approx(cost, abs=5e-9)


def test_zheng_federgruen_reproduces_example_4_7_and_problem_4_31():
    s, S, c = zheng_federgruen(1, 4, 5, Poisson(6))                     # Snyder & Shen, Example 4.7
    assert (int(s), int(S)) == (4, 10) and float(c) == pytest.approx(8.034111561471644, abs=5e-9)
    s, S, c = zheng_federgruen(40, 125, 150, Poisson(4))                # Snyder & Shen, Problem 4.31
    assert (int(s), int(S)) == (2, 7) and float(c) == pytest.approx(223.5748295669688, abs=5e-8)


def test_zheng_federgruen_reproduces_table_1_of_the_paper():
    # all 24 instances at once: one Poisson law per SKU
    sol = zheng_federgruen(1, 9, 64, Poisson(np.array(ZF_MEAN, dtype=float)))
    assert sol.reorder_point.tolist() == ZF_S_LOW
    assert sol.order_up_to_level.tolist() == ZF_S_UP
    np.testing.assert_allclose(sol.cost, ZF_COST, atol=5e-4)  # the table prints 3 decimals
    # and the exact cost of the published pairs is the published cost
    np.testing.assert_allclose(ss_policy_cost(ZF_S_LOW, ZF_S_UP, 1, 9, 64, Poisson(np.array(ZF_MEAN, float))), ZF_COST,
                               atol=5e-4)


@pytest.mark.parametrize("L, P, pmf", [
    (0, 1, [0.1, 0.3, 0.2, 0.2, 0.1, 0.1]),
    (2, 1, [0.5, 0.0, 0.3, 0.2]),
    (1, 2, [0.2, 0.5, 0.3]),
    (0, 3, [0.6, 0.4]),
])
def test_zheng_federgruen_finds_the_best_pair_of_an_exhaustive_search(L, P, pmf):
    h, b, K = 1.0, 6.0, 12.0
    law = Discrete(pmf)
    sol = zheng_federgruen(h, b, K, law, L, P)
    pairs = [(s, S) for s in range(-10, 30) for S in range(s + 1, 45)]
    s_all, S_all = np.array(pairs, dtype=float).T
    costs = ss_policy_cost(s_all, S_all, h, b, K, law, L, P)  # every pair at once
    assert costs.shape == (len(pairs),)
    np.testing.assert_allclose(costs[:3], [ss_policy_cost(s, S, h, b, K, law, L, P) for s, S in pairs[:3]], rtol=1e-12)
    assert float(sol.cost) == pytest.approx(costs.min(), abs=1e-12)
    assert float(ss_policy_cost(sol.reorder_point, sol.order_up_to_level, h, b, K, law, L, P)) == pytest.approx(float(sol.cost))


def test_without_a_fixed_cost_the_optimum_is_base_stock():
    # K = 0: S* is the base-stock level and c* its cost (orders every period with positive demand)
    s, S, c = zheng_federgruen(1.0, 4.0, 0.0, Poisson(2.0), 1)
    assert int(S) == 6 and int(s) == 5
    assert float(c) == pytest.approx(float(base_stock_cost(6, 1.0, 4.0, Poisson(2.0), lead_time=1)), abs=1e-12)


def test_rq_policy_cost_agrees_with_ss_when_demand_is_unit_sized():
    # demand 0 or 1: the position hits r exactly, so (r, Q) is (s, S) = (r, r + Q)
    law = Discrete([0.4, 0.6])
    for r, Q in [(0, 3), (2, 5), (-1, 4)]:
        assert float(rq_policy_cost(r, Q, 1, 9, 10, law, 1)) == pytest.approx(float(ss_policy_cost(r, r + Q, 1, 9, 10, law, 1)),
                                                                         abs=1e-12)
    # Q = 1 is base-stock with level r + 1 (K charged whenever demand is positive)
    got = rq_policy_cost(12, 1, 1, 9, 3, Poisson(10))
    expected = base_stock_cost(13, 1, 9, Poisson(10)) + 3 * (1 - float(Poisson(10).cdf(0)))
    assert float(got) == pytest.approx(float(expected), abs=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: ss_policy_cost(4, 4, 1, 4, 5, Poisson(6)), "order_up_to_level must be > reorder_point"),
    (lambda: ss_policy_cost(4.5, 10, 1, 4, 5, Poisson(6)), "must be integers"),
    (lambda: zheng_federgruen(1, 4, 5, Normal(6, 2)), "needs integer demand"),
    (lambda: zheng_federgruen(1, 4, -5, Poisson(6)), "fixed_cost must be >= 0, got -5"),
    (lambda: zheng_federgruen(1, 4, 5, Discrete([1.0])), "P\\(D = 0\\) = 1"),
    (lambda: rq_policy_cost(4, 0, 1, 4, 5, Poisson(6)), "quantity an integer >= 1"),
])
def test_exact_costs_refuse_what_they_cannot_evaluate(call, match):
    with pytest.raises(ValidationError, match=match):
        call()


# ------------------------------------------------------------------------------ the exact DP with a fixed cost
@pytest.mark.parametrize("h, b, K, mean, L", [
    (1, 4, 5, 6, 0),      # Snyder & Shen, Example 4.7: (4, 10), 8.0341
    (1, 9, 64, 10, 0),    # Zheng & Federgruen, Table 1, first row: (6, 40), 35.022
    (1, 4, 5, 2, 1),
    (1, 9, 10, 2, 2),
])
def test_the_dp_with_a_fixed_cost_reproduces_the_zheng_federgruen_optimum(h, b, K, mean, L):
    s, S, cost = (float(v) for v in zheng_federgruen(h, b, K, Poisson(mean), L))
    # the DP's own bounds are set well beyond the pair (no use of ZF's answer to size it)
    kd = Poisson(mean).truncate().support_max
    sol = solve_average_cost_dp(Poisson(mean), holding_cost=h, shortage_cost=b, fixed_cost=K, lead_time=L,
                                lost_sales=False, max_inventory_position=int(S) + 8,
                                min_on_hand=int(s) - (L + 3) * kd)
    assert sol.average_cost == pytest.approx(cost, abs=1e-7)
    if (h, b, K, mean, L) == (1, 4, 5, 6, 0):
        assert sol.average_cost == pytest.approx(8.0341, abs=5e-5)
    # the optimal decisions are the (s, S) rule in every state away from the backlog floor
    position = sol.states.sum(axis=1)
    far = sol.states[:, 0] >= sol.min_on_hand + (L + 1) * kd
    rule = np.where(position <= s, position + sol.orders == S, sol.orders == 0)
    assert far.sum() > 20 and rule[far].all()


def test_the_dp_default_bounds_cover_the_fixed_cost_optimum():
    sol = solve_average_cost_dp(Poisson(6), holding_cost=1, shortage_cost=4, fixed_cost=5, lead_time=0, lost_sales=False)
    assert sol.max_inventory_position >= 10 and sol.average_cost == pytest.approx(8.034111561471644, abs=1e-7)
    with pytest.raises(ValidationError, match="fixed_cost must be >= 0"):
        solve_average_cost_dp(Poisson(6), holding_cost=1, shortage_cost=4, fixed_cost=-1, lead_time=0)


def test_policies_refuse_swapped_or_negative_parameters():
    from orkit.heuristics import RQPolicy, SSPolicy

    with pytest.raises(ValidationError, match="order_up_to_level must be >= reorder_point, got S - s = -6"):
        SSPolicy(10.0, 4.0)
    with pytest.raises(ValidationError, match="order_up_to_level must be >= reorder_point"):
        SSPolicy(np.array([1.0, 5.0]), np.array([3.0, 4.0]))
    with pytest.raises(ValidationError, match="quantity must be >= 0, got -1"):
        RQPolicy(3.0, -1.0)
    with pytest.raises(ValidationError, match="must both be given"):
        SSPolicy(3.0, None)
