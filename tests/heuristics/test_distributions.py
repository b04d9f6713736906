"""Demand laws: loss functions, quantiles, multi-period sums, mixtures; each against a simple oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

from orkit.core import ValidationError
from orkit.heuristics import (
    Discrete,
    Empirical,
    Gamma,
    NegativeBinomial,
    Normal,
    Poisson,
    as_distribution,
    mixture_ppf,
)

X = np.array([-2.0, 0.0, 0.4, 3.0, 7.5, 12.0, 30.0])


def brute_loss(pmf: np.ndarray, x: np.ndarray) -> np.ndarray:
    d = np.arange(pmf.size)
    return np.array([(np.maximum(d - xx, 0) * pmf).sum() for xx in x])


@pytest.mark.parametrize(
    "dist, frozen",
    [(Poisson(7.3), stats.poisson(7.3)), (NegativeBinomial(2.5, 0.3), stats.nbinom(2.5, 0.3))],
    ids=["poisson", "negative-binomial"],
)
def test_discrete_loss_cdf_and_quantile_match_scipy_sums(dist, frozen):
    pmf = frozen.pmf(np.arange(600))
    np.testing.assert_allclose(dist.loss(X), brute_loss(pmf, X), atol=1e-10)
    np.testing.assert_allclose(dist.cdf(X), frozen.cdf(X), atol=1e-12)
    q = np.linspace(0.001, 0.999, 101)
    np.testing.assert_array_equal(dist.ppf(q), frozen.ppf(q))


def test_continuous_loss_matches_numerical_integration():
    for dist, frozen in [(Normal(10.0, 3.0), stats.norm(10, 3)), (Gamma(2.3, 4.1), stats.gamma(2.3, scale=4.1))]:
        for x in X:
            lower = max(x, frozen.support()[0])
            expected = integrate.quad(lambda u: (u - x) * frozen.pdf(u), lower, np.inf)[0]
            assert dist.loss(x) == pytest.approx(expected, abs=1e-8)
        assert dist.ppf(0.9) == pytest.approx(frozen.ppf(0.9), rel=1e-12)


def test_normal_with_zero_std_is_deterministic():
    d = Normal([5.0, 5.0], [0.0, 1.0])
    np.testing.assert_allclose(d.loss(3.0), [2.0, Normal(5.0, 1.0).loss(3.0)])
    np.testing.assert_allclose(d.cdf(5.0), [1.0, 0.5])


def test_vectorised_over_skus_equals_a_loop():
    means = np.linspace(0.5, 40.0, 50)
    batch = Poisson(means)
    q = 0.87
    np.testing.assert_array_equal(batch.ppf(q), [Poisson(m).ppf(q) for m in means])
    np.testing.assert_allclose(batch.loss(means * 1.1), [Poisson(m).loss(m * 1.1) for m in means])


def test_sum_of_periods():
    assert Poisson(2.0).sum_of(3).mean == 6.0
    np.testing.assert_allclose(Normal(10.0, 3.0).sum_of(4).std, 6.0)
    nb = NegativeBinomial(2.0, 0.4)
    assert nb.sum_of(3).variance == pytest.approx(3 * nb.variance)
    pmf = np.array([0.2, 0.5, 0.3])
    np.testing.assert_allclose(Discrete(pmf).sum_of(3).pmf, np.convolve(np.convolve(pmf, pmf), pmf), atol=1e-14)
    per_sku = Discrete(np.stack([pmf, pmf])).sum_of(np.array([1, 2]))
    np.testing.assert_allclose(per_sku.mean, [1.1, 2.2])
    np.testing.assert_allclose(Empirical([0.0, 1.0, 1.0, 2.0]).sum_of(2).pmf, [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16])
    with pytest.raises(ValidationError, match="integer samples"):
        Empirical([0.5, 1.0]).sum_of(2)


def test_truncated_pmf_keeps_the_mass():
    d = Poisson(5.0).truncate(1e-12)
    assert d.pmf.sum() == pytest.approx(1.0)
    assert d.mean == pytest.approx(5.0, abs=1e-9)


def test_empirical_quantile_is_the_sample_average_minimiser():
    rng = np.random.default_rng(3)
    samples = rng.normal(20, 5, size=37)
    h, b = 0.3, 1.1
    cost = [np.mean(h * np.maximum(s - samples, 0) + b * np.maximum(samples - s, 0)) for s in samples]
    assert Empirical(samples).ppf(b / (b + h)) == samples[int(np.argmin(cost))]


def test_weighted_empirical_law():
    e = Empirical([[1.0, 2.0, 3.0]], weights=[[0.0, 1.0, 3.0]])
    assert e.ppf(0.2)[0] == 2.0 and e.ppf(0.3)[0] == 3.0
    assert e.mean[0] == pytest.approx(2.75)


def test_mixture_quantile_discrete_and_continuous():
    p = Poisson(np.array([10.0, 5.0]))
    comps = [p.sum_of(2), p.sum_of(3)]
    S = mixture_ppf(comps, 0.9)
    F = lambda x: 0.5 * (comps[0].cdf(x) + comps[1].cdf(x))  # noqa: E731
    assert np.all(F(S) >= 0.9) and np.all(F(S - 1) < 0.9)
    n = Normal(10.0, 3.0)
    target = optimize.brentq(lambda x: 0.5 * stats.norm.cdf(x, 20, 3 * 2**0.5) + 0.5 * stats.norm.cdf(x, 30, 3 * 3**0.5) - 0.9, 0, 100)
    assert mixture_ppf([n.sum_of(2), n.sum_of(3)], 0.9) == pytest.approx(target, rel=1e-9)


def test_scipy_frozen_distributions_are_accepted():
    assert isinstance(as_distribution(stats.poisson(3.0)), Poisson)
    nb = as_distribution(stats.nbinom(3, 0.4))
    assert nb.n == pytest.approx(3.0) and nb.p == pytest.approx(0.4)
    assert as_distribution(stats.gamma(2.0, scale=3.0)).mean == pytest.approx(6.0)
    assert isinstance(as_distribution([1.0, 2.0]), Empirical)
    with pytest.raises(ValidationError, match="loc shift"):
        as_distribution(stats.poisson(3.0, loc=2))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Normal(1.0, -1.0), "std must be >= 0"),
        (lambda: Discrete([0.5, 0.4]), "pmf must sum to 1"),
        (lambda: Poisson(-1.0), "mean must be >= 0"),
        (lambda: Normal(1.0, 1.0).ppf(1.5), "q must lie in"),
        (lambda: NegativeBinomial(1.0, 1.5), "p must be <= 1"),
    ],
)
def test_errors_name_the_parameter(make, message):
    with pytest.raises(ValidationError, match=message):
        make()


@settings(max_examples=40, deadline=None)
@given(
    mean=st.floats(0.2, 60.0),
    h=st.floats(0.01, 5.0),
    b=st.floats(0.01, 5.0),
)
def test_discrete_critical_ratio_quantile_is_a_local_minimum(mean, h, b):
    """Property: for integer demand the newsvendor cost at F^{-1}(b/(b+h)) beats both neighbours."""
    d = Poisson(mean)
    S = d.ppf(b / (b + h))
    cost = lambda s: h * (s - mean) + (h + b) * d.loss(s)  # noqa: E731
    assert cost(S) <= cost(S + 1) + 1e-9 and (S == 0 or cost(S) <= cost(S - 1) + 1e-9)
