r"""Fixed ordering costs: the EOQ family, (s, S) and (r, Q) policies.

An order placed costs a fixed amount :math:`K` on top of the holding and shortage costs
(:attr:`orkit.core.InventoryProblem.fixed_cost`, charged by the simulator per order placed).

**Closed forms** (deterministic demand at rate :math:`\lambda`, holding cost :math:`h` per unit
and unit of time; Snyder & Shen 2019, *Fundamentals of Supply Chain Theory*, 2nd ed., ch. 3):

- EOQ: :math:`Q^* = \sqrt{2K\lambda/h}`, cost :math:`g^* = \sqrt{2K\lambda h}` (sec. 3.2);
- EOQ with planned backorders (shortage cost :math:`p` per unit and unit of time):
  :math:`Q^* = \sqrt{2K\lambda(h+p)/(hp)}`, backordered fraction :math:`x^* = h/(h+p)`,
  :math:`g^* = \sqrt{2K\lambda hp/(h+p)}` (sec. 3.5);
- EPQ (finite production rate :math:`\mu > \lambda`, :math:`\rho = \lambda/\mu`):
  :math:`Q^* = \sqrt{2K\lambda/(h(1-\rho))}`, :math:`g^* = \sqrt{2K\lambda h(1-\rho)}` (sec. 3.6).

**(s, S) policies** (periodic review): on a review day, if the inventory position :math:`x` is
at or below the reorder point :math:`s`, order up to :math:`S`: :math:`q = S - x`; else nothing.
Under backorders, i.i.d. integer demand, lead time :math:`L` and review period :math:`P`, the
long-run cost per period of a pair is (renewal reward; Zheng & Federgruen 1991, eq. (2), with the
review period as the renewal step)

.. math::

    c(s, S) = \frac{K / P + \sum_{j=0}^{S-s-1} m(j)\, G(S - j)}{M(S - s)},

where :math:`G(y)` is the expected holding and shortage cost per period when the position after
ordering is :math:`y` (:func:`~orkit.heuristics.base_stock_cost`: demand over :math:`L + 1`
periods, averaged over the :math:`P` periods of a review cycle), :math:`m` the renewal mass
function of the demand between two reviews :math:`D_P` (:math:`m(0) = 1/(1-p_0)`,
:math:`m(j) = \sum_{l=1}^{j} p_l\, m(j-l) / (1 - p_0)`) and :math:`M(n) = \sum_{j<n} m(j)` the
expected number of reviews in a cycle. :func:`ss_policy_cost` evaluates it;
:func:`zheng_federgruen` finds the optimal pair with the algorithm of Zheng & Federgruen (1991,
"Finding optimal (s, S) policies is about as simple as evaluating a single policy", *Oper. Res.*
39(4), 654-665); :func:`power_approximation` is the revised power approximation (Ehrhardt 1979,
*Manag. Sci.* 25(8); Ehrhardt & Mosier 1984, *Manag. Sci.* 30(5), 618-622).
:func:`optimize_ss_policy` fits a pair by simulation for everything else (lost sales, per-SKU
lead times, non-stationary or empirical demand).

**(r, Q) policies** (periodic review, "(r, nQ)"): when the position :math:`x \le r`, order the
smallest multiple of :math:`Q` that lifts the position above :math:`r`:
:math:`q = Q\,(\lfloor (r - x)/Q \rfloor + 1)`. For integer demand, :math:`Q` and :math:`r`
under backorders the position after ordering is uniform on :math:`r+1, \dots, r+Q`, so
(Zipkin 2000, *Foundations of Inventory Management*, sec. 6.6)

.. math::

    c(r, Q) = \frac{1}{Q}\sum_{y=r+1}^{r+Q} \Big(G(y) + \frac{K}{P}\,P(D_P \ge y - r)\Big),

evaluated by :func:`rq_policy_cost`; :func:`optimize_rq_policy` fits :math:`(r, Q)` by simulation.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.policy import Observation
from orkit.core.problem import InventoryProblem
from orkit.heuristics._search import (
    SearchedParameter,
    SimulationFittedPolicy,
    grid_search,
    is_integer_valued,
    protection_interval,
    review_interval,
    simulated_losses,
    training_inputs,
    window_max,
)
from orkit.heuristics.base_stock import _timing_arrays, base_stock_cost, base_stock_level
from orkit.heuristics.distributions import DemandDistribution, as_distribution

__all__ = [
    "EOQSolution",
    "EOQBackorderSolution",
    "SSSolution",
    "economic_order_quantity",
    "economic_order_quantity_with_backorders",
    "economic_production_quantity",
    "power_approximation",
    "ss_policy_cost",
    "zheng_federgruen",
    "rq_policy_cost",
    "optimize_ss_policy",
    "optimize_rq_policy",
    "SSPolicy",
    "RQPolicy",
]


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} must be finite, got {value!r}")
    bad = arr < 0 if allow_zero else arr <= 0
    if np.any(bad):
        rule = ">= 0" if allow_zero else "> 0"
        raise ValidationError(f"{name} must be {rule}, got {float(arr[bad].flat[0]):g}")
    return arr


# ------------------------------------------------------------------------------ EOQ family
class EOQSolution(NamedTuple):
    """Optimal order quantity [Q*] and cost per unit of time [g*] (arrays, one per SKU)."""

    order_quantity: np.ndarray
    cost: np.ndarray


class EOQBackorderSolution(NamedTuple):
    """Optimal order quantity [Q*], fraction of demand backordered [x*] and cost [g*]."""

    order_quantity: np.ndarray
    backorder_fraction: np.ndarray
    cost: np.ndarray


def economic_order_quantity(fixed_cost: Any, holding_cost: Any, demand_rate: Any) -> EOQSolution:
    r"""The economic order quantity :math:`Q^* = \sqrt{2K\lambda/h}` and its cost :math:`\sqrt{2K\lambda h}`.

    Parameters
    ----------
    fixed_cost : float or array
        Cost per order [K] > 0.
    holding_cost : float or array
        Cost per unit held per unit of time [h] > 0.
    demand_rate : float or array
        Demand per unit of time [lambda] > 0 (the time unit of ``holding_cost``).

    Returns
    -------
    EOQSolution
        ``order_quantity`` and ``cost`` (ordering plus holding cost per unit of time), broadcast.

    Examples
    --------
    Snyder & Shen (2019), Example 3.1: K = 8, h = 0.75 * 0.3, lambda = 1300 per year.

    >>> q, g = economic_order_quantity(8, 0.225, 1300)
    >>> round(float(q), 2), round(float(g), 2)
    (304.05, 68.41)
    """
    K, h, lam = (_positive(n, v) for n, v in (("fixed_cost", fixed_cost), ("holding_cost", holding_cost),
                                               ("demand_rate", demand_rate)))
    return EOQSolution(np.sqrt(2 * K * lam / h), np.sqrt(2 * K * lam * h))


def economic_order_quantity_with_backorders(
    fixed_cost: Any, holding_cost: Any, shortage_cost: Any, demand_rate: Any
) -> EOQBackorderSolution:
    r"""EOQ with planned backorders: :math:`Q^* = \sqrt{2K\lambda(h+p)/(hp)}`, :math:`x^* = h/(h+p)`.

    Parameters
    ----------
    fixed_cost, holding_cost, demand_rate
        As in :func:`economic_order_quantity`.
    shortage_cost : float or array
        Cost per unit backordered per unit of time [p] > 0.

    Returns
    -------
    EOQBackorderSolution
        ``order_quantity``, ``backorder_fraction`` (the share of each cycle's demand that is
        backordered: the largest backlog is :math:`x^* Q^*`) and ``cost``
        :math:`\sqrt{2K\lambda hp/(h+p)}`.

    Examples
    --------
    Snyder & Shen (2019), Example 3.8: Example 3.1 with p = 5.

    >>> q, x, g = economic_order_quantity_with_backorders(8, 0.225, 5, 1300)
    >>> round(float(q), 2), round(float(x), 4), round(float(g), 2)
    (310.81, 0.0431, 66.92)
    """
    K, h, p, lam = (_positive(n, v) for n, v in (("fixed_cost", fixed_cost), ("holding_cost", holding_cost),
                                                  ("shortage_cost", shortage_cost), ("demand_rate", demand_rate)))
    return EOQBackorderSolution(np.sqrt(2 * K * lam * (h + p) / (h * p)), h / (h + p), np.sqrt(2 * K * lam * h * p / (h + p)))


def economic_production_quantity(fixed_cost: Any, holding_cost: Any, demand_rate: Any, production_rate: Any) -> EOQSolution:
    r"""The economic production quantity :math:`Q^* = \sqrt{2K\lambda/(h(1-\rho))}`, :math:`\rho = \lambda/\mu`.

    Parameters
    ----------
    fixed_cost, holding_cost, demand_rate
        As in :func:`economic_order_quantity`.
    production_rate : float or array
        Units produced per unit of time while producing [mu] > ``demand_rate``.

    Returns
    -------
    EOQSolution
        ``order_quantity`` (the batch size) and ``cost`` :math:`\sqrt{2K\lambda h(1-\rho)}`.

    Examples
    --------
    Snyder & Shen (2019), Example 3.1 produced at a rate of 2000 per year.

    >>> q, g = economic_production_quantity(8, 0.225, 1300, 2000)
    >>> round(float(q), 2), round(float(g), 2)
    (513.93, 40.47)
    """
    K, h, lam, mu = (_positive(n, v) for n, v in (("fixed_cost", fixed_cost), ("holding_cost", holding_cost),
                                                   ("demand_rate", demand_rate), ("production_rate", production_rate)))
    rho = lam / mu
    if np.any(rho >= 1):
        raise ValidationError(f"production_rate must be > demand_rate, got {float(np.min(mu)):g} <= {float(np.max(lam)):g}")
    return EOQSolution(np.sqrt(2 * K * lam / (h * (1 - rho))), np.sqrt(2 * K * lam * h * (1 - rho)))


# ------------------------------------------------------------------------------ power approximation
def power_approximation(
    holding_cost: Any,
    shortage_cost: Any,
    fixed_cost: Any,
    demand_mean: Any,
    demand_std: Any,
    lead_time: Any = 0,
    *,
    cap_at_base_stock: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The (revised) power approximation of the optimal (s, S) pair (Ehrhardt & Mosier 1984).

    With :math:`\mu, \sigma` the mean and standard deviation of one period's demand and
    :math:`\mu_L = (L+1)\mu`, :math:`\sigma_L^2 = (L+1)\sigma^2` those of the demand over the
    :math:`L + 1` periods an order protects:

    .. math::

        Q_p = 1.30\,\mu^{0.494} (K/h)^{0.506} (1 + \sigma_L^2/\mu^2)^{0.116},\qquad
        z = \sqrt{Q_p h / (\sigma_L p)},

        s_p = 0.973\,\mu_L + \sigma_L\,(0.183/z + 1.063 - 2.192\,z),\qquad S_p = s_p + Q_p.

    Ehrhardt & Mosier use :math:`(s_p, S_p)` when :math:`Q_p/\mu > 1.5`; otherwise they cap both
    at the normal base-stock level :math:`S_0 = \mu_L + \sigma_L\,\Phi^{-1}(p/(p+h))`:
    :math:`s = \min(s_p, S_0)`, :math:`S = \min(S_p, S_0)`. Snyder & Shen (2019, sec. 4.6.3,
    eqs. (4.77)-(4.80)) state the formulas without the cap (``cap_at_base_stock=False``).

    Parameters
    ----------
    holding_cost, shortage_cost : float or array
        [h] and [p] per unit and period, > 0.
    fixed_cost : float or array
        [K] per order, > 0.
    demand_mean, demand_std : float or array
        [mu] > 0 and [sigma] > 0 of one period's demand.
    lead_time : int or array of int, default=0
        [L] in periods.
    cap_at_base_stock : bool, default=True
        Apply Ehrhardt & Mosier's cap when :math:`Q_p / \mu \le 1.5`.

    Returns
    -------
    reorder_point, order_up_to_level : ndarray
        [s] and [S] (real numbers; round them for integer demand).

    Examples
    --------
    Snyder & Shen (2019), Example 4.8: h = 0.18, p = 0.70, K = 2.5, demand N(50, 8^2).

    >>> s, S = power_approximation(0.18, 0.70, 2.5, 50, 8, cap_at_base_stock=False)
    >>> round(float(s), 2), round(float(S), 2)
    (40.19, 74.29)
    """
    from scipy.stats import norm

    h, p, K, mu, sigma = (_positive(n, v) for n, v in (
        ("holding_cost", holding_cost), ("shortage_cost", shortage_cost), ("fixed_cost", fixed_cost),
        ("demand_mean", demand_mean), ("demand_std", demand_std)))
    L, _ = _timing_arrays(lead_time, 1)
    mu_L, sigma_L = (L + 1) * mu, np.sqrt(L + 1) * sigma
    Q = 1.30 * mu**0.494 * (K / h) ** 0.506 * (1 + sigma_L**2 / mu**2) ** 0.116
    z = np.sqrt(Q * h / (sigma_L * p))
    s = 0.973 * mu_L + sigma_L * (0.183 / z + 1.063 - 2.192 * z)
    S = s + Q
    if cap_at_base_stock:
        S0 = mu_L + sigma_L * norm.ppf(p / (p + h))
        small = Q / mu <= 1.5
        s, S = np.where(small, np.minimum(s, S0), s), np.where(small, np.minimum(S, S0), S)
    return np.asarray(s), np.asarray(S)


