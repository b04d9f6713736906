r"""Heuristics for lost sales: capped base-stock, myopic, myopic-2, vector base-stock, dual balancing.

Under lost sales the optimal policy depends on the whole pipeline, not only on the inventory
position (Karlin & Scarf 1958; Zipkin 2008b), and the exact dynamic program
(:mod:`orkit.heuristics.average_cost_dp`) is only tractable for short lead times. These
heuristics are the standard benchmarks (Zipkin 2008, "Old and new methods for lost-sales
inventory systems", *Oper. Res.* 56(5)):

**Capped base-stock** (Xin 2021, "Understanding the performance of capped base-stock policies
in lost-sales inventory models", *Oper. Res.* 69(1)): :math:`q = \min(\max(S - \mathrm{tot}(I),
0), r)` with level :math:`S` and cap :math:`r`. It interpolates between base-stock
(:math:`r = \infty`) and constant order (:math:`S = \infty`) and is asymptotically optimal in
both regimes. :func:`optimize_capped_base_stock` fits :math:`(S, r)` by simulation.

**Myopic** (Zipkin 2008, sec. 3, "myopic policy"; Morton 1971): choose the order that minimises
the expected holding and lost-sales cost of the periods it is the last order to arrive for,
ignoring every later decision. Precisely, with on-hand :math:`x_0` after today's arrivals and
pipeline :math:`a_1, \dots, a_L` (:math:`a_k` arrives in :math:`k` periods), the projected
on-hand at the start of period :math:`t + L`, before the new order, is

.. math::

    X = x_L,\qquad x_k = (x_{k-1} - d_{t+k-1})^+ + a_k,\quad k = 1..L,

(no :math:`(\cdot)^+` under backorders) and the myopic order is

.. math::

    q^* = \arg\min_{q \ge 0}\; E\Big[\sum_{j=0}^{P-1} c(y_j)\Big],\quad y_0 = X + q,\;
    y_{j+1} = (y_j - d)^+,\quad c(y) = h\,E[(y - d)^+] + b\,E[(d - y)^+],

the cost of the :math:`P` periods :math:`t+L, \dots, t+L+P-1` before the next order arrives.
For :math:`P = 1` this is Zipkin's myopic policy (the order minimises the expected cost of
period :math:`t + L`). Under backorders it reduces to base-stock with the level of
:func:`~orkit.heuristics.base_stock_level`. Demand is i.i.d. with a known (or empirical) integer
pmf; states are rounded to integers.

**Myopic-2** (Zipkin 2008; :func:`myopic2_order`): the cost of periods :math:`t + L` and
:math:`t + L + 1`, the next order chosen myopically one period later.

**Vector base-stock** (Zipkin 2008, after Morton's bound; :func:`vector_base_stock_order`):
:math:`q = \min_l (s_l - v_l)^+` over the partial sums :math:`v_l` of the stock arriving from
:math:`t + l` on; standard levels :func:`standard_vector_base_stock_levels`, better levels by a
search of their fractile (:class:`BetterVectorBaseStockPolicy`).

**Dual balancing** (Levi, Janakiraman & Nagarajan 2008, *Math. Oper. Res.* 33(2);
:func:`dual_balancing_order`): the order whose marginal holding cost over its life balances its
marginal lost-sales cost in period :math:`t + L`.

The policies built on a pmf (:class:`MyopicPolicy`, :class:`Myopic2Policy`,
:class:`DualBalancingPolicy`) remember the order of every integer state they have seen. Formulas
and the test bed: docs/heuristics.md, docs/results/lost-sales.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import Observation, check_is_fitted
from orkit.core.skus import check_sku_count, sku_ids_of
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_float, check_int
from orkit.heuristics._search import (
    SearchedParameter,
    SimulationFittedPolicy,
    fit_by_simulation,
    protection_interval,
    review_interval,
)
from orkit.heuristics._training import lived_demand, pooled_lived_pmf, scalar_timing, shared_costs, sku_lives
from orkit.heuristics.base_stock import base_stock_level
from orkit.heuristics.distributions import DemandDistribution, Discrete
from orkit.heuristics.newsvendor import newsvendor_cost

__all__ = [
    "CappedBaseStockPolicy",
    "optimize_capped_base_stock",
    "MyopicPolicy",
    "myopic_order",
    "Myopic2Policy",
    "myopic2_order",
    "VectorBaseStockPolicy",
    "BetterVectorBaseStockPolicy",
    "vector_base_stock_order",
    "standard_vector_base_stock_levels",
    "DualBalancingPolicy",
    "dual_balancing_order",
]


# ------------------------------------------------------------------------------ capped base-stock
def optimize_capped_base_stock(
    data: Any,
    problem: InventoryProblem,
    *,
    per_sku: bool = False,
    n_candidates: int = 9,
    n_rounds: int = 6,
    integer: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Level [S] and cap [r] that minimise the simulated training loss, one pair per SKU.

    A two-dimensional zooming grid (``n_candidates ** 2`` pairs per round, all simulated in one
    batch; see :func:`~orkit.heuristics.optimize_base_stock_level`). The level spans
    ``[0, largest demand over L + P periods]`` and the cap ``[0, largest demand of one review
    period]``; the box moves up when the best pair sits on its upper edge.

    Returns
    -------
    levels, caps : ndarray of shape (n_skus,)
    """
    best = fit_by_simulation(
        CappedBaseStockPolicy, data, problem, per_sku=per_sku, n_candidates=n_candidates, n_rounds=n_rounds,
        integer=integer,
    )
    return best["level"], best["cap"]


