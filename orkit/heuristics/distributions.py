r"""Demand distributions for the analytic heuristics, vectorised over SKUs.

Every class holds its parameters as numpy arrays of one *batch shape* (usually ``(n_skus,)``;
scalars give shape ``()``) and evaluates all SKUs in one call. The methods the heuristics need:

=====================  ==================================================================
``cdf(x)``             :math:`F(x) = P(D \le x)`
``ppf(q)``             the smallest ``x`` with :math:`F(x) \ge q` (integers for discrete laws)
``loss(x)``            first-order loss function :math:`n(x) = E[(D - x)^+]`
``sum_of(k)``          the law of :math:`D_1 + \dots + D_k` for i.i.d. periods
``mean``, ``variance``
=====================  ==================================================================

Closed forms of the loss function (Zipkin 2000, *Foundations of Inventory Management*, ch. 6;
Snyder & Shen 2019, *Fundamentals of Supply Chain Theory*, sec. 4.3 and appendix C):

- Normal :math:`N(\mu, \sigma^2)`: :math:`n(x) = \sigma\,[\varphi(z) - z\,(1 - \Phi(z))]`,
  :math:`z = (x - \mu)/\sigma`.
- Gamma with shape :math:`k` and scale :math:`\theta`: :math:`n(x) = k\theta\,\bar G_{k+1}(x) -
  x\,\bar G_k(x)`, where :math:`\bar G_k` is the survival function of the gamma law of shape
  :math:`k` (because :math:`x\,g_k(x) = k\theta\,g_{k+1}(x)`).
- Lognormal (:math:`\ln D \sim N(\mu, \sigma^2)`): :math:`n(x) = E[D]\,\Phi(d_1) - x\,\Phi(d_2)`,
  :math:`d_2 = (\mu - \ln x)/\sigma`, :math:`d_1 = d_2 + \sigma`; sums of lognormal periods
  have no closed form and :meth:`LogNormal.sum_of` matches the first two moments
  (Fenton-Wilkinson approximation).
- Poisson :math:`\lambda`, integer :math:`x`: :math:`n(x) = \lambda\,P(D \ge x) - x\,P(D > x)`.
- Negative binomial (``n`` successes, success probability ``p``, mean :math:`m =
  n(1-p)/p`), integer :math:`x`: :math:`n(x) = m\,\bar F_{n+1}(x - 1) - x\,\bar F_n(x)`.
- Discrete laws between integers are linear in ``x``: :math:`n(x) = n(\lfloor x \rfloor) -
  (x - \lfloor x \rfloor)\,P(D > \lfloor x \rfloor)`, so the expected newsvendor cost is exact
  at every real ``x``.

:class:`Geometric` (failures before the first success, :math:`P(D = k) = p(1-p)^k`, mean
:math:`(1-p)/p`) is the negative binomial with ``n = 1``: Zipkin's (2008) geometric demand with
mean 5 is ``Geometric(5.0)``, the same law as ``NegativeBinomial(1, 1/6)``.

:class:`Empirical` is the sample-average approximation (SAA): the (weighted) empirical law of
observed demand. :class:`Discrete` is an explicit probability mass function on ``0, 1, ..., K``;
dynamic programs and the myopic policy use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from orkit.core.errors import ValidationError

__all__ = [
    "DemandDistribution",
    "Normal",
    "Poisson",
    "NegativeBinomial",
    "Gamma",
    "LogNormal",
    "Geometric",
    "Discrete",
    "Empirical",
    "as_distribution",
    "mixture_ppf",
]

_CDF_TOLERANCE = 1e-12  # F(x) >= q - tol counts as reaching the quantile (float round-off)


def _array(name: str, value: Any, *, minimum: float | None = None, strict: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} must be finite, got {value!r}")
    if minimum is not None and arr.size:
        low = float(arr.min())
        if (strict and low <= minimum) or (not strict and low < minimum):
            rule = ">" if strict else ">="
            raise ValidationError(f"{name} must be {rule} {minimum:g}, got {low:g}")
    return arr


def _periods(value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ValidationError(f"periods must be integers, got {value!r}")
    if arr.size and arr.min() < 1:
        raise ValidationError(f"periods must be >= 1, got {int(arr.min())}")
    return arr.astype(np.int64)


def _sample_moments(samples: Any, axis: int, where: Any, *, std: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean and standard deviation (``ddof=1`` where a law has more than one sample) along
    ``axis``; ``where`` (bool, broadcastable to ``samples``) keeps only the marked samples (a
    mask, e.g. the periods a SKU lives), ``None`` keeps all."""
    samples = np.asarray(samples, dtype=np.float64)
    if where is None:
        ddof = 1 if samples.shape[axis] > 1 else 0
        return samples.mean(axis=axis), (samples.std(axis=axis, ddof=ddof) if std else None)
    where = np.broadcast_to(np.asarray(where, dtype=bool), samples.shape)
    count = where.sum(axis=axis)
    if count.size and count.min() == 0:
        raise ValidationError("every law needs at least one sample inside the mask, got a law with none")
    mean = np.where(where, samples, 0.0).sum(axis=axis) / count
    if not std:
        return mean, None
    centred = np.where(where, samples - np.expand_dims(mean, axis), 0.0)
    ddof = np.where(count > 1, 1, 0)
    return mean, np.sqrt((centred**2).sum(axis=axis) / (count - ddof))