# ------------------------------------------------------------------------------ exact (s, S) under backorders
def _integer_law(demand: Any, who: str) -> DemandDistribution:
    dist = as_distribution(demand)
    if not getattr(dist, "discrete", False):
        raise ValidationError(f"{who} needs integer demand (Poisson, NegativeBinomial or Discrete), got {type(dist).__name__}")
    return dist


def _review_pmf(dist: DemandDistribution, P: np.ndarray, n: int) -> np.ndarray:
    """pmf of the demand between two reviews D_P, shape (n, K + 1)."""
    law = dist.sum_of(P) if np.any(P != 1) else dist
    pmf = law.truncate().pmf if hasattr(law, "truncate") else law.pmf
    return np.broadcast_to(pmf, (n, pmf.shape[-1]))


def _renewal(pmf: np.ndarray, length: int) -> np.ndarray:
    """Renewal mass m(0..length-1) of each row's demand: the expected number of reviews at which
    the cumulative demand since the order equals j (Zheng & Federgruen 1991, eq. (4))."""
    n, K1 = pmf.shape
    p0 = pmf[:, 0]
    if np.any(p0 >= 1.0 - 1e-12):
        raise ValidationError("demand must be positive with positive probability: P(D = 0) = 1 has no (s, S) cycle")
    m = np.zeros((n, max(length, 1)))
    m[:, 0] = 1.0 / (1.0 - p0)
    for j in range(1, length):
        top = min(j, K1 - 1)
        m[:, j] = np.einsum("nl,nl->n", pmf[:, 1 : top + 1], m[:, j - 1 :: -1][:, :top]) / (1.0 - p0)
    return m