class CappedBaseStockPolicy(SimulationFittedPolicy):
    """Base-stock with an order cap: ``q = min(max(S - tot(I), 0), r)`` (Xin 2021).

    Parameters
    ----------
    level : float, array, Tensor or None, default=None
        Order-up-to level [S]; ``None`` (with ``cap=None``) learns both with :meth:`fit`.
    cap : float, array, Tensor or None, default=None
        Largest order [r] >= 0.
    per_sku : bool, default=False
        When fitting: one (S, r) pair per SKU instead of one shared pair.
    n_candidates, n_rounds : int
        Search settings of :func:`optimize_capped_base_stock`.

    Attributes
    ----------
    level_, cap_ : float or ndarray
    per_sku_ : bool
        Whether ``level_`` and ``cap_`` hold one value per SKU.
    sku_ids_ : ndarray of str or None
        The training SKUs of a per-SKU fit, in the order of ``level_`` (see
        :mod:`orkit.core.policy`).

    Examples
    --------
    >>> import torch
    >>> from orkit.core import Observation
    >>> obs = Observation(period=1, on_hand=torch.zeros(3), inventory_position=torch.tensor([0.0, 7.0, 12.0]))
    >>> CappedBaseStockPolicy(10.0, 4.0).act(obs)
    tensor([4., 3., 0.])
    """

    policy_name = "capped-base-stock"
    _saved_attributes = ("level_", "cap_")
    _searched = {
        "level": SearchedParameter(minimum=None, window=protection_interval),
        "cap": SearchedParameter(minimum=0.0, window=review_interval),
    }

    def __init__(
        self, level: Any = None, cap: Any = None, *, per_sku: bool = False, n_candidates: int = 9, n_rounds: int = 6
    ) -> None:
        self.level = level
        self.cap = cap
        self.per_sku = per_sku
        self.n_candidates = n_candidates
        self.n_rounds = n_rounds
        self._use_given_values()

    #: ``act`` is a pure tensor expression of the observation: compiled simulations trace it in
    fusable = True

    def act(self, obs: Observation) -> torch.Tensor:
        ip = obs.inventory_position
        level, cap = self.in_use(ip)
        return torch.minimum(torch.clamp(level - ip, min=0), cap)


# ------------------------------------------------------------------------------ myopic
def _pmf_tensor(demand_pmf: Any, like: torch.Tensor) -> torch.Tensor:
    if isinstance(demand_pmf, DemandDistribution):
        demand_pmf = demand_pmf.truncate().pmf if hasattr(demand_pmf, "truncate") else None
        if demand_pmf is None:
            raise ValidationError("demand_pmf must be a pmf array or a discrete distribution")
    pmf = torch.as_tensor(np.asarray(Discrete(demand_pmf).pmf), dtype=torch.float64, device=like.device)
    return pmf if pmf.ndim == 2 else pmf.unsqueeze(0)


def _period_cost(pmf: torch.Tensor, size: int, h: float, b: float) -> torch.Tensor:
    """c(y) = h E[(y - d)^+] + b E[(d - y)^+] for y = 0..size-1 (the newsvendor cost), shape (n, size)."""
    y = np.arange(size, dtype=np.float64)
    cost = newsvendor_cost(y, h, b, Discrete(pmf.cpu().numpy()[:, None, :]))
    return torch.as_tensor(cost, dtype=pmf.dtype, device=pmf.device)


def _cover_cost(pmf: torch.Tensor, size: int, h: float, b: float, periods: int, lost_sales: bool) -> torch.Tensor:
    """V_P(y): expected cost of ``periods`` periods from on-hand y with no arrivals, y = 0..size-1."""
    c = _period_cost(pmf, size, h, b)
    V = c.clone()
    K = pmf.shape[1] - 1
    for _ in range(periods - 1):
        # E[V((y - d)^+)]: pad V on the left with V(0) so index y - d < 0 reads V(0)
        padded = torch.cat([V[:, :1].expand(-1, K), V], dim=1)
        nxt = torch.zeros_like(V)
        for dd in range(K + 1):
            nxt += pmf[:, dd : dd + 1] * padded[:, K - dd : K - dd + size]
        V = c + nxt
    return V


def myopic_order(
    on_hand: Any,
    pipeline: Any,
    demand_pmf: Any,
    *,
    holding_cost: float,
    shortage_cost: float,
    lead_time: int,
    review_period: int = 1,
    lost_sales: bool = True,
) -> torch.Tensor:
    r"""The myopic order of every SKU (module docstring), by exact enumeration on integer states.

    Parameters
    ----------
    on_hand : Tensor or array of shape (n_skus,)
        On-hand inventory after today's arrivals [x_0] (rounded; clipped at 0 under lost sales).
    pipeline : Tensor or array of shape (n_skus, >= L)
        ``pipeline[:, k]`` arrives in ``k + 1`` periods [a_{k+1}]; only the first ``L`` columns
        are used.
    demand_pmf : array of shape (K + 1,) or (n_skus, K + 1), or a discrete DemandDistribution
        Per-period demand pmf on ``0..K`` (one for all SKUs, or one per SKU).
    holding_cost, shortage_cost : float
        [h] and [b].
    lead_time : int
        [L] >= 0.
    review_period : int, default=1
        [P]: the order covers periods ``t + L .. t + L + P - 1``.
    lost_sales : bool, default=True

    Returns
    -------
    Tensor of shape (n_skus,)
        Integer orders (float dtype of ``on_hand`` when it is a float tensor).

    Examples
    --------
    With no lead time and P = 1 the myopic order is the newsvendor order up to the critical
    ratio quantile (here Poisson(5), b/(b+h) = 0.8, quantile 7):

    >>> import torch
    >>> from orkit.heuristics import Poisson
    >>> myopic_order(torch.tensor([0.0, 3.0, 9.0]), torch.zeros(3, 0), Poisson(5.0), holding_cost=1.0,
    ...              shortage_cost=4.0, lead_time=0)
    tensor([7., 4., 0.])
    """
    L = check_int("lead_time", lead_time, minimum=0)
    P = check_int("review_period", review_period, minimum=1)
    h = check_float("holding_cost", holding_cost, minimum=0)
    b = check_float("shortage_cost", shortage_cost, minimum=0)
    on_hand_t = torch.as_tensor(on_hand)
    out_dtype = on_hand_t.dtype if on_hand_t.is_floating_point() else torch.float32
    x0 = torch.round(on_hand_t.to(torch.float64))
    n = x0.shape[0]
    pipe = torch.as_tensor(pipeline, device=x0.device).to(torch.float64).reshape(n, -1)
    if pipe.shape[1] < L:
        pipe = torch.nn.functional.pad(pipe, (0, L - pipe.shape[1]))
    pipe = torch.round(pipe[:, :L]).clamp(min=0)
    pmf = _pmf_tensor(demand_pmf, x0)
    K = pmf.shape[1] - 1
    if not lost_sales:
        level = base_stock_level(h, b, Discrete(pmf.cpu().numpy()), L, P)
        level_t = torch.as_tensor(np.asarray(level), dtype=torch.float64, device=x0.device)
        return torch.clamp(level_t - x0 - pipe.sum(1), min=0).to(out_dtype)
    x0 = x0.clamp(min=0).long()
    pipe_l = pipe.long()
    G = int((x0 + pipe_l.sum(1)).max().item()) + 1 if n else 1
    q_max = P * K  # ordering more than the demand of the covered periods only adds holding cost
    V = _cover_cost(pmf, G + q_max, h, b, P, lost_sales=True).expand(n, -1)
    pmf = pmf.expand(n, K + 1)
    # distribution of the projected on-hand X at the start of t + L (before the new order)
    dist = torch.zeros(n, G, dtype=torch.float64, device=x0.device)
    dist[torch.arange(n), x0] = 1.0
    tail = torch.flip(torch.cumsum(torch.flip(pmf, [1]), 1), [1])  # tail[:, x] = P(D >= x)
    tail = torch.nn.functional.pad(tail, (0, max(0, G - tail.shape[1])))[:, :G]
    grid = torch.arange(G, device=x0.device)
    for k in range(L):
        nxt = torch.zeros_like(dist)
        for dd in range(min(K, G - 1) + 1):
            nxt[:, 1 : G - dd] += pmf[:, dd : dd + 1] * dist[:, 1 + dd : G]
        nxt[:, 0] = (dist * tail).sum(1)
        shift = pipe_l[:, k : k + 1]
        src = grid[None, :] - shift
        dist = torch.gather(nxt, 1, src.clamp(min=0)) * (src >= 0)
    cost = torch.stack([(dist * V[:, q : q + G]).sum(1) for q in range(q_max + 1)], dim=1)
    return torch.argmin(cost, dim=1).to(out_dtype)


