"""Base-stock levels under random lead times with crossing orders (issue 20 item 4): the count
of outstanding orders, published properties, and the target service reached in simulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, LeadTimeDistribution, ValidationError
from orkit.heuristics import BaseStockPolicy, Gamma, Normal, Poisson, base_stock_cost, base_stock_level, outstanding_orders
from orkit.heuristics.distributions import mixture_ppf
from orkit.sim import simulate


def test_a_one_value_law_gives_snyder_and_shen_example_4_4():
    """Snyder & Shen (2019), Fundamentals of Supply Chain Theory, Example 4.4 (sec. 4.3.4):
    h = 0.18, p = 0.70, D ~ N(50, 8^2), L = 4: S* = 264.7669 and the optimal cost 4.4668."""
    law = LeadTimeDistribution([4], [1.0])
    assert float(base_stock_level(0.18, 0.70, Normal(50, 8), lead_time=law)) == pytest.approx(264.7669, abs=1e-4)
    assert float(base_stock_cost(264.7669, 0.18, 0.70, Normal(50, 8), lead_time=law)) == pytest.approx(4.4668, abs=1e-4)


@pytest.mark.parametrize("lead_time,review_period", [(0, 1), (3, 1), (2, 3), (5, 2)])
def test_a_one_value_law_equals_the_fixed_lead_time_level_and_cost(lead_time, review_period):
    law = LeadTimeDistribution([lead_time], [1.0])
    for demand in (Poisson(6.0), Gamma(2.0, 3.0)):
        fixed = base_stock_level(1.0, 9.0, demand, lead_time=lead_time, review_period=review_period)
        assert base_stock_level(1.0, 9.0, demand, lead_time=law, review_period=review_period) == pytest.approx(fixed)
        assert base_stock_cost(30.0, 1.0, 9.0, demand, lead_time=law, review_period=review_period) == pytest.approx(
            base_stock_cost(30.0, 1.0, 9.0, demand, lead_time=lead_time, review_period=review_period))


def test_outstanding_orders_have_the_published_mean_and_variance_bounds():
    """Under order crossover with i.i.d. lead times (P = 1), the number of orders outstanding N
    has E[N] = E[L] (Robinson, Bradley & Thomas 2001, MSOM 3(3)) and its variance is at most
    min(E[L], Var(L), sd(L) / sqrt(3)) (Bradley & Robinson 2005, MSOM 7(4) pp. 319-329)."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        k = int(rng.integers(1, 7))
        values = np.sort(rng.choice(12, size=k, replace=False))
        probs = rng.dirichlet(np.full(k, rng.uniform(0.3, 3.0)))
        law = LeadTimeDistribution(values, probs)
        pmf = outstanding_orders(law)
        n = np.arange(pmf.size)
        mean, var = (pmf * n).sum(), (pmf * n**2).sum() - (pmf * n).sum() ** 2
        var_l = (probs * values**2).sum() - law.mean**2
        assert pmf.sum() == pytest.approx(1.0)
        assert mean == pytest.approx(law.mean, abs=1e-9)
        assert var <= min(law.mean, var_l, np.sqrt(var_l / 3)) + 1e-9


def test_outstanding_orders_by_hand():
    """L in {0, 1, 2} w.p. (0.2, 0.5, 0.3), P = 1: B_0 ~ Bern(P(L > 0) = 0.8), B_1 ~ Bern(P(L > 1) = 0.3),
    so P(N = 0, 1, 2) = (0.2 * 0.7, 0.8 * 0.7 + 0.2 * 0.3, 0.8 * 0.3)."""
    law = LeadTimeDistribution([0, 1, 2], [0.2, 0.5, 0.3])
    np.testing.assert_allclose(outstanding_orders(law), [0.14, 0.62, 0.24])
    # P = 2, one period after the review: B_0 ~ Bern(P(L > 1)) = 0.3, B_1 ~ Bern(P(L > 3)) = 0
    np.testing.assert_allclose(outstanding_orders(law, 2, offset=1), [0.7, 0.3])


def test_protection_interval_method_is_refused_for_random_lead_times():
    with pytest.raises(ValidationError, match="protection-interval"):
        base_stock_level(1.0, 9.0, Poisson(5.0), lead_time=LeadTimeDistribution([1, 2], [0.5, 0.5]),
                         method="protection-interval")


def _simulated_service(level, law, review_period, n_skus=4000, n_periods=300, seed=1):
    """Share of counted periods that end without backlog, and the ledger's mean cost per period."""
    rng = np.random.default_rng(seed)
    demand = torch.tensor(rng.gamma(2.0, 3.0, size=(n_skus, n_periods)))
    problem = InventoryProblem(lead_time=law.with_seed(seed), review_period=review_period, holding_cost=1.0,
                               shortage_cost=9.0, warmup_periods=40)
    ledger = simulate(BaseStockPolicy(float(level)), demand, problem)
    counted = ledger.counted
    served = ((ledger.on_hand >= 0) & counted).sum() / counted.sum()
    return float(served), float(ledger.cost[counted].mean())


@pytest.mark.parametrize("review_period", [1, 2])
def test_the_level_reaches_its_target_service_in_simulation(review_period):
    """Gamma demand, L in {0, 6} w.p. 1/2 each (orders cross often), b / (b + h) = 0.9: the
    share of periods without backlog is 0.9 and the mean cost is base_stock_cost's; the
    lead-time-demand mixture (orders that cannot cross) overshoots the target."""
    law = LeadTimeDistribution([0, 6], [0.5, 0.5])
    demand = Gamma(2.0, 3.0)
    level = float(base_stock_level(1.0, 9.0, demand, lead_time=law, review_period=review_period))
    served, cost = _simulated_service(level, law, review_period)
    # 4000 x 260 periods, autocorrelated within a SKU: 0.006 is several standard errors
    assert served == pytest.approx(0.9, abs=0.006)
    assert cost == pytest.approx(float(base_stock_cost(level, 1.0, 9.0, demand, lead_time=law,
                                                       review_period=review_period)), rel=0.02)
    # no crossing: the mixture over L of the laws of D_{L+j+1}, j < P
    components = [demand.sum_of(ell + 1 + j) for ell in (0, 6) for j in range(review_period)]
    no_crossing = float(mixture_ppf(components, 0.9))
    assert no_crossing > level + 3
    served_wide, _ = _simulated_service(no_crossing, law, review_period)
    assert served_wide > 0.93