class _Tables(NamedTuple):
    low: np.ndarray  # (n,) the level of column 0 of G
    G: np.ndarray  # (n, W) G(low + k)
    m: np.ndarray  # (n, W) renewal mass
    M: np.ndarray  # (n, W + 1) M(k) = sum_{j<k} m(j)
    K_per_period: np.ndarray  # (n,)


def _tables(h, b, K, dist, L, P, n, low, width) -> _Tables:
    y = low[None, :] + np.arange(width, dtype=np.float64)[:, None]  # (W, n)
    G = np.broadcast_to(base_stock_cost(y, h, b, dist, L, P), (width, n)).T.copy()
    m = _renewal(_review_pmf(dist, P, n), width)
    M = np.concatenate([np.zeros((n, 1)), np.cumsum(m, axis=1)], axis=1)
    return _Tables(low, G, m, M, np.broadcast_to(K / P, (n,)).astype(np.float64))


def _common(holding_cost, shortage_cost, fixed_cost, demand, lead_time, review_period, who):
    dist = _integer_law(demand, who)
    h = _positive("holding_cost", holding_cost)
    b = _positive("shortage_cost", shortage_cost)
    K = _positive("fixed_cost", fixed_cost, allow_zero=True)
    L, P = _timing_arrays(lead_time, review_period)
    n = int(np.prod(np.broadcast_shapes(dist.batch_shape, h.shape, b.shape, K.shape, L.shape, P.shape)))
    shape = np.broadcast_shapes(dist.batch_shape, h.shape, b.shape, K.shape, L.shape, P.shape)
    if len(shape) > 1:
        raise ValidationError(f"{who} takes one value per SKU (1-d), got shape {shape}")
    return dist, h, b, K, L, P, n, shape


