"""Newsvendor quantity and cost against published textbook numbers and brute force.

Published numbers: L. V. Snyder and Z.-J. M. Shen, *Fundamentals of Supply Chain Theory*, 2nd ed.
(Wiley, 2019), chapter 4; the values to many digits are those the book's companion package
stockpyl reproduces in its test suite (tests/test_newsvendor.py of github.com/LarrySnyder/stockpyl).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from orkit.core import InventoryProblem, NotFittedError, Observation, ValidationError
from orkit.heuristics import (
    Discrete,
    Empirical,
    Gamma,
    NegativeBinomial,
    NewsvendorPolicy,
    Normal,
    Poisson,
    critical_ratio,
    newsvendor_cost,
    newsvendor_quantity,
)


def test_critical_ratio():
    assert critical_ratio(0.1, 0.9) == pytest.approx(0.9)
    with pytest.raises(ValidationError, match="holding_cost"):
        critical_ratio(-1.0, 1.0)


def test_snyder_shen_example_4_3_normal():
    """Example 4.3: h = 0.18, p = 0.70, D ~ N(50, 8^2): S* = 56.6040, g(S*) = 1.9976; g(40) = 7.3561."""
    S = newsvendor_quantity(0.18, 0.70, Normal(50, 8))
    assert S == pytest.approx(56.603955927433887, abs=1e-4)
    assert newsvendor_cost(S, 0.18, 0.70, Normal(50, 8)) == pytest.approx(1.997605193176645, abs=1e-4)
    assert newsvendor_cost(40, 0.18, 0.70, Normal(50, 8)) == pytest.approx(7.356131552870388, abs=1e-4)


def test_snyder_shen_problem_4_1_normal():
    """Problem 4.1: h = 65 - 22, p = 129 - 65 + 15, D ~ N(900, 60^2)."""
    h, p, demand = 65 - 22, 129 - 65 + 15, Normal(900, 60)
    S = newsvendor_quantity(h, p, demand)
    assert S == pytest.approx(922.7214038234755, abs=1e-4)
    assert newsvendor_cost(S, h, p, demand) == pytest.approx(2718.196781782411, abs=1e-4)
    assert newsvendor_cost(1040, h, p, demand) == pytest.approx(6044.298415188692, abs=1e-4)


def test_snyder_shen_example_4_7_poisson():
    """Example 4.7 (without fixed cost): h = 1, p = 4, D ~ Poisson(6): S* = 8, g(8) = 3.5701, g(5) = 6.5903."""
    S = newsvendor_quantity(1, 4, Poisson(6))
    assert S == 8
    assert newsvendor_cost(S, 1, 4, Poisson(6)) == pytest.approx(3.570106945770946, abs=1e-4)
    assert newsvendor_cost(5, 1, 4, Poisson(6)) == pytest.approx(6.590296024616344, abs=1e-4)


def test_snyder_shen_problem_4_8a_poisson():
    """Problem 4.8(a): h = 200, p = 270, D ~ Poisson(18): S* = 19."""
    assert newsvendor_quantity(200, 270, Poisson(18)) == 19
    assert newsvendor_cost(19, 200, 270, Poisson(18)) == pytest.approx(786.0884409351115, abs=1e-4)
    assert newsvendor_cost(13, 200, 270, Poisson(18)) == pytest.approx(1445.751062891969, abs=1e-4)


def test_snyder_shen_problem_4_7b_discrete():
    """Problem 4.7(b): h = 500,000, p = 1,000,000, pmf on 1..8: S* = 5, g(5) = 1,225,000, g(3) = 1,725,000."""
    pmf = [0, 0.25, 0.05, 0.1, 0.2, 0.15, 0.10, 0.10, 0.05]
    demand = Discrete(pmf)
    assert newsvendor_quantity(500_000, 1_000_000, demand) == 5
    assert newsvendor_cost(5, 500_000, 1_000_000, demand) == pytest.approx(1_225_000, abs=1e-4)
    assert newsvendor_cost(3, 500_000, 1_000_000, demand) == pytest.approx(1_725_000, abs=1e-4)


@pytest.mark.parametrize("demand", [Gamma(3.0, 4.0), NegativeBinomial(4.0, 0.25)], ids=["gamma", "negative-binomial"])
def test_quantity_minimises_the_cost(demand):
    h, b = 0.4, 1.7
    S = float(newsvendor_quantity(h, b, demand))
    cost = lambda s: float(newsvendor_cost(s, h, b, demand))  # noqa: E731
    if demand.discrete:
        grid = np.arange(0, 100)
        assert S == grid[np.argmin([cost(s) for s in grid])]
    else:
        best = optimize.minimize_scalar(cost, bounds=(0, 100), method="bounded", options={"xatol": 1e-10})
        assert S == pytest.approx(best.x, abs=1e-4)


def test_samples_give_the_saa_quantity():
    samples = np.random.default_rng(0).gamma(2.0, 5.0, size=(3, 200))
    S = newsvendor_quantity(1.0, 9.0, samples)
    np.testing.assert_array_equal(S, Empirical(samples).ppf(0.9))
    np.testing.assert_allclose(newsvendor_cost(S, 1.0, 9.0, samples),
                               [np.mean(np.maximum(S[i] - samples[i], 0) + 9 * np.maximum(samples[i] - S[i], 0)) for i in range(3)])


def test_one_call_serves_many_skus():
    mean = np.linspace(1.0, 100.0, 1000)
    std = 0.3 * mean
    S = newsvendor_quantity(0.1, 0.9, Normal(mean, std))
    np.testing.assert_allclose(S, mean + 1.2815515655446004 * std)
    np.testing.assert_allclose(newsvendor_cost(S, 0.1, 0.9, Normal(mean, std)), std * 0.17549833193248685, rtol=1e-12)


def _obs(ip):
    ip = __import__("torch").tensor(ip)
    return Observation(period=1, on_hand=ip, inventory_position=ip)


def test_policy_fits_the_window_demand_law():
    demand = np.random.default_rng(0).poisson(10.0, size=(400, 60)).astype(float)
    problem = InventoryProblem(lead_time=1, review_period=1)
    policy = NewsvendorPolicy("poisson").fit(demand, None, problem)
    assert float(policy.level_) == pytest.approx(float(Poisson(20.0).ppf(0.9)), abs=1)
    assert policy.act(_obs([0.0, 30.0])).tolist() == [float(policy.level_), 0.0]
    per_sku = NewsvendorPolicy("empirical", per_sku=True).fit(demand[:3], None, problem)
    assert per_sku.level_.shape == (3,)


def test_policy_handles_review_periods_by_the_exact_mixture():
    rng = np.random.default_rng(1)
    demand = np.maximum(rng.normal(30.0, 3.0, size=(500, 200)), 0.0)
    problem = InventoryProblem(lead_time=1, review_period=2)
    level = float(NewsvendorPolicy("normal").fit(demand, None, problem).level_)
    from orkit.heuristics import base_stock_level

    assert level == pytest.approx(float(base_stock_level(0.1, 0.9, Normal(30.0, 3.0), 1, 2)), rel=0.005)


def test_policy_errors():
    with pytest.raises(NotFittedError, match="not fitted"):
        NewsvendorPolicy().act(_obs([0.0]))
    with pytest.raises(ValidationError, match="distribution must be one of"):
        NewsvendorPolicy("weibull").fit(np.ones((2, 10)), None, InventoryProblem())