class MyopicPolicy(SavablePolicy):
    """Zipkin's myopic policy (module docstring) with an i.i.d. integer demand pmf.

    Parameters
    ----------
    demand_pmf : array of shape (K + 1,) or (n_skus, K + 1), discrete DemandDistribution, or None
        Per-period demand pmf. ``None``: the empirical pmf of the training demand (rounded to
        integers), pooled over SKUs (or per SKU with ``per_sku=True``).
    per_sku : bool, default=False

    Attributes
    ----------
    demand_pmf_ : ndarray of shape (1 or n_skus, K + 1)
    lead_time_, review_period_ : int
    holding_cost_, shortage_cost_ : float
    lost_sales_ : bool
        The problem the policy was fitted for.
    per_sku_ : bool
        Whether ``demand_pmf_`` holds one pmf per SKU (fitted with ``per_sku=True``, or a given
        pmf of several rows).
    sku_ids_ : ndarray of str or None
        The training SKUs of a per-SKU fit, in the order of the rows of ``demand_pmf_`` (see
        :mod:`orkit.core.policy`).
    """

    policy_name = "myopic"
    _saved_attributes = ("demand_pmf_", "lead_time_", "review_period_", "holding_cost_", "shortage_cost_",
                         "lost_sales_")

    def __init__(self, demand_pmf: Any = None, *, per_sku: bool = False) -> None:
        self.demand_pmf = demand_pmf
        self.per_sku = per_sku

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "MyopicPolicy":
        problem = shared_costs(problem.for_data(train), "MyopicPolicy", "its cost terms are scalars")
        L, P = scalar_timing(problem, "MyopicPolicy")
        if self.demand_pmf is not None:
            pmf = _pmf_tensor(self.demand_pmf, torch.zeros(1)).numpy()
            self.per_sku_, self.sku_ids_ = pmf.shape[0] > 1, None
        else:
            demand, alive = lived_demand(train)  # each SKU's lived periods only (a mask, not zeros)
            demand = np.round(demand)
            samples = demand if self.per_sku else demand.reshape(1, -1)
            if alive is None:
                pmf = Discrete.from_samples(samples, axis=-1).pmf
            else:
                if self.per_sku and not alive.any(axis=1).all():
                    raise ValidationError("MyopicPolicy(per_sku=True) needs a lived training period for every SKU")
                weights = alive if self.per_sku else alive.reshape(1, -1)
                pmf = Discrete.from_samples(samples, axis=-1, weights=weights.astype(np.float64)).pmf
            self.per_sku_ = bool(self.per_sku)
            self.sku_ids_ = sku_ids_of(train) if self.per_sku else None
        self.demand_pmf_ = pmf
        self.lead_time_, self.review_period_ = L, P
        self.holding_cost_, self.shortage_cost_ = problem.holding_cost, problem.shortage_cost
        self.lost_sales_ = problem.lost_sales
        self.__dict__.pop("_order_cache", None)
        return self

    def _saved_parameters(self) -> dict[str, Any]:
        params = super()._saved_parameters()
        if isinstance(params["demand_pmf"], DemandDistribution):  # saved as the pmf it stands for
            params["demand_pmf"] = _pmf_tensor(params["demand_pmf"], torch.zeros(1)).numpy()
        return params

    def _restore_state(self, state: dict[str, Any]) -> None:
        super()._restore_state(state)
        pmf = np.asarray(self.demand_pmf_, dtype=np.float64)
        if pmf.ndim != 2:
            raise ValidationError(f"demand_pmf_ must have shape (1 or n_skus, K + 1), got {pmf.shape}")
        Discrete(pmf)  # non-negative, positive mass in every row
        check_sku_count("demand_pmf_", pmf, self.sku_ids_)
        self.lead_time_ = check_int("lead_time_", self.lead_time_, minimum=0)
        self.review_period_ = check_int("review_period_", self.review_period_, minimum=1)
        self.holding_cost_ = check_float("holding_cost_", self.holding_cost_, minimum=0)
        self.shortage_cost_ = check_float("shortage_cost_", self.shortage_cost_, minimum=0)
        if not isinstance(self.lost_sales_, bool):
            raise ValidationError(f"lost_sales_ must be True or False, got {self.lost_sales_!r}")
        self.__dict__.pop("_order_cache", None)

    #: orders remembered per integer state (and pmf row): a state seen before costs a lookup
    _max_cached_states = 1_000_000

    def _orders(self, on_hand: torch.Tensor, pipeline: torch.Tensor, pmf: np.ndarray) -> torch.Tensor:
        """The policy's order in integer states (float64 tensors), pmf rows matching the states."""
        return myopic_order(
            on_hand,
            pipeline,
            pmf,
            holding_cost=self.holding_cost_,
            shortage_cost=self.shortage_cost_,
            lead_time=self.lead_time_,
            review_period=self.review_period_,
            lost_sales=self.lost_sales_,
        )

    def act(self, obs: Observation) -> torch.Tensor:
        """Orders of every SKU, computed once per distinct integer state and remembered.

        The state is rounded to integers (on-hand, and the first ``L`` pipeline slots) exactly
        as the order functions round it, so a remembered order equals a recomputed one.
        """
        check_is_fitted(self, ("demand_pmf_",))
        L = self.lead_time_
        n = obs.on_hand.shape[0]
        x0 = torch.round(obs.on_hand.detach().to(torch.float64).cpu())
        if self.lost_sales_:
            x0 = x0.clamp(min=0)
        pipe = obs.pipeline.detach().to(torch.float64).cpu().reshape(n, -1)
        if pipe.shape[1] < L:
            pipe = torch.nn.functional.pad(pipe, (0, L - pipe.shape[1]))
        pipe = torch.round(pipe[:, :L]).clamp(min=0)
        pmf = np.asarray(self.demand_pmf_, dtype=np.float64)
        row = torch.arange(n, dtype=torch.float64)[:, None] if pmf.shape[0] > 1 else torch.zeros(n, 1, dtype=torch.float64)
        state = np.ascontiguousarray(torch.cat([row, x0[:, None], pipe], dim=1).numpy().astype(np.int64))
        # distinct rows as raw bytes (a 1-d sort, much faster than torch.unique(dim=0))
        packed = state.view(np.dtype((np.void, state.dtype.itemsize * state.shape[1]))).ravel()
        unique, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
        cache = self.__dict__.setdefault("_order_cache", {})
        keys = [u.tobytes() for u in unique]
        missing = [i for i, k in enumerate(keys) if k not in cache]
        if missing:
            if len(cache) + len(missing) > self._max_cached_states:
                cache.clear()
            m = torch.as_tensor(state[first[missing]], dtype=torch.float64)
            rows = m[:, 0].long().numpy()
            computed = self._orders(m[:, 1], m[:, 2:], pmf[rows] if pmf.shape[0] > 1 else pmf)
            for i, q in zip(missing, computed.tolist()):
                cache[keys[i]] = q
        orders = torch.as_tensor(np.array([cache[k] for k in keys], dtype=np.float64)[inverse.reshape(-1)])
        return orders.to(device=obs.on_hand.device, dtype=obs.on_hand.dtype)