def _pair_shape(shape: tuple[int, ...], first: np.ndarray, second: np.ndarray) -> tuple[int, ...]:
    out = np.broadcast_shapes(shape, first.shape, second.shape)
    if len(out) > 1:
        raise ValidationError(f"policy parameters take one value per SKU (1-d), got shape {out}")
    return out


def ss_policy_cost(
    reorder_point: Any,
    order_up_to_level: Any,
    holding_cost: Any,
    shortage_cost: Any,
    fixed_cost: Any,
    demand: Any,
    lead_time: Any = 0,
    review_period: Any = 1,
) -> np.ndarray:
    r"""Exact long-run cost per period of the (s, S) policy under backorders (module docstring).

    Parameters
    ----------
    reorder_point, order_up_to_level : int or array of int
        [s] < [S]: order up to S when the position is at or below s.
    holding_cost, shortage_cost : float or array
        [h] and [b] per unit and period, > 0.
    fixed_cost : float or array
        [K] per order, >= 0.
    demand : Poisson, NegativeBinomial or Discrete
        Integer demand of one period, i.i.d.; one law per SKU (batch).
    lead_time, review_period : int or array of int
        [L] >= 0 and [P] >= 1.

    Returns
    -------
    ndarray
        Cost per period (holding, shortage and fixed ordering cost), one per SKU.

    Examples
    --------
    Snyder & Shen (2019), Example 4.7: h = 1, p = 4, K = 5, Poisson(6) demand; (s, S) = (4, 10).

    >>> from orkit.heuristics import Poisson
    >>> round(float(ss_policy_cost(4, 10, 1, 4, 5, Poisson(6))), 4)
    8.0341
    """
    dist, h, b, K, L, P, n, shape = _common(holding_cost, shortage_cost, fixed_cost, demand, lead_time, review_period,
                                            "ss_policy_cost")
    s, S = np.asarray(reorder_point, dtype=np.float64), np.asarray(order_up_to_level, dtype=np.float64)
    shape = _pair_shape(shape, s, S)
    n = int(np.prod(shape))
    s, S = np.broadcast_to(s, shape).reshape(-1), np.broadcast_to(S, shape).reshape(-1)
    if np.any(s != np.round(s)) or np.any(S != np.round(S)):
        raise ValidationError("reorder_point and order_up_to_level must be integers for integer demand")
    if np.any(S <= s):
        raise ValidationError(f"order_up_to_level must be > reorder_point, got S - s = {float(np.min(S - s)):g}")
    width = int(np.max(S - s))
    t = _tables(h, b, K, dist, L, P, n, S - width + 1, width)
    Q = (S - s).astype(np.int64)
    # sum_{j<Q} m(j) G(S - j): column of S - j is width - 1 - j
    j = np.arange(width)
    terms = t.m * t.G[:, ::-1] * (j[None, :] < Q[:, None])
    cost = (t.K_per_period + terms.sum(axis=1)) / t.M[np.arange(n), Q]
    return cost.reshape(shape)


