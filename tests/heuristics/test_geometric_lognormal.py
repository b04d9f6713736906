"""Geometric and lognormal demand by name (issue 20): against scipy and by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from orkit.core import InventoryProblem
from orkit.heuristics import Geometric, LogNormal, NegativeBinomial, NewsvendorPolicy, as_distribution


def test_geometric_is_the_negative_binomial_with_one_success():
    g, nb = Geometric(5.0), NegativeBinomial(1, 1 / 6)
    k = np.arange(0, 60)
    np.testing.assert_allclose(g.cdf(k), nb.cdf(k), rtol=1e-12)
    np.testing.assert_allclose(g.cdf(k), stats.geom(1 / 6, loc=-1).cdf(k), rtol=1e-10)  # scipy counts trials
    assert float(g.ppf(0.9)) == float(stats.geom(1 / 6, loc=-1).ppf(0.9))
    np.testing.assert_allclose(g.truncate().pmf, nb.truncate().pmf)
    assert float(g.sum_of(3).mean) == pytest.approx(15.0)


def test_lognormal_against_scipy():
    d = LogNormal(1.2, 0.6)
    ref = stats.lognorm(0.6, scale=np.exp(1.2))
    x = np.array([-1.0, 0.0, 0.5, 2.0, 3.3, 10.0])
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), atol=1e-14)
    np.testing.assert_allclose(d.ppf([0.1, 0.5, 0.95]), ref.ppf([0.1, 0.5, 0.95]), rtol=1e-12)
    loss = [ref.expect(lambda y, t=t: max(y - t, 0.0)) for t in x]
    np.testing.assert_allclose(d.loss(x), loss, rtol=1e-7)
    assert float(d.mean) == pytest.approx(ref.mean()) and float(d.variance) == pytest.approx(ref.var())
    back = as_distribution(ref)
    assert isinstance(back, LogNormal) and float(back.ppf(0.7)) == pytest.approx(float(ref.ppf(0.7)))
    two = d.sum_of(2)  # Fenton-Wilkinson: the first two moments of the sum
    assert float(two.mean) == pytest.approx(2 * ref.mean()) and float(two.variance) == pytest.approx(2 * ref.var())


@pytest.mark.parametrize("family, draw", [
    ("geometric", lambda rng, size: rng.geometric(1 / 6, size=size) - 1.0),
    ("lognormal", lambda rng, size: rng.lognormal(2.0, 0.5, size=size)),
])
def test_newsvendor_fits_the_families_by_name(family, draw):
    demand = draw(np.random.default_rng(0), (40, 200))
    policy = NewsvendorPolicy(family).fit(demand, None, InventoryProblem(lead_time=0, review_period=1))
    empirical = np.quantile(demand, 0.9)
    assert float(policy.level_) == pytest.approx(empirical, rel=0.1)