# ------------------------------------------------------------------------------ shared integer-state tools
def _integer_state(on_hand: Any, pipeline: Any, lead_time: int) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    """``(x0, pipe, out_dtype)``: on-hand (clipped at 0) and the first ``L`` pipeline slots as int64."""
    on_hand_t = torch.as_tensor(on_hand)
    out_dtype = on_hand_t.dtype if on_hand_t.is_floating_point() else torch.float32
    x0 = torch.round(on_hand_t.to(torch.float64)).clamp(min=0)
    n = x0.shape[0]
    pipe = torch.as_tensor(pipeline, device=x0.device).to(torch.float64).reshape(n, -1)
    if pipe.shape[1] < lead_time:
        pipe = torch.nn.functional.pad(pipe, (0, lead_time - pipe.shape[1]))
    pipe = torch.round(pipe[:, :lead_time]).clamp(min=0)
    return x0.long(), pipe.long(), out_dtype


def _project(start: torch.Tensor, pipe: torch.Tensor, pmf: torch.Tensor, G: int) -> torch.Tensor:
    """Law of the on-hand after ``pipe.shape[1]`` periods of lost-sales demand and arrivals.

    ``start`` (m,) is the on-hand now, ``pipe`` (m, k) the arrivals after each period, ``pmf``
    (m or 1, K + 1); no position exceeds ``G - 1``. Returns (m, G).
    """
    m, K = start.shape[0], pmf.shape[1] - 1
    pmf = pmf.expand(m, K + 1)
    dist = torch.zeros(m, G, dtype=torch.float64, device=start.device)
    dist[torch.arange(m, device=start.device), start] = 1.0
    tail = torch.flip(torch.cumsum(torch.flip(pmf, [1]), 1), [1])  # tail[:, x] = P(D >= x)
    tail = torch.nn.functional.pad(tail, (0, max(0, G - tail.shape[1])))[:, :G]
    grid = torch.arange(G, device=start.device)
    for k in range(pipe.shape[1]):
        nxt = torch.zeros_like(dist)
        for dd in range(min(K, G - 1) + 1):
            nxt[:, 1 : G - dd] += pmf[:, dd : dd + 1] * dist[:, 1 + dd : G]
        nxt[:, 0] = (dist * tail).sum(1)
        src = grid[None, :] - pipe[:, k : k + 1]
        dist = torch.gather(nxt, 1, src.clamp(min=0)) * (src >= 0)
    return dist


def _windows(table: torch.Tensor, width: int, count: int) -> torch.Tensor:
    """``out[..., q, x] = table[..., x + q]`` for ``q < count``, ``x < width`` (a strided view)."""
    need = width + count - 1
    if table.shape[-1] < need:
        table = torch.cat([table, table[..., -1:].expand(*table.shape[:-1], need - table.shape[-1])], dim=-1)
    return table[..., :need].unfold(-1, width, 1)