class SSSolution(NamedTuple):
    """Optimal (s, S) pair and its cost per period, one per SKU."""

    reorder_point: np.ndarray
    order_up_to_level: np.ndarray
    cost: np.ndarray


class _OutOfRange(Exception):
    pass


def _zf_one(t: _Tables, i: int, y_star: int) -> tuple[int, int, float]:
    """The Zheng-Federgruen algorithm for SKU ``i`` on its tables (integers; costs by index)."""
    low, G, m, M, K = int(t.low[i]), t.G[i], t.m[i], t.M[i], float(t.K_per_period[i])
    W = G.size

    def g(y: int) -> float:
        k = y - low
        if not 0 <= k < W:
            raise _OutOfRange
        return float(G[k])

    def c(s: int, S: int) -> float:
        q = S - s
        if q > W or S - low >= W or s - low + 1 < 0:
            raise _OutOfRange
        # G(S), G(S-1), ..., G(s+1)
        seg = G[S - low - q + 1 : S - low + 1][::-1]
        return (K + float(m[:q] @ seg)) / float(M[q])

    # step 0: y* minimises G; find s0 = s(y*): the largest s < y* with c(s, y*) <= G(s)
    S0 = y_star
    s = y_star - 1
    while c(s, S0) > g(s):
        s -= 1
    best_s, best_S, best_c = s, S0, c(s, S0)
    S = S0 + 1
    while g(S) <= best_c:
        if c(s, S) < best_c:
            best_S = S
            while c(s + 1, best_S) <= g(s + 1):
                s += 1
            best_s, best_c = s, c(s, best_S)
        S += 1
    return best_s, best_S, best_c


def zheng_federgruen(
    holding_cost: Any,
    shortage_cost: Any,
    fixed_cost: Any,
    demand: Any,
    lead_time: Any = 0,
    review_period: Any = 1,
) -> SSSolution:
    r"""The optimal (s, S) pair under backorders by the Zheng-Federgruen (1991) algorithm.

    Periodic review, i.i.d. integer demand, backorders, lead time :math:`L` (through the demand
    over :math:`L + 1` periods in :math:`G`) and review period :math:`P` (the renewal step; see
    the module docstring). The algorithm: start at :math:`S^0 = y^*`, the minimiser of
    :math:`G`; lower :math:`s` until :math:`c(s, S^0) \le G(s)`; then for
    :math:`S = S^0 + 1, S^0 + 2, \dots` while :math:`G(S) \le c^*`, accept :math:`S` when
    :math:`c(s, S) < c^*` and raise :math:`s` while :math:`c(s + 1, S) \le G(s + 1)`.

    Parameters
    ----------
    holding_cost, shortage_cost, fixed_cost, demand, lead_time, review_period
        As in :func:`ss_policy_cost` (one value or law per SKU).

    Returns
    -------
    SSSolution
        ``reorder_point`` [s*], ``order_up_to_level`` [S*] and ``cost`` [c(s*, S*)], per SKU.

    Examples
    --------
    Snyder & Shen (2019), Example 4.7: h = 1, p = 4, K = 5, Poisson(6) demand.

    >>> from orkit.heuristics import Poisson
    >>> s, S, c = zheng_federgruen(1, 4, 5, Poisson(6))
    >>> int(s), int(S), round(float(c), 4)
    (4, 10, 8.0341)
    """
    dist, h, b, K, L, P, n, shape = _common(holding_cost, shortage_cost, fixed_cost, demand, lead_time, review_period,
                                            "zheng_federgruen")
    y_star = np.broadcast_to(base_stock_level(h, b, dist, L, P), (n,)).astype(np.int64)
    span = dist.sum_of(L + P)
    std = np.broadcast_to(np.sqrt(span.variance), (n,))
    mean = np.broadcast_to(dist.mean, (n,))
    eoq = np.sqrt(2 * np.broadcast_to(K, (n,)) * np.maximum(mean, 1e-9) / np.broadcast_to(h, (n,)))
    half = int(np.ceil(np.max(2 * eoq + 6 * std + np.broadcast_to(P * mean, (n,))))) + 10
    while True:
        t = _tables(h, b, K, dist, L, P, n, (y_star - half).astype(np.float64), 2 * half + 1)
        try:
            out = np.array([_zf_one(t, i, int(y_star[i])) for i in range(n)], dtype=np.float64).reshape(n, 3)
            break
        except _OutOfRange:
            half *= 2
            if half > 1 << 22:
                raise ValidationError("zheng_federgruen: the optimal pair lies beyond 4 million units of the base-stock level") from None
    parts = [out[:, k].reshape(shape) if shape else out[0, k].reshape(()) for k in range(3)]
    return SSSolution(*parts)