def _check_probability(q: Any) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if q.size and (np.any(q < 0) or np.any(q > 1) or not np.all(np.isfinite(q))):
        raise ValidationError(f"q must lie in [0, 1], got {q.min():g}..{q.max():g}")
    return q


class DemandDistribution:
    """Base class: a batch of demand distributions, one per SKU (or a single one).

    Subclasses implement ``cdf``, ``ppf``, ``loss``, ``sum_of``, ``mean`` and ``variance``.
    """

    #: Whether the support is the non-negative integers (quantiles are then integers).
    discrete: bool = False

    @property
    def batch_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def mean(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def variance(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.variance)

    def cdf(self, x: Any) -> np.ndarray:
        raise NotImplementedError

    def ppf(self, q: Any) -> np.ndarray:
        raise NotImplementedError

    def loss(self, x: Any) -> np.ndarray:
        """First-order loss function ``E[(D - x)^+]`` [n(x)]."""
        raise NotImplementedError

    def sum_of(self, periods: Any) -> "DemandDistribution":
        """The law of the total demand of ``periods`` i.i.d. periods (scalar or per SKU)."""
        raise NotImplementedError

    def complementary_loss(self, x: Any) -> np.ndarray:
        """``E[(x - D)^+] = x - E[D] + n(x)`` [\\bar n(x)]."""
        x = np.asarray(x, dtype=np.float64)
        return x - self.mean + self.loss(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_shape={self.batch_shape})"


# --------------------------------------------------------------------------------- continuous
class Normal(DemandDistribution):
    r"""Normal demand :math:`N(\mu, \sigma^2)` (the textbook approximation; it allows D < 0).

    Parameters
    ----------
    mean : float or array
        Mean demand per period [mu].
    std : float or array
        Standard deviation [sigma] >= 0; ``sigma = 0`` is deterministic demand.

    Examples
    --------
    >>> round(float(Normal(50.0, 8.0).ppf(0.7 / 0.88)), 4)   # Snyder & Shen, Example 4.3
    56.604
    """

    def __init__(self, mean: Any, std: Any) -> None:
        mean = _array("mean", mean)
        std = _array("std", std, minimum=0.0)
        self._mean, self._std = np.broadcast_arrays(mean, std)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._mean.shape

    @property
    def mean(self) -> np.ndarray:
        return self._mean

    @property
    def variance(self) -> np.ndarray:
        return self._std**2

    @property
    def std(self) -> np.ndarray:
        return self._std

    def _z(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        positive = self._std > 0
        scale = np.where(positive, self._std, 1.0)
        return (x - self._mean) / scale, positive

    def cdf(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        z, positive = self._z(x)
        return np.where(positive, special.ndtr(z), (x >= self._mean).astype(np.float64))

    def pdf(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        z, positive = self._z(x)
        return np.where(positive, np.exp(-0.5 * z * z) / (np.sqrt(2 * np.pi) * np.where(positive, self._std, 1.0)), 0.0)

    def ppf(self, q: Any) -> np.ndarray:
        q = _check_probability(q)
        return self._mean + self._std * special.ndtri(q)

    def loss(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        z, positive = self._z(x)
        pdf = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
        smooth = self._std * (pdf - z * special.ndtr(-z))
        return np.where(positive, smooth, np.maximum(self._mean - x, 0.0))

    def sum_of(self, periods: Any) -> "Normal":
        k = _periods(periods)
        return Normal(self._mean * k, self._std * np.sqrt(k))

    @classmethod
    def fit(cls, samples: Any, axis: int = -1, where: Any = None) -> "Normal":
        """Moment fit (sample mean and standard deviation, ``ddof=1``) along ``axis``, over the
        samples marked by ``where`` (a bool mask; all by default)."""
        return cls(*_sample_moments(samples, axis, where))


class Gamma(DemandDistribution):
    r"""Gamma demand with shape :math:`k` and scale :math:`\theta` (mean :math:`k\theta`).

    Parameters
    ----------
    shape : float or array
        Shape [k] > 0.
    scale : float or array
        Scale [theta] > 0.
    """

    def __init__(self, shape: Any, scale: Any) -> None:
        shape = _array("shape", shape, minimum=0.0, strict=True)
        scale = _array("scale", scale, minimum=0.0, strict=True)
        self._shape, self._scale = np.broadcast_arrays(shape, scale)

    @classmethod
    def from_moments(cls, mean: Any, std: Any) -> "Gamma":
        """The gamma law with the given mean and standard deviation (both > 0)."""
        mean = _array("mean", mean, minimum=0.0, strict=True)
        std = _array("std", std, minimum=0.0, strict=True)
        return cls((mean / std) ** 2, std**2 / mean)

    @classmethod
    def fit(cls, samples: Any, axis: int = -1, where: Any = None) -> "Gamma":
        """Method-of-moments fit along ``axis`` (needs positive mean and spread), over the
        samples marked by ``where`` (a bool mask; all by default)."""
        mean, std = _sample_moments(samples, axis, where)
        return cls.from_moments(np.maximum(mean, 1e-12), np.maximum(std, 1e-12))

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._shape.shape

    @property
    def mean(self) -> np.ndarray:
        return self._shape * self._scale

    @property
    def variance(self) -> np.ndarray:
        return self._shape * self._scale**2

    def cdf(self, x: Any) -> np.ndarray:
        x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
        return special.gammainc(self._shape, x / self._scale)

    def ppf(self, q: Any) -> np.ndarray:
        q = _check_probability(q)
        return special.gammaincinv(self._shape, q) * self._scale

    def loss(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        u = np.maximum(x, 0.0) / self._scale
        inner = self.mean * special.gammaincc(self._shape + 1.0, u) - np.maximum(x, 0.0) * special.gammaincc(self._shape, u)
        return np.where(x > 0, np.maximum(inner, 0.0), self.mean - x)

    def sum_of(self, periods: Any) -> "Gamma":
        return Gamma(self._shape * _periods(periods), self._scale)


class LogNormal(DemandDistribution):
    r"""Lognormal demand: :math:`\ln D \sim N(\mu, \sigma^2)` (continuous, right-skewed).

    Parameters
    ----------
    mu : float or array
        Mean of :math:`\ln D` [mu].
    sigma : float or array
        Standard deviation of :math:`\ln D` [sigma] > 0.

    Examples
    --------
    >>> d = LogNormal.from_moments(10.0, 5.0)
    >>> round(float(d.mean), 6), round(float(d.std), 6)
    (10.0, 5.0)
    """

    def __init__(self, mu: Any, sigma: Any) -> None:
        mu = _array("mu", mu)
        sigma = _array("sigma", sigma, minimum=0.0, strict=True)
        self._mu, self._sigma = np.broadcast_arrays(mu, sigma)

    @classmethod
    def from_moments(cls, mean: Any, std: Any) -> "LogNormal":
        """The lognormal law with the given mean and standard deviation (both > 0)."""
        mean = _array("mean", mean, minimum=0.0, strict=True)
        std = _array("std", std, minimum=0.0, strict=True)
        sigma2 = np.log1p((std / mean) ** 2)
        return cls(np.log(mean) - sigma2 / 2.0, np.sqrt(sigma2))

    @classmethod
    def fit(cls, samples: Any, axis: int = -1, where: Any = None) -> "LogNormal":
        """Method-of-moments fit along ``axis`` (needs positive mean and spread), over the
        samples marked by ``where`` (a bool mask; all by default)."""
        mean, std = _sample_moments(samples, axis, where)
        return cls.from_moments(np.maximum(mean, 1e-12), np.maximum(std, 1e-12))

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._mu.shape

    @property
    def mean(self) -> np.ndarray:
        return np.exp(self._mu + self._sigma**2 / 2.0)

    @property
    def variance(self) -> np.ndarray:
        return np.expm1(self._sigma**2) * np.exp(2.0 * self._mu + self._sigma**2)

    def cdf(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore"):
            z = (np.log(np.maximum(x, 0.0)) - self._mu) / self._sigma
        return np.where(x > 0, special.ndtr(z), 0.0)

    def ppf(self, q: Any) -> np.ndarray:
        q = _check_probability(q)
        return np.exp(self._mu + self._sigma * special.ndtri(q))

    def loss(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore"):
            d2 = (self._mu - np.log(np.maximum(x, 1e-300))) / self._sigma
        inner = self.mean * special.ndtr(d2 + self._sigma) - np.maximum(x, 0.0) * special.ndtr(d2)
        return np.where(x > 0, np.maximum(inner, 0.0), self.mean - x)

    def sum_of(self, periods: Any) -> "LogNormal":
        """The lognormal law with the mean and variance of the k-period sum (Fenton-Wilkinson)."""
        k = _periods(periods)
        return LogNormal.from_moments(self.mean * k, np.sqrt(self.variance * k))


# --------------------------------------------------------------------------------- discrete
def _discrete_loss(x: np.ndarray, loss_at: Any, sf_at: Any, mean: np.ndarray) -> np.ndarray:
    """Loss of an integer-valued law at real ``x`` from its values at ``floor(x)``."""
    k = np.floor(x)
    kk = np.maximum(k, 0.0)
    inner = loss_at(kk) - (x - kk) * sf_at(kk)
    return np.where(x >= 0, np.maximum(inner, 0.0), mean - x)


def _bisect_ppf(cdf: Any, q: np.ndarray, guess: np.ndarray) -> np.ndarray:
    """Smallest integer ``k >= 0`` with ``cdf(k) >= q``, vectorised; ``cdf(k, index)`` evaluates a subset.

    Starts from ``guess``, brackets by doubling steps, then bisects on the integers: a handful
    of vectorised cdf evaluations instead of scipy's generic root search.
    """
    target = q - _CDF_TOLERANCE
    hi = np.maximum(np.ceil(guess), 0.0)
    everyone = np.arange(hi.size)
    # bracket from above: cdf(hi) >= q
    step = np.ones_like(hi)
    todo = everyone
    for _ in range(200):
        bad = todo[cdf(hi[todo], todo) < target[todo]]
        if bad.size == 0:
            break
        hi[bad] += step[bad]
        step[bad] *= 2
        todo = bad
    # bracket from below: cdf(lo) < q, or lo = -1
    lo = hi - 1.0
    step = np.ones_like(hi)
    todo = everyone[lo >= 0]
    for _ in range(200):
        if todo.size == 0:
            break
        bad = todo[cdf(lo[todo], todo) >= target[todo]]
        hi[bad] = lo[bad]
        lo[bad] = np.maximum(lo[bad] - step[bad], -1.0)
        step[bad] *= 2
        todo = bad[lo[bad] >= 0]
    # bisection on integers in (lo, hi]
    todo = everyone[hi - lo > 1]
    while todo.size:
        mid = np.floor((lo[todo] + hi[todo]) / 2)
        reached = cdf(mid, todo) >= target[todo]
        hi[todo[reached]] = mid[reached]
        lo[todo[~reached]] = mid[~reached]
        todo = todo[hi[todo] - lo[todo] > 1]
    return hi


def _walk_ppf(cdf: Any, pmf: Any, down: Any, up: Any, q: np.ndarray, guess: np.ndarray) -> np.ndarray:
    """Smallest integer ``k`` with ``cdf(k) >= q`` from a close guess, with one exact cdf evaluation.

    From ``c = F(k)`` and ``f = P(D = k)`` it walks with the pmf recurrences ``down(f, k) = P(k-1)``
    and ``up(f, k) = P(k+1)``: a step costs a multiplication instead of an incomplete gamma or
    beta function. SKUs that need more than 64 steps (or whose pmf underflows) are found by
    bisection (:func:`_bisect_ppf`). Every callable takes the flat indices it evaluates last.
    """
    target = q - _CDF_TOLERANCE
    k = np.maximum(np.round(guess), 0.0)
    everyone = np.arange(k.size)
    c = cdf(k, everyone)
    f = pmf(k, everyone)
    unresolved = np.zeros(k.size, dtype=bool)
    # walk down while F(k - 1) = c - f still reaches q
    todo = everyone[(k > 0) & (c - f >= target)]
    for _ in range(64):
        if todo.size == 0:
            break
        c[todo] -= f[todo]
        f[todo] = down(f[todo], k[todo], todo)
        k[todo] -= 1
        todo = todo[(k[todo] > 0) & (c[todo] - f[todo] >= target[todo])]
    unresolved[todo] = True
    # walk up while F(k) < q
    todo = everyone[c < target]
    for _ in range(64):
        if todo.size == 0:
            break
        f[todo] = up(f[todo], k[todo], todo)
        k[todo] += 1
        c[todo] += f[todo]
        todo = todo[c[todo] < target[todo]]
    unresolved[todo] = True
    unresolved |= ~(f > 0)
    if unresolved.any():
        idx = everyone[unresolved]
        k[idx] = _bisect_ppf(lambda kk, j: cdf(kk, idx[j]), q[idx], guess[idx])
    return k


class _CountLaw(DemandDistribution):
    """A law on the non-negative integers with a pmf recurrence (Poisson, negative binomial):
    one quantile routine and one truncation."""

    discrete = True

    @staticmethod
    def _quantile(q: Any, params: tuple[np.ndarray, ...], *, guess: Any, cdf: Any, pmf: Any, below: Any,
                  above: Any) -> np.ndarray:
        """``ppf(q)`` by :func:`_walk_ppf` from a Cornish-Fisher guess.

        The functions take the flat parameter arrays ``*params`` last: ``guess(z, *params)``,
        the continuity-corrected quantile guess at the standard normal quantile ``z``;
        ``cdf(k, *params)`` and ``pmf(k, *params)`` at integers ``k``; ``below(f, k, *params)``
        and ``above(f, k, *params)``, ``P(k - 1)`` and ``P(k + 1)`` from ``f = P(k)``.
        """
        q = _check_probability(q)
        *params, q = np.broadcast_arrays(*params, q)
        shape = q.shape
        params, q = [p.ravel() for p in params], q.ravel()
        z = special.ndtri(np.clip(q, 1e-300, 1 - 1e-16))
        start = guess(z, *params)
        start = np.where(np.isfinite(start), start, 0.0)

        def at(i: np.ndarray) -> list[np.ndarray]:
            return [p[i] for p in params]

        out = _walk_ppf(
            lambda k, i: cdf(k, *at(i)),
            lambda k, i: pmf(k, *at(i)),
            lambda f, k, i: below(f, k, *at(i)),
            lambda f, k, i: above(f, k, *at(i)),
            q,
            start,
        )
        out = np.where(q >= 1.0, np.inf, out)
        return out.reshape(shape)[()]

    def truncate(self, tail: float = 1e-12) -> "Discrete":
        """The pmf on ``0..K`` with ``P(D > K) <= tail``; the tail mass is added to ``K``."""
        if not 0 < tail < 1:
            raise ValidationError(f"tail must lie in (0, 1), got {tail!r}")
        top = int(np.max(self.ppf(1.0 - tail))) if np.size(self.mean) else 0
        batch = self.batch_shape
        k = np.arange(top + 1, dtype=np.float64).reshape(-1, *([1] * len(batch)))
        cdf = np.moveaxis(np.broadcast_to(self.cdf(k), (top + 1, *batch)), 0, -1)
        pmf = np.diff(cdf, axis=-1, prepend=0.0)
        pmf[..., -1] += 1.0 - cdf[..., -1]
        return Discrete(np.maximum(pmf, 0.0))


class Poisson(_CountLaw):
    r"""Poisson demand with mean :math:`\lambda`.

    Parameters
    ----------
    mean : float or array
        Mean demand per period [lambda] >= 0.

    Examples
    --------
    >>> float(Poisson(6.0).ppf(0.8))   # Snyder & Shen, Example 4.7: h = 1, p = 4
    8.0
    """

    def __init__(self, mean: Any) -> None:
        self._mean = _array("mean", mean, minimum=0.0)

    @classmethod
    def fit(cls, samples: Any, axis: int = -1, where: Any = None) -> "Poisson":
        """The sample mean along ``axis`` over the samples marked by ``where`` (all by default)."""
        return cls(_sample_moments(samples, axis, where, std=False)[0])

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._mean.shape

    @property
    def mean(self) -> np.ndarray:
        return self._mean

    @property
    def variance(self) -> np.ndarray:
        return self._mean

    def _sf(self, k: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """P(D > k) for integer k (k = -1 allowed)."""
        mean = self._mean if mean is None else mean
        return np.where(k < 0, 1.0, special.pdtrc(np.maximum(k, 0.0), mean))

    def cdf(self, x: Any) -> np.ndarray:
        k = np.floor(np.asarray(x, dtype=np.float64))
        return 1.0 - self._sf(k)

    def pmf(self, k: Any) -> np.ndarray:
        """``P(D = k)`` (zero off the non-negative integers)."""
        return _poisson_pmf_safe(np.asarray(k, dtype=np.float64), self._mean)

    def ppf(self, q: Any) -> np.ndarray:
        return self._quantile(
            q,
            (self._mean,),
            guess=lambda z, m: np.where(m > 0, m + np.sqrt(m) * z + (z * z - 1.0) / 6.0 - 0.5, 0.0),
            # P(D <= k) = Q(k + 1, lambda), the regularised upper incomplete gamma function
            cdf=lambda k, m: np.where(k < 0, 0.0, special.gammaincc(np.maximum(k, 0.0) + 1.0, m)),
            pmf=_poisson_pmf_safe,
            below=lambda f, k, m: f * k / m,
            above=lambda f, k, m: f * m / (k + 1.0),
        )

    def loss(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        lam = self._mean
        return _discrete_loss(x, lambda k: lam * self._sf(k - 1) - k * self._sf(k), self._sf, lam)

    def sum_of(self, periods: Any) -> "Poisson":
        return Poisson(self._mean * _periods(periods))


def _poisson_pmf_safe(k: np.ndarray, mean: np.ndarray) -> np.ndarray:
    k, mean = np.broadcast_arrays(k, mean)
    out = np.zeros(k.shape)
    integer = (k >= 0) & (k == np.round(k))
    zero_mean = mean == 0
    out[integer & zero_mean & (k == 0)] = 1.0
    pos = integer & ~zero_mean
    out[pos] = np.exp(k[pos] * np.log(mean[pos]) - mean[pos] - special.gammaln(k[pos] + 1))
    return out


class NegativeBinomial(_CountLaw):
    r"""Negative binomial demand: failures before the ``n``-th success, success probability ``p``.

    Mean :math:`n(1-p)/p`, variance :math:`n(1-p)/p^2` (over-dispersed count demand); ``n``
    may be real. Same parameterisation as ``scipy.stats.nbinom``.

    Parameters
    ----------
    n : float or array
        Number of successes [r] > 0.
    p : float or array
        Success probability in (0, 1].
    """

    def __init__(self, n: Any, p: Any) -> None:
        n = _array("n", n, minimum=0.0, strict=True)
        p = _array("p", p, minimum=0.0, strict=True)
        if p.size and p.max() > 1:
            raise ValidationError(f"p must be <= 1, got {p.max():g}")
        self._n, self._p = np.broadcast_arrays(n, p)

    @classmethod
    def from_moments(cls, mean: Any, variance: Any) -> "NegativeBinomial":
        """The law with the given mean > 0 and variance > mean."""
        mean = _array("mean", mean, minimum=0.0, strict=True)
        variance = _array("variance", variance)
        if np.any(variance <= mean):
            raise ValidationError("variance must be > mean for a negative binomial (over-dispersion)")
        p = mean / variance
        return cls(mean * p / (1.0 - p), p)

    @classmethod
    def fit(cls, samples: Any, axis: int = -1, where: Any = None) -> "NegativeBinomial":
        """Moment fit over the samples marked by ``where`` (all by default); the variance is
        floored just above the mean (near-Poisson data)."""
        if where is None:
            samples = np.asarray(samples, dtype=np.float64)
            ddof = 1 if samples.shape[axis] > 1 else 0
            mean, variance = samples.mean(axis=axis), samples.var(axis=axis, ddof=ddof)
        else:
            mean, std = _sample_moments(samples, axis, where)
            variance = std**2
        mean = np.maximum(mean, 1e-9)
        variance = np.maximum(variance, mean * (1 + 1e-6))
        return cls.from_moments(mean, variance)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._n.shape

    @property
    def n(self) -> np.ndarray:
        return self._n

    @property
    def p(self) -> np.ndarray:
        return self._p

    @property
    def mean(self) -> np.ndarray:
        return self._n * (1.0 - self._p) / self._p

    @property
    def variance(self) -> np.ndarray:
        return self._n * (1.0 - self._p) / self._p**2

    @staticmethod
    def _sf_of(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
        """P(D > k) = I_{1-p}(k + 1, n) for integer k (k < 0 gives 1)."""
        kk = np.maximum(k, 0.0)
        return np.where(k < 0, 1.0, special.betainc(kk + 1.0, n, 1.0 - p))

    def cdf(self, x: Any) -> np.ndarray:
        return 1.0 - self._sf_of(np.floor(np.asarray(x, dtype=np.float64)), self._n, self._p)

    def ppf(self, q: Any) -> np.ndarray:
        def guess(z: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
            mean = n * (1 - p) / p
            skew = (2.0 - p) / np.sqrt(np.maximum(n * (1.0 - p), 1e-300))
            return mean + np.sqrt(mean / p) * (z + (z * z - 1.0) * skew / 6.0) - 0.5

        def pmf(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
            log = special.gammaln(k + n) - special.gammaln(n) - special.gammaln(k + 1.0)
            return np.exp(log + n * np.log(p) + k * np.log1p(-p))

        return self._quantile(
            q,
            (self._n, self._p),
            guess=guess,
            cdf=lambda k, n, p: 1.0 - self._sf_of(k, n, p),
            pmf=pmf,
            below=lambda f, k, n, p: f * k / ((k - 1.0 + n) * (1.0 - p)),
            above=lambda f, k, n, p: f * (k + n) * (1.0 - p) / (k + 1.0),
        )

    def loss(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        n, p, m = self._n, self._p, self.mean
        return _discrete_loss(
            x, lambda k: m * self._sf_of(k - 1, n + 1.0, p) - k * self._sf_of(k, n, p), lambda k: self._sf_of(k, n, p), m
        )

    def sum_of(self, periods: Any) -> "NegativeBinomial":
        return NegativeBinomial(self._n * _periods(periods), self._p)


class Geometric(NegativeBinomial):
    r"""Geometric demand on ``0, 1, 2, ...`` with the given mean: :math:`P(D = k) = p(1-p)^k`,
    :math:`p = 1/(1 + \text{mean})` (the negative binomial with ``n = 1``; variance
    :math:`m(1 + m)`).

    Parameters
    ----------
    mean : float or array
        Mean demand [m] > 0.

    Examples
    --------
    Zipkin's (2008) geometric demand with mean 5:

    >>> d = Geometric(5.0)
    >>> round(float(d.mean), 9), round(float(d.variance), 9), round(float(d.p), 6)
    (5.0, 30.0, 0.166667)
    """

    def __init__(self, mean: Any) -> None:
        mean = _array("mean", mean, minimum=0.0, strict=True)
        super().__init__(np.ones_like(mean), 1.0 / (1.0 + mean))

    @classmethod
    def fit(cls, samples: Any, axis: int = -1, where: Any = None) -> "Geometric":
        """The geometric law with the sample mean (floored at 1e-9) over the samples marked by
        ``where`` (all by default)."""
        return cls(np.maximum(_sample_moments(samples, axis, where, std=False)[0], 1e-9))


class Discrete(DemandDistribution):
    r"""Integer demand on ``0, 1, ..., K`` given by its probability mass function.

    Parameters
    ----------
    pmf : array of shape (..., K + 1)
        ``pmf[..., d] = P(D = d)``; non-negative, summing to 1 (to 1e-6; renormalised).
        Leading dimensions are the batch (one law per SKU).

    Examples
    --------
    >>> d = Discrete([0, 0.25, 0.05, 0.1, 0.2, 0.15, 0.1, 0.1, 0.05])  # Snyder & Shen, Problem 4.7(b)
    >>> float(d.ppf(1 / 1.5))
    5.0
    """

    discrete = True

    def __init__(self, pmf: Any) -> None:
        pmf = _array("pmf", pmf, minimum=0.0)
        if pmf.ndim == 0 or pmf.shape[-1] == 0:
            raise ValidationError(f"pmf must have at least one entry along its last axis, got shape {pmf.shape}")
        total = pmf.sum(axis=-1, keepdims=True)
        if np.any(np.abs(total - 1.0) > 1e-6):
            raise ValidationError(f"pmf must sum to 1 along its last axis, got sums {np.unique(total.round(8))[:5].tolist()}")
        self._pmf = pmf / total
        self._cdf = np.minimum(np.cumsum(self._pmf, axis=-1), 1.0)
        # n(k) = E[(D - k)^+] = sum_{j >= k} P(D > j), k = 0..K
        sf = np.clip(1.0 - self._cdf, 0.0, None)
        self._loss = np.flip(np.cumsum(np.flip(sf, axis=-1), axis=-1), axis=-1)

    @classmethod
    def from_samples(cls, samples: Any, axis: int = -1, weights: Any = None) -> "Discrete":
        """The empirical pmf of integer samples along ``axis`` (one law per remaining index)."""
        samples = np.moveaxis(np.asarray(samples, dtype=np.float64), axis, -1)
        if samples.size and (np.any(samples < 0) or np.any(samples != np.round(samples))):
            raise ValidationError("samples must be non-negative integers for a Discrete law; round them or use Empirical")
        w = np.ones_like(samples) if weights is None else np.moveaxis(np.asarray(weights, dtype=np.float64), axis, -1)
        top = int(samples.max()) if samples.size else 0
        flat = samples.reshape(-1, samples.shape[-1]).astype(np.int64)
        wf = np.broadcast_to(w, samples.shape).reshape(flat.shape)
        rows = np.repeat(np.arange(flat.shape[0]), flat.shape[1])
        pmf = np.zeros((flat.shape[0], top + 1))
        np.add.at(pmf, (rows, flat.ravel()), wf.ravel())
        pmf /= pmf.sum(axis=1, keepdims=True)
        return cls(pmf.reshape(*samples.shape[:-1], top + 1))

    @property
    def pmf(self) -> np.ndarray:
        """``P(D = d)`` for ``d = 0..K``, shape (..., K + 1)."""
        return self._pmf

    @property
    def support_max(self) -> int:
        return self._pmf.shape[-1] - 1

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._pmf.shape[:-1]

    @property
    def mean(self) -> np.ndarray:
        return self._pmf @ np.arange(self._pmf.shape[-1], dtype=np.float64)

    @property
    def variance(self) -> np.ndarray:
        d = np.arange(self._pmf.shape[-1], dtype=np.float64)
        return self._pmf @ (d * d) - self.mean**2

    def _take(self, table: np.ndarray, k: np.ndarray) -> np.ndarray:
        """``table[..., k]`` for an integer array ``k`` broadcast against the batch shape."""
        K = table.shape[-1] - 1
        idx = np.clip(k, 0, K).astype(np.int64)
        batch = self.batch_shape
        if not batch:
            return table[idx]
        idx = np.broadcast_to(idx, np.broadcast_shapes(idx.shape, batch))
        full = np.broadcast_to(table, (*idx.shape, K + 1)) if idx.shape != batch else table
        return np.take_along_axis(full, idx[..., None], axis=-1)[..., 0]

    def cdf(self, x: Any) -> np.ndarray:
        k = np.floor(np.asarray(x, dtype=np.float64))
        return np.where(k < 0, 0.0, self._take(self._cdf, k))

    def ppf(self, q: Any) -> np.ndarray:
        q = _check_probability(q)
        reached = self._cdf >= (q[..., None] if q.ndim else q) - _CDF_TOLERANCE
        reached[..., -1] = True
        return np.argmax(reached, axis=-1).astype(np.float64)

    def loss(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        K = self.support_max
        sf = lambda k: np.where(k >= K, 0.0, 1.0 - self._take(self._cdf, k))  # noqa: E731
        at = lambda k: np.where(k > K, 0.0, self._take(self._loss, k))  # noqa: E731
        return _discrete_loss(x, at, sf, self.mean)

    def sum_of(self, periods: Any) -> "Discrete":
        """k-fold convolution, computed for all SKUs at once with one real FFT."""
        k = _periods(periods)
        k = np.broadcast_to(k, np.broadcast_shapes(k.shape, self.batch_shape))
        if k.size and np.all(k == 1):
            return self if k.shape == self.batch_shape else Discrete(np.broadcast_to(self._pmf, (*k.shape, self.support_max + 1)))
        K = self.support_max
        length = int(k.max()) * K + 1
        n_fft = 1 << max(1, int(np.ceil(np.log2(length))))
        spectrum = np.fft.rfft(np.broadcast_to(self._pmf, (*k.shape, K + 1)), n=n_fft, axis=-1)
        pmf = np.fft.irfft(spectrum ** k[..., None], n=n_fft, axis=-1)[..., :length]
        pmf = np.where(pmf > 1e-15, pmf, 0.0)
        return Discrete(pmf / pmf.sum(axis=-1, keepdims=True))

    def truncate(self, tail: float = 1e-12) -> "Discrete":
        return self


class Empirical(DemandDistribution):
    r"""The (weighted) empirical law of demand samples: the sample-average approximation.

    Parameters
    ----------
    samples : array of shape (..., n_samples)
        Observed demand; the last axis holds the samples of one law.
    weights : array broadcastable to ``samples``, optional
        Non-negative sample weights (weighted SAA, e.g. k-nearest-neighbour or random-forest
        weights); normalised per law. ``None`` gives equal weights.

    Notes
    -----
    ``ppf(q)`` is the smallest sample ``s`` whose cumulative weight reaches ``q``: the minimiser
    of the sample-average newsvendor cost (Levi, Roundy & Shmoys 2007).
    """

    def __init__(self, samples: Any, weights: Any = None) -> None:
        samples = _array("samples", samples)
        if samples.ndim == 0 or samples.shape[-1] == 0:
            raise ValidationError(f"samples must hold at least one value along the last axis, got shape {samples.shape}")
        if weights is None:
            w = np.full(samples.shape, 1.0 / samples.shape[-1])
        else:
            w = np.broadcast_to(_array("weights", weights, minimum=0.0), samples.shape).astype(np.float64)
            total = w.sum(axis=-1, keepdims=True)
            if np.any(total <= 0):
                raise ValidationError("weights must have a positive sum for every law")
            w = w / total
        order = np.argsort(samples, axis=-1, kind="stable")
        self._samples = np.take_along_axis(samples, order, axis=-1)
        self._weights = np.take_along_axis(w, order, axis=-1)
        self._cum = np.cumsum(self._weights, axis=-1)

    @property
    def samples(self) -> np.ndarray:
        """Samples sorted along the last axis."""
        return self._samples

    @property
    def weights(self) -> np.ndarray:
        return self._weights

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._samples.shape[:-1]

    @property
    def mean(self) -> np.ndarray:
        return (self._samples * self._weights).sum(axis=-1)

    @property
    def variance(self) -> np.ndarray:
        return (self._samples**2 * self._weights).sum(axis=-1) - self.mean**2

    def cdf(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return (self._weights * (self._samples <= x[..., None])).sum(axis=-1)

    def ppf(self, q: Any) -> np.ndarray:
        q = _check_probability(q)
        reached = self._cum >= (q[..., None] if q.ndim else q) - _CDF_TOLERANCE
        reached[..., -1] = True
        idx = np.argmax(reached, axis=-1)
        return np.take_along_axis(self._samples, idx[..., None], axis=-1)[..., 0]

    def loss(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return (self._weights * np.maximum(self._samples - x[..., None], 0.0)).sum(axis=-1)

    def sum_of(self, periods: Any) -> DemandDistribution:
        """Exact for integer samples (convolution of the empirical pmf); otherwise only k = 1."""
        k = _periods(periods)
        if k.size and np.all(k == 1):
            return self
        if np.all(self._samples == np.round(self._samples)) and self._samples.min() >= 0:
            return Discrete.from_samples(self._samples, weights=self._weights).sum_of(k)
        raise ValidationError(
            "Empirical.sum_of needs integer samples to convolve; pass samples of the multi-period demand "
            "instead (e.g. orkit.heuristics.review_window_demand)"
        )


def as_distribution(demand: Any) -> DemandDistribution:
    """Read ``demand`` as a :class:`DemandDistribution`.

    Accepts an orkit distribution; a frozen scipy ``norm``, ``lognorm``, ``poisson``, ``nbinom`` or ``gamma``
    (without a ``loc`` shift for the last three; vectorised parameters are kept); or an array of
    samples (the last axis holds the samples of one law; read as :class:`Empirical`).
    """
    if isinstance(demand, DemandDistribution):
        return demand
    dist = getattr(demand, "dist", None)
    if dist is not None and hasattr(demand, "support"):
        name = dist.name
        mean = np.asarray(demand.mean(), dtype=np.float64)
        variance = np.asarray(demand.var(), dtype=np.float64)
        if name == "norm":
            return Normal(mean, np.sqrt(variance))
        if name == "lognorm":
            if np.any(np.asarray(demand.support()[0]) != 0):
                raise ValidationError("scipy distribution 'lognorm' with a loc shift is not supported")
            return LogNormal.from_moments(mean, np.sqrt(variance))
        if name not in ("poisson", "nbinom", "gamma"):
            raise ValidationError(
                f"demand must be normal, lognormal, Poisson, negative binomial, gamma or samples, got scipy {name!r}"
            )
        if np.any(np.asarray(demand.support()[0]) != 0):
            raise ValidationError(f"scipy distribution {name!r} with a loc shift is not supported")
        if name == "poisson":
            return Poisson(mean)
        if name == "nbinom":
            p = mean / variance
            return NegativeBinomial(mean * p / (1.0 - p), p)
        return Gamma(mean**2 / variance, variance / mean)
    if isinstance(demand, (list, tuple, np.ndarray)) or hasattr(demand, "__array__"):
        return Empirical(np.asarray(demand, dtype=np.float64))
    raise ValidationError(
        f"demand must be a DemandDistribution, a frozen scipy distribution or samples, got {type(demand).__name__}"
    )


def mixture_ppf(components: list[DemandDistribution], q: Any, weights: Any = None) -> np.ndarray:
    r"""Quantile of the mixture :math:`\sum_j w_j F_j` of several laws, for every SKU at once.

    The smallest ``x`` with :math:`\sum_j w_j F_j(x) \ge q`: an integer when every component is
    discrete (integer bisection), otherwise found by regula falsi (Illinois) to 1e-10 relative
    precision. The answer lies between the smallest and the largest component quantile, which
    bracket the search.

    Parameters
    ----------
    components : list of DemandDistribution
        Laws with broadcastable batch shapes.
    q : float or array
        Probability level in [0, 1].
    weights : array of shape (len(components), *batch), optional
        Non-negative weights summing to 1 over the first axis; equal weights by default.
    """
    q = _check_probability(q)
    m = len(components)
    if m == 0:
        raise ValidationError("components must hold at least one distribution")
    if weights is None:
        if m == 1:
            return components[0].ppf(q)
        weights = np.full((m,), 1.0 / m)
    weights = np.asarray(weights, dtype=np.float64)
    quantiles = np.stack(np.broadcast_arrays(*[c.ppf(q) for c in components]))
    w = np.broadcast_to(weights.reshape(m, *([1] * (quantiles.ndim - 1))) if weights.ndim == 1 else weights, quantiles.shape)
    present = w > 0
    lo = np.where(present, quantiles, np.inf).min(axis=0)
    hi = np.where(present, quantiles, -np.inf).max(axis=0)

    def mix_cdf(x: np.ndarray) -> np.ndarray:
        return sum(w[j] * c.cdf(x) for j, c in enumerate(components))

    if np.all(lo == hi):
        return hi
    target = q - _CDF_TOLERANCE
    if all(c.discrete for c in components):
        a, b = lo - 1.0, hi.copy()  # F(a) < q <= F(b)
        while np.any(b - a > 1):
            mid = np.floor((a + b) / 2)
            reached = mix_cdf(mid) >= target
            gap = b - a > 1
            b = np.where(gap & reached, mid, b)
            a = np.where(gap & ~reached, mid, a)
        return b
    a, b = lo.copy(), hi.copy()
    fa, fb = mix_cdf(a) - q, mix_cdf(b) - q
    side = np.zeros(a.shape, dtype=np.int8)
    for _ in range(200):
        open_ = (b - a) > 1e-10 * (1.0 + np.abs(b))
        if not np.any(open_):
            break
        denom = fb - fa
        c = np.where(denom > 0, b - fb * (b - a) / np.where(denom > 0, denom, 1.0), 0.5 * (a + b))
        c = np.clip(c, a, b)
        fc = mix_cdf(c) - q
        upper = fc >= 0
        # Illinois: halve the stale end's value when the same end is kept twice in a row
        fa = np.where(open_ & upper & (side == 1), fa / 2, fa)
        fb = np.where(open_ & ~upper & (side == -1), fb / 2, fb)
        b = np.where(open_ & upper, c, b)
        fb = np.where(open_ & upper, fc, fb)
        a = np.where(open_ & ~upper, c, a)
        fa = np.where(open_ & ~upper, fc, fa)
        side = np.where(open_, np.where(upper, 1, -1), side).astype(np.int8)
        done = np.abs(fc) < 1e-15
        a = np.where(open_ & done, c, a)
        b = np.where(open_ & done, c, b)
    return b