def _critical_fractile(h: float, b: float) -> float:
    return b / (b + h)


# ------------------------------------------------------------------------------ myopic-2
def myopic2_order(
    on_hand: Any,
    pipeline: Any,
    demand_pmf: Any,
    *,
    holding_cost: float,
    shortage_cost: float,
    lead_time: int,
    chunk: int = 64,
) -> torch.Tensor:
    r"""The two-period myopic order (Zipkin 2008, "myopic2") of every SKU, lost sales.

    With :math:`X` the projected on-hand at the start of period :math:`t + L` before the new
    order arrives (module docstring), :math:`c` the expected cost of one period from on-hand
    :math:`y`, and :math:`X'` the on-hand at the start of :math:`t + L + 1` before the *next*
    order arrives, the order minimises

    .. math::

        E\,c(X + q) + E_{d_t}\Big[\min_{q' \ge 0} E\big[c(X' + q') \,\big|\, d_t\big]\Big],
        \qquad X' = (X + q - d_{t+L})^+,

    i.e. the cost of the period the order arrives in plus that of the next period, where the
    next order :math:`q'` is chosen myopically one period later, knowing today's demand. This
    differs from ``myopic_order(review_period=2)``, which covers the two periods with today's
    order alone (next order zero). States are rounded to integers; exact enumeration.

    Parameters
    ----------
    on_hand, pipeline, demand_pmf, holding_cost, shortage_cost
        As in :func:`myopic_order`.
    lead_time : int
        [L] >= 1 (with L = 0 the one-period myopic order is used: the next order then arrives
        before the next demand, so the second period adds nothing the next decision cannot fix).
    chunk : int, default=64
        SKUs per batch of the enumeration (memory: about ``chunk * K * Q * y*`` doubles).

    Returns
    -------
    Tensor of shape (n_skus,)

    Examples
    --------
    >>> import torch
    >>> from orkit.heuristics import Poisson
    >>> myopic2_order(torch.tensor([0.0, 6.0]), torch.zeros(2, 1), Poisson(5.0), holding_cost=1.0,
    ...               shortage_cost=4.0, lead_time=1)
    tensor([6., 5.])
    """
    L = check_int("lead_time", lead_time, minimum=0)
    h = check_float("holding_cost", holding_cost, minimum=0)
    b = check_float("shortage_cost", shortage_cost, minimum=0)
    chunk = check_int("chunk", chunk, minimum=1)
    if L == 0:
        return myopic_order(on_hand, pipeline, demand_pmf, holding_cost=h, shortage_cost=b, lead_time=0)
    x0, pipe, out_dtype = _integer_state(on_hand, pipeline, L)
    n = x0.shape[0]
    pmf_all = _pmf_tensor(demand_pmf, x0.to(torch.float64))
    if n == 0:
        return torch.zeros(0, dtype=out_dtype)
    out = torch.empty(n, dtype=torch.float64, device=x0.device)
    per_row = pmf_all.shape[0] > 1
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        pmf = pmf_all[lo:hi] if per_row else pmf_all
        out[lo:hi] = _myopic2_chunk(x0[lo:hi], pipe[lo:hi], pmf, h, b)
    return out.to(out_dtype)


def _myopic2_chunk(x0: torch.Tensor, pipe: torch.Tensor, pmf: torch.Tensor, h: float, b: float) -> torch.Tensor:
    m = x0.shape[0]
    K = pmf.shape[1] - 1
    law = Discrete(pmf.cpu().numpy())
    y_star = int(np.max(law.ppf(_critical_fractile(h, b))))  # c is convex with minimum at y*: q' <= y*
    Q = int(np.max(law.sum_of(2).ppf(1.0 - 1e-9))) + 1  # more than two periods' demand only adds holding
    J = int(x0.max().item()) + 1  # today's demand d leaves (x0 - d)^+ in 0..x0
    G = J + int(pipe.sum(1).max().item())  # rows j > x0 have weight 0 but must fit
    # start of t + 1 for each value j of (x0 - d)^+: on-hand j + a_1, then a_2..a_L arrive
    j = torch.arange(J, device=x0.device)
    starts = (j[None, :] + pipe[:, :1]).reshape(-1)
    rest = pipe[:, 1:].repeat_interleave(J, dim=0)
    rows_pmf = pmf.repeat_interleave(J, dim=0) if pmf.shape[0] > 1 else pmf
    cond = _project(starts, rest, rows_pmf, G).reshape(m, J, G)  # law of X given (x0 - d)^+ = j
    # weight of j: P(d = x0 - j) for 0 < j <= x0, P(d >= x0) for j = 0
    pm = pmf.expand(m, K + 1)
    idx = (x0[:, None] - j[None, :])
    w = torch.where((idx >= 0) & (idx <= K), torch.gather(pm, 1, idx.clamp(0, K)), torch.zeros((), dtype=pm.dtype))
    tail = torch.flip(torch.cumsum(torch.flip(pm, [1]), 1), [1])
    w[:, 0] = torch.where(x0 <= K, torch.gather(tail, 1, x0.clamp(max=K)[:, None])[:, 0], torch.zeros((), dtype=pm.dtype))
    w = w * (j[None, :] <= x0[:, None])
    dist = (w[:, :, None] * cond).sum(1)  # law of X
    size = G + Q + y_star + 1
    c = _period_cost(pmf, size, h, b)  # (m or 1, size): c(y)
    # phi[y, q'] = E_D c((y - D)^+ + q'), y = 0..G+Q-1
    ycols = G + Q
    cq = _windows(c, ycols, y_star + 1)  # [.., q', y] = c(y + q')
    step = torch.zeros(pmf.shape[0], y_star + 1, ycols, dtype=torch.float64, device=x0.device)
    for d in range(K + 1):
        src = (torch.arange(ycols, device=x0.device) - d).clamp(min=0)
        step += pmf[:, d, None, None] * cq[..., src]
    phi = step.transpose(1, 2)  # (m or 1, y, q')
    # second term: sum_j w_j min_q' sum_x cond[j, x] phi[x + q, q']
    phi_w = _windows(phi.transpose(1, 2), G, Q)  # (m or 1, q', q, x)
    second = torch.einsum("mjx,mpqx->mjqp", cond, phi_w.expand(m, -1, -1, -1)).amin(dim=3)
    second = (w[:, :, None] * second).sum(1)  # (m, Q)
    first = torch.einsum("mx,mqx->mq", dist, _windows(c, G, Q).expand(m, -1, -1))
    total = first + second
    best = total.min(dim=1, keepdim=True).values
    ties = total <= best + 1e-12 * (1.0 + best.abs())
    return torch.argmax(ties.to(torch.int8), dim=1).to(torch.float64)  # the smallest minimiser