def rq_policy_cost(
    reorder_point: Any,
    quantity: Any,
    holding_cost: Any,
    shortage_cost: Any,
    fixed_cost: Any,
    demand: Any,
    lead_time: Any = 0,
    review_period: Any = 1,
) -> np.ndarray:
    r"""Exact long-run cost per period of the (r, nQ) policy under backorders (module docstring).

    The position after ordering is uniform on :math:`r + 1, \dots, r + Q` (integer demand, r
    and Q); a review orders when the demand since the last one brings the position to r or
    below.

    Parameters
    ----------
    reorder_point : int or array of int
        [r].
    quantity : int or array of int
        [Q] >= 1.
    holding_cost, shortage_cost, fixed_cost, demand, lead_time, review_period
        As in :func:`ss_policy_cost`.

    Examples
    --------
    With Q = 1 the policy is base-stock with level r + 1, ordering whenever demand is positive:

    >>> from orkit.heuristics import Poisson, base_stock_cost
    >>> a = rq_policy_cost(12, 1, 1, 9, 0, Poisson(10))
    >>> bool(abs(a - base_stock_cost(13, 1, 9, Poisson(10))) < 1e-12)
    True
    """
    dist, h, b, K, L, P, n, shape = _common(holding_cost, shortage_cost, fixed_cost, demand, lead_time, review_period,
                                            "rq_policy_cost")
    r, Q = np.asarray(reorder_point, dtype=np.float64), np.asarray(quantity, dtype=np.float64)
    shape = _pair_shape(shape, r, Q)
    n = int(np.prod(shape))
    r, Q = np.broadcast_to(r, shape).reshape(-1), np.broadcast_to(Q, shape).reshape(-1)
    if np.any(r != np.round(r)) or np.any(Q != np.round(Q)) or np.any(Q < 1):
        raise ValidationError(f"reorder_point must be an integer and quantity an integer >= 1, got {r!r}, {Q!r}")
    width = int(np.max(Q))
    k = np.arange(1, width + 1, dtype=np.float64)
    y = r[None, :] + k[:, None]  # (width, n): r+1 .. r+width
    G = np.broadcast_to(base_stock_cost(y, h, b, dist, L, P), (width, n))
    review = dist.sum_of(P) if np.any(P != 1) else dist
    order_prob = 1.0 - np.broadcast_to(review.cdf(k[:, None] - 1), (width, n))  # P(D_P >= y - r)
    inside = k[:, None] <= Q[None, :]
    Kp = np.broadcast_to(K / P, (n,))
    cost = ((G + Kp[None, :] * order_prob) * inside).sum(axis=0) / Q
    return cost.reshape(shape)