# ------------------------------------------------------------------------------ vector base-stock
def vector_base_stock_order(on_hand: Any, pipeline: Any, levels: Any) -> torch.Tensor:
    r"""The vector base-stock order :math:`q = \min_{l = 0..L} (s_l - v_l)^+` of every SKU.

    :math:`v_l = \sum_{k=l}^{L} a_k` with :math:`a_0` the on-hand and :math:`a_k` the units
    arriving in :math:`k` periods (``pipeline[:, k - 1]``; the slot arriving in :math:`L` periods
    is empty before ordering): :math:`v_0` is the inventory position, :math:`v_l` what arrives
    from period :math:`t + l` on. Level :math:`s_0` is a base-stock level on the position; the
    levels :math:`s_l` for :math:`l \ge 1` cap the recent orders, and :math:`s_L` caps the order
    itself (capped base-stock is the case :math:`s_1 = \dots = s_{L-1} = \infty`). A pure tensor
    expression (no rounding).

    Parameters
    ----------
    on_hand : Tensor of shape (n_skus,)
    pipeline : Tensor of shape (n_skus, >= L)
    levels : array or Tensor of shape (L + 1,) or (n_skus, L + 1)
        :math:`s_0, \dots, s_L`.

    Examples
    --------
    >>> import torch
    >>> vector_base_stock_order(torch.tensor([2.0, 9.0]), torch.tensor([[8.0, 0.0], [0.0, 0.0]]), [20.0, 12.0, 7.0])
    tensor([4., 7.])
    """
    x0 = torch.as_tensor(on_hand)
    x0 = x0 if x0.is_floating_point() else x0.to(torch.float32)
    s = torch.as_tensor(levels, dtype=x0.dtype, device=x0.device)
    if s.ndim not in (1, 2) or s.shape[-1] < 1:
        raise ValidationError(f"levels must have shape (L + 1,) or (n_skus, L + 1), got {tuple(s.shape)}")
    L = s.shape[-1] - 1
    n = x0.shape[0]
    pipe = torch.as_tensor(pipeline, dtype=x0.dtype, device=x0.device).reshape(n, -1)
    if pipe.shape[1] < L:
        pipe = torch.nn.functional.pad(pipe, (0, L - pipe.shape[1]))
    a = torch.cat([x0[:, None], pipe[:, :L]], dim=1)  # a_0..a_L
    v = torch.flip(torch.cumsum(torch.flip(a, [1]), 1), [1])  # v_l = a_l + ... + a_L
    return torch.clamp(s - v, min=0).amin(dim=1)


def standard_vector_base_stock_levels(demand_pmf: Any, *, holding_cost: float, shortage_cost: float,
                                      lead_time: int, ratio: float | None = None) -> np.ndarray:
    r"""Levels :math:`s_l = F_{L - l + 1}^{-1}(\rho)`, ``l = 0..L``: the backorder base-stock level
    of the :math:`L - l + 1` periods the stock arriving from :math:`t + l` on must cover.

    With :math:`\rho = b / (b + h)` (the default) these are the *standard* vector base-stock
    levels (Zipkin 2008, following Morton's bound: :math:`s_0` is the backorder base-stock level,
    which bounds the optimal lost-sales order). Another ``ratio`` gives the one-parameter family
    that :class:`VectorBaseStockPolicy` searches for its *better* levels.

    Returns
    -------
    ndarray of shape (L + 1,) or (n_skus, L + 1)
    """
    L = check_int("lead_time", lead_time, minimum=0)
    h = check_float("holding_cost", holding_cost, minimum=0)
    b = check_float("shortage_cost", shortage_cost, minimum=0)
    rho = _critical_fractile(h, b) if ratio is None else check_float("ratio", ratio, minimum=0, strict_minimum=True, maximum=1)
    if rho >= 1.0:
        raise ValidationError(f"ratio must be < 1, got {rho}")
    law = Discrete(_pmf_tensor(demand_pmf, torch.zeros(1)).numpy())
    periods = np.arange(L + 1, 0, -1)  # L + 1 - l for l = 0..L
    levels = np.stack([np.asarray(law.sum_of(int(k)).ppf(rho), dtype=np.float64) for k in periods], axis=-1)
    return levels[0] if levels.shape[0] == 1 else levels


# ------------------------------------------------------------------------------ dual balancing
def _future_holding(pmf: torch.Tensor, size: int) -> torch.Tensor:
    r"""W(y) = sum_{k >= 1} E[(y - D_1 - ... - D_k)^+]: the holding units of all future periods from
    on-hand y with no more arrivals (lost sales), y = 0..size-1, shape (m, size)."""
    m, K = pmf.shape[0], pmf.shape[1] - 1
    if torch.any(pmf[:, 0] >= 1.0):
        raise ValidationError("demand must be positive with positive probability for dual balancing")
    W = torch.zeros(m, size, dtype=torch.float64, device=pmf.device)
    d = torch.arange(K + 1, device=pmf.device)
    for y in range(1, size):
        rest = (y - d).clamp(min=0)
        later = (pmf[:, 1:] * ((y - d[1:]).clamp(min=0).to(torch.float64) + W[:, rest[1:]])).sum(1)
        W[:, y] = (pmf[:, 0] * y + later) / (1.0 - pmf[:, 0])
    return W


def dual_balancing_order(
    on_hand: Any,
    pipeline: Any,
    demand_pmf: Any,
    *,
    holding_cost: float,
    shortage_cost: float,
    lead_time: int,
) -> torch.Tensor:
    r"""The dual-balancing order (Levi, Janakiraman & Nagarajan 2008) of every SKU, lost sales.

    The order balances its two marginal costs. With :math:`X` the projected on-hand at the
    start of :math:`t + L` before the order arrives (module docstring):

    - marginal lost-sales cost, the expected lost sales of period :math:`t + L`, the only
      period whose shortage this order alone decides:
      :math:`\Pi(q) = b\,E[(d - X - q)^+]` (decreasing in :math:`q`);
    - marginal holding cost, the expected holding cost of the ordered units over their whole
      life, consumed after the older stock and with no later orders:
      :math:`H(q) = h\,E[W(X + q) - W(X)]`, :math:`W(y) = \sum_{k \ge 1} E[(y - D_k)^+]`
      with :math:`D_k` the demand of :math:`k` periods (increasing in :math:`q`).

    On integer states the order is the smallest :math:`q` minimising :math:`\max(H(q), \Pi(q))`
    (where the two curves cross). The policy costs at most twice the optimum (LJN 2008, Thm. 1).

    Parameters
    ----------
    As in :func:`myopic_order` (``lead_time`` >= 0).

    Returns
    -------
    Tensor of shape (n_skus,)
    """
    L = check_int("lead_time", lead_time, minimum=0)
    h = check_float("holding_cost", holding_cost, minimum=0)
    b = check_float("shortage_cost", shortage_cost, minimum=0)
    x0, pipe, out_dtype = _integer_state(on_hand, pipeline, L)
    n = x0.shape[0]
    pmf = _pmf_tensor(demand_pmf, x0.to(torch.float64))
    if n == 0:
        return torch.zeros(0, dtype=out_dtype)
    K = pmf.shape[1] - 1
    G = int((x0 + pipe.sum(1)).max().item()) + 1
    dist = _project(x0, pipe, pmf, G)  # (n, G)
    Q = K + 1  # Pi(q) = 0 for q >= K, so the balance lies in 0..K
    W = _future_holding(pmf, G + Q)
    loss = torch.as_tensor(Discrete(pmf.cpu().numpy()[:, None, :]).loss(np.arange(G + Q, dtype=np.float64)),
                           dtype=torch.float64, device=x0.device)  # E[(d - y)^+], (m, G + Q)
    held = torch.einsum("nx,nqx->nq", dist, _windows(W, G, Q).expand(n, -1, -1)) - (dist * W[:, :G]).sum(1, keepdim=True)
    lost = torch.einsum("nx,nqx->nq", dist, _windows(loss, G, Q).expand(n, -1, -1))
    worse = torch.maximum(h * held, b * lost)
    best = worse.min(dim=1, keepdim=True).values
    ties = worse <= best + 1e-12 * (1.0 + best.abs())
    return torch.argmax(ties.to(torch.int8), dim=1).to(out_dtype)


# ------------------------------------------------------------------------------ policies
class _LostSalesPmfPolicy(MyopicPolicy):
    """A pmf-based lost-sales heuristic: fitted like :class:`MyopicPolicy`, review period 1."""

    _order_function: Any = None

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "_LostSalesPmfPolicy":
        problem = shared_costs(problem.for_data(train), type(self).__name__, "its cost terms are scalars")
        L, P = scalar_timing(problem, type(self).__name__)
        if not problem.lost_sales:
            raise ValidationError(f"{type(self).__name__} is a lost-sales policy; got a problem with lost_sales=False")
        if P != 1:
            raise ValidationError(f"{type(self).__name__} needs review_period 1, got {P}")
        return super().fit(train, validation, problem)

    def _orders(self, on_hand: torch.Tensor, pipeline: torch.Tensor, pmf: np.ndarray) -> torch.Tensor:
        return type(self)._order_function(
            on_hand, pipeline, pmf, holding_cost=self.holding_cost_, shortage_cost=self.shortage_cost_,
            lead_time=self.lead_time_,
        )


class Myopic2Policy(_LostSalesPmfPolicy):
    """Zipkin's two-period myopic policy (:func:`myopic2_order`), lost sales, review period 1.

    Parameters and attributes as :class:`MyopicPolicy`; orders are remembered per integer state.
    """

    policy_name = "myopic2"
    _order_function = staticmethod(myopic2_order)


class DualBalancingPolicy(_LostSalesPmfPolicy):
    """The dual-balancing policy of Levi, Janakiraman & Nagarajan (2008) (:func:`dual_balancing_order`).

    Parameters and attributes as :class:`MyopicPolicy`; lost sales, review period 1.
    """

    policy_name = "dual-balancing"
    _order_function = staticmethod(dual_balancing_order)