# ------------------------------------------------------------------------------ simulation fits
def _fit_pair(
    make: Any,
    names: tuple[str, str],
    data: Any,
    problem: InventoryProblem,
    *,
    per_sku: bool,
    n_candidates: int,
    n_rounds: int,
    integer: bool | None,
    max_elements: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A reorder point in ``[0, largest L + P demand]`` and a quantity in ``[0, largest P demand +
    2 EOQ]`` (EOQ from the mean demand, K and h per SKU) minimising the simulated loss."""
    problem, demand, alive, life = training_inputs(data, problem)
    n = demand.shape[0]
    if integer is None:
        integer = is_integer_valued(demand)
    # the longest lead time bounds the search (with random lead times the simulation draws them)
    L, P = int(problem.max_lead_times(n).max()), int(problem.review_periods(n).max())
    K = problem.fixed_costs(n)
    h = np.maximum(problem.holding_costs(n), 1e-12)
    rate = demand.mean(axis=1) if alive is None else demand.sum(axis=1) / np.maximum(alive.sum(axis=1), 1)
    eoq = np.sqrt(2 * K * rate / h)
    if not per_sku:
        eoq = np.array([eoq.max()])
    point_hi = window_max(demand, protection_interval(L, P), per_sku) + 1.0
    quantity_hi = window_max(demand, review_interval(L, P), per_sku) + 2 * eoq + 1.0
    groups = point_hi.shape[0]
    best, _ = grid_search(
        lambda grid: simulated_losses(make, {names[0]: grid["point"], names[1]: grid["quantity"]}, demand, problem,
                                      per_sku=per_sku, max_elements=max_elements, life=life),
        {"point": np.zeros(groups), "quantity": np.zeros(groups)},
        {"point": point_hi, "quantity": quantity_hi},
        n_candidates=n_candidates,
        n_rounds=n_rounds,
        integer=bool(integer),
    )
    return np.broadcast_to(best["point"], (n,)).copy(), np.broadcast_to(best["quantity"], (n,)).copy()


def optimize_ss_policy(
    data: Any,
    problem: InventoryProblem,
    *,
    per_sku: bool = False,
    n_candidates: int = 9,
    n_rounds: int = 6,
    integer: bool | None = None,
    max_elements: int = 1 << 24,
) -> tuple[np.ndarray, np.ndarray]:
    """Reorder points [s] and order-up-to levels [S] that minimise the simulated training loss.

    The orkit simulator runs every candidate pair on the training trajectories at once (lean
    ledgers, the fixed cost per order of ``problem`` included) and a two-dimensional zooming grid
    (:func:`orkit.heuristics._search.grid_search`) searches :math:`s` in ``[0, largest demand
    over L + P periods]`` and :math:`S - s` in ``[0, largest demand of P periods + 2 EOQ]``
    (EOQ from the mean demand, :math:`K` and :math:`h`); the box moves up when the best pair sits
    on its upper edge. Works for backorders and lost sales, per-SKU lead times, review periods
    and costs, and non-stationary demand. Reorder points below 0 are not searched.

    Parameters
    ----------
    data : Dataset or array of shape (n_skus, n_periods)
    problem : InventoryProblem
    per_sku : bool, default=False
        One pair per SKU (each minimising its own loss) instead of one shared pair.
    n_candidates, n_rounds, integer, max_elements
        As in :func:`~orkit.heuristics.optimize_base_stock_level` (``n_candidates`` per axis).

    Returns
    -------
    reorder_points, order_up_to_levels : ndarray of shape (n_skus,)
    """
    s, gap = _fit_pair(
        lambda reorder_point, gap: SSPolicy(reorder_point, reorder_point + gap), ("reorder_point", "gap"), data, problem,
        per_sku=per_sku, n_candidates=n_candidates, n_rounds=n_rounds, integer=integer, max_elements=max_elements,
    )
    return s, s + gap


def optimize_rq_policy(
    data: Any,
    problem: InventoryProblem,
    *,
    per_sku: bool = False,
    n_candidates: int = 9,
    n_rounds: int = 6,
    integer: bool | None = None,
    max_elements: int = 1 << 24,
) -> tuple[np.ndarray, np.ndarray]:
    """Reorder points [r] and order quantities [Q] that minimise the simulated training loss.

    As :func:`optimize_ss_policy`, with :math:`Q` in place of :math:`S - s` (a zero quantity
    never orders and is never optimal with positive shortage cost).

    Returns
    -------
    reorder_points, quantities : ndarray of shape (n_skus,)
    """
    return _fit_pair(
        RQPolicy, ("reorder_point", "quantity"), data, problem, per_sku=per_sku, n_candidates=n_candidates,
        n_rounds=n_rounds, integer=integer, max_elements=max_elements,
    )


# ------------------------------------------------------------------------------ policies
class _PairPolicy(SimulationFittedPolicy):
    """Two searched parameters, fitted by :func:`_fit_pair` through ``_optimize``."""

    _optimize: Any = None

    def _optimized(self, train: Any, problem: InventoryProblem) -> dict[str, np.ndarray]:
        pair = type(self)._optimize(train, problem, per_sku=bool(self.per_sku), n_candidates=self.n_candidates,
                                    n_rounds=self.n_rounds)
        return dict(zip(self._searched, pair))


class SSPolicy(_PairPolicy):
    """The (s, S) policy: order up to [S] when the inventory position is at or below [s].

    ``q = S - tot(I)`` if ``tot(I) <= s``, else 0. With review period P it is the (R, s, S)
    policy (R = P). See :mod:`orkit.heuristics.fixed_cost` for the exact cost
    (:func:`ss_policy_cost`) and the optimal pair under backorders (:func:`zheng_federgruen`).

    Parameters
    ----------
    reorder_point : float, array of shape (n_skus,), Tensor or None, default=None
        [s]; ``None`` (with ``order_up_to_level=None``) learns both with :meth:`fit`
        (:func:`optimize_ss_policy`).
    order_up_to_level : float, array, Tensor or None, default=None
        [S].
    per_sku : bool, default=False
        When fitting: one pair per SKU instead of one shared pair.
    n_candidates, n_rounds : int
        Search settings of :func:`optimize_ss_policy`.

    Attributes
    ----------
    reorder_point_, order_up_to_level_ : float or ndarray
    per_sku_ : bool
    sku_ids_ : ndarray of str or None
        The training SKUs of a per-SKU fit (see :mod:`orkit.core.policy`).

    Examples
    --------
    >>> import torch
    >>> from orkit.core import Observation
    >>> obs = Observation(period=1, on_hand=torch.zeros(3), inventory_position=torch.tensor([3.0, 4.0, 7.0]))
    >>> SSPolicy(4.0, 10.0).act(obs)
    tensor([7., 6., 0.])
    """

    policy_name = "s-S"
    _saved_attributes = ("reorder_point_", "order_up_to_level_")
    _searched = {
        "reorder_point": SearchedParameter(minimum=None, window=protection_interval),
        "order_up_to_level": SearchedParameter(minimum=None, window=protection_interval),
    }
    _optimize = staticmethod(optimize_ss_policy)

    def __init__(
        self,
        reorder_point: Any = None,
        order_up_to_level: Any = None,
        *,
        per_sku: bool = False,
        n_candidates: int = 9,
        n_rounds: int = 6,
    ) -> None:
        self.reorder_point = reorder_point
        self.order_up_to_level = order_up_to_level
        self.per_sku = per_sku
        self.n_candidates = n_candidates
        self.n_rounds = n_rounds
        self._use_given_values()

    #: ``act`` is a pure tensor expression of the observation: compiled simulations trace it in
    fusable = True

    def _set_values(self, values: dict[str, Any]) -> None:
        super()._set_values(values)
        s, S = (np.asarray(torch.as_tensor(getattr(self, f"_{k}").value).detach().cpu(), dtype=np.float64)
                for k in ("reorder_point", "order_up_to_level"))
        if s.size and S.size and np.any(S < s):
            bad = np.broadcast_to(S - s, np.broadcast_shapes(s.shape, S.shape))
            raise ValidationError(f"order_up_to_level must be >= reorder_point, got S - s = {float(bad.min()):g}")

    def act(self, obs: Observation) -> torch.Tensor:
        x = obs.inventory_position
        s, S = self.in_use(x)
        return torch.where(x <= s, (S - x).clamp(min=0), torch.zeros_like(x))

    def explain(self, obs: Observation) -> dict[str, torch.Tensor]:
        """The reorder point and order-up-to level behind each order (for ``orkit recommend``)."""
        s, S = self.in_use(obs.inventory_position)
        return {"reorder_point": s.expand(obs.n_skus), "target_level": S.expand(obs.n_skus)}


class RQPolicy(_PairPolicy):
    """The (r, nQ) policy: when the position is at or below [r], order the smallest multiple of
    [Q] that lifts it above r: ``q = Q * (floor((r - tot(I)) / Q) + 1)``.

    A quantity of 0 never orders. See :func:`rq_policy_cost` for the exact cost under backorders.

    Parameters
    ----------
    reorder_point : float, array of shape (n_skus,), Tensor or None, default=None
        [r]; ``None`` (with ``quantity=None``) learns both with :meth:`fit`
        (:func:`optimize_rq_policy`).
    quantity : float, array, Tensor or None, default=None
        [Q] >= 0.
    per_sku : bool, default=False
    n_candidates, n_rounds : int
        Search settings of :func:`optimize_rq_policy`.

    Attributes
    ----------
    reorder_point_, quantity_ : float or ndarray
    per_sku_ : bool
    sku_ids_ : ndarray of str or None

    Examples
    --------
    >>> import torch
    >>> from orkit.core import Observation
    >>> obs = Observation(period=1, on_hand=torch.zeros(4), inventory_position=torch.tensor([-3.0, 2.0, 5.0, 6.0]))
    >>> RQPolicy(5.0, 4.0).act(obs)
    tensor([12.,  4.,  4.,  0.])
    """

    policy_name = "r-Q"
    _saved_attributes = ("reorder_point_", "quantity_")
    _searched = {
        "reorder_point": SearchedParameter(minimum=None, window=protection_interval),
        "quantity": SearchedParameter(minimum=0.0, window=review_interval),
    }
    _optimize = staticmethod(optimize_rq_policy)

    def __init__(
        self,
        reorder_point: Any = None,
        quantity: Any = None,
        *,
        per_sku: bool = False,
        n_candidates: int = 9,
        n_rounds: int = 6,
    ) -> None:
        self.reorder_point = reorder_point
        self.quantity = quantity
        self.per_sku = per_sku
        self.n_candidates = n_candidates
        self.n_rounds = n_rounds
        self._use_given_values()

    fusable = True

    def act(self, obs: Observation) -> torch.Tensor:
        x = obs.inventory_position
        r, Q = self.in_use(x)
        positive = Q > 0
        safe = torch.where(positive, Q, torch.ones_like(Q))
        batches = torch.floor((r - x) / safe) + 1
        return torch.where((x <= r) & positive, batches * safe, torch.zeros_like(x))

    def explain(self, obs: Observation) -> dict[str, torch.Tensor]:
        """The reorder point and order quantity behind each order (for ``orkit recommend``)."""
        r, Q = self.in_use(obs.inventory_position)
        return {"reorder_point": r.expand(obs.n_skus), "order_quantity": Q.expand(obs.n_skus)}