class VectorBaseStockPolicy(SavablePolicy):
    r"""Vector base-stock (:func:`vector_base_stock_order`) with the standard levels of
    :func:`standard_vector_base_stock_levels` (Zipkin 2008's "standard vector base-stock").

    Parameters
    ----------
    levels : float, array of shape (L + 1,) or None, default=None
        :math:`s_0..s_L` (a single number: plain base-stock, no caps); ``None``: the standard
        levels of the demand pmf at :meth:`fit`.
    demand_pmf : array, discrete DemandDistribution or None, default=None
        Per-period demand pmf; ``None``: the empirical pmf of the rounded training demand,
        pooled over SKUs.

    Attributes
    ----------
    levels_ : ndarray of shape (L + 1,)
    ratio_ : float
        The fractile :math:`\rho` of the levels (``b / (b + h)`` for the standard levels; nan
        when ``levels`` were given).
    per_sku_ : bool
        False: one vector serves every SKU.
    sku_ids_ : None
    """

    policy_name = "vector-base-stock"
    _saved_attributes = ("levels_", "ratio_")
    #: ``act`` is a pure tensor expression of the observation: compiled simulations trace it in
    fusable = True

    def __init__(self, levels: Any = None, *, demand_pmf: Any = None) -> None:
        self.levels = levels
        self.demand_pmf = demand_pmf
        if levels is not None:
            self._set_levels(levels, float("nan"))

    def _set_levels(self, levels: Any, ratio: float) -> None:
        try:
            arr = np.asarray(levels, dtype=np.float64)
        except (TypeError, ValueError):
            arr = np.array([np.nan])
        if arr.ndim > 1 or arr.size < 1 or not np.all(np.isfinite(arr)):
            raise ValidationError(f"levels must be a number or a finite vector s_0..s_L of length L + 1, got {levels!r}")
        self.levels_, self.ratio_ = arr, float(ratio)
        self.per_sku_, self.sku_ids_ = False, None
        self._levels_cache: dict[tuple, torch.Tensor] = {}

    def _parameters_changed(self, names: set[str]) -> None:
        if "levels" in names:
            for name in ("levels_", "ratio_", "per_sku_", "sku_ids_"):
                self.__dict__.pop(name, None)
            if self.levels is not None:
                self._set_levels(self.levels, float("nan"))

    def _pmf(self, train: Any) -> np.ndarray:
        if self.demand_pmf is not None:
            return _pmf_tensor(self.demand_pmf, torch.zeros(1)).numpy()[0]
        return pooled_lived_pmf(train)

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "VectorBaseStockPolicy":
        """The standard levels of the demand pmf (a no-op when ``levels`` were given)."""
        problem = shared_costs(problem.for_data(train), type(self).__name__, "its cost terms are scalars")
        L, P = scalar_timing(problem, type(self).__name__)
        if P != 1:
            raise ValidationError(f"{type(self).__name__} needs review_period 1, got {P}")
        if self.levels is not None:
            if self.levels_.ndim == 1 and self.levels_.size != L + 1:
                raise ValidationError(f"levels must hold L + 1 = {L + 1} values, got {self.levels_.size}")
            return self
        pmf = self._pmf(train)
        rho = problem.shortage_cost / (problem.shortage_cost + problem.holding_cost)
        levels = standard_vector_base_stock_levels(pmf, holding_cost=problem.holding_cost,
                                                   shortage_cost=problem.shortage_cost, lead_time=L)
        self._set_levels(levels, rho)
        return self

    def _restore_state(self, state: dict[str, Any]) -> None:
        super()._restore_state(state)
        self._set_levels(self.levels_, self.ratio_)

    def act(self, obs: Observation) -> torch.Tensor:
        check_is_fitted(self, ("levels_",))
        key = (obs.on_hand.device, obs.on_hand.dtype)
        levels = self._levels_cache.get(key)
        if levels is None:
            levels = self._levels_cache[key] = torch.as_tensor(self.levels_, dtype=obs.on_hand.dtype, device=obs.on_hand.device)
        if levels.ndim == 0:  # a single level: plain base-stock on the inventory position
            return torch.clamp(levels - obs.inventory_position, min=0)
        return vector_base_stock_order(obs.on_hand, obs.pipeline, levels)


class BetterVectorBaseStockPolicy(VectorBaseStockPolicy):
    r"""Vector base-stock whose levels :math:`s_l = F_{L-l+1}^{-1}(\rho)` use the fractile
    :math:`\rho` that minimises the simulated training cost ("better" vector base-stock).

    Zipkin (2008) improves on the standard levels by a search; orkit searches the one-parameter
    family of :func:`standard_vector_base_stock_levels` over ``n_candidates`` fractiles in
    ``[0.5, 0.999]`` (plus ``b / (b + h)``), all simulated in one batch on the training demand.

    Parameters
    ----------
    levels, demand_pmf
        As :class:`VectorBaseStockPolicy`.
    n_candidates : int, default=40
    """

    policy_name = "better-vector-base-stock"

    def __init__(self, levels: Any = None, *, demand_pmf: Any = None, n_candidates: int = 40) -> None:
        super().__init__(levels, demand_pmf=demand_pmf)
        self.n_candidates = n_candidates

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "BetterVectorBaseStockPolicy":
        """Search the fractile by simulation on ``train`` (a no-op when ``levels`` were given)."""
        from orkit.heuristics._search import simulated_losses

        problem = shared_costs(problem.for_data(train), type(self).__name__, "its cost terms are scalars")
        L, P = scalar_timing(problem, type(self).__name__)
        if self.levels is not None or P != 1:
            return super().fit(train, validation, problem)
        n_candidates = check_int("n_candidates", self.n_candidates, minimum=1)
        pmf = self._pmf(train)
        h, b = problem.holding_cost, problem.shortage_cost
        ratios = np.unique(np.concatenate([np.linspace(0.5, 0.999, n_candidates), [b / (b + h)]]))
        table = np.stack([standard_vector_base_stock_levels(pmf, holding_cost=h, shortage_cost=b, lead_time=L, ratio=r)
                          for r in ratios])
        table, first = np.unique(table, axis=0, return_index=True)
        ratios = ratios[first]
        levels_t = torch.as_tensor(table, dtype=torch.float64)
        demand, alive = lived_demand(train)  # zeros outside a life; the simulator masks them

        def make(candidate: torch.Tensor) -> "_CandidateLevels":
            return _CandidateLevels(levels_t[candidate.long()])

        losses = simulated_losses(make, {"candidate": np.arange(len(ratios), dtype=np.float64)[None, :]}, demand,
                                  problem, per_sku=False, life=None if alive is None else sku_lives(train, *demand.shape))
        best = int(np.argmin(losses[0]))
        self._set_levels(table[best], float(ratios[best]))
        return self


class _CandidateLevels:
    """One vector of levels per simulated row (the candidates of a search)."""

    fusable = True

    def __init__(self, rows: torch.Tensor) -> None:
        self.rows = rows

    def act(self, obs: Observation) -> torch.Tensor:
        return vector_base_stock_order(obs.on_hand, obs.pipeline, self.rows.to(obs.on_hand))
