r"""Heuristics for lost sales: capped base-stock and the myopic policy.

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
from orkit.heuristics._training import demand_array, scalar_timing
from orkit.heuristics.base_stock import base_stock_level
from orkit.heuristics.distributions import DemandDistribution, Discrete
from orkit.heuristics.newsvendor import newsvendor_cost

__all__ = [
    "CappedBaseStockPolicy",
    "optimize_capped_base_stock",
    "MyopicPolicy",
    "myopic_order",
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
        if self._level is None:
            check_is_fitted(self, ("level_", "cap_"))
        ip = obs.inventory_position
        return torch.minimum(torch.clamp(self._level.like(ip) - ip, min=0), self._cap.like(ip))


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
        L, P = scalar_timing(problem, "MyopicPolicy")
        if self.demand_pmf is not None:
            pmf = _pmf_tensor(self.demand_pmf, torch.zeros(1)).numpy()
            self.per_sku_, self.sku_ids_ = pmf.shape[0] > 1, None
        else:
            demand = np.round(demand_array(train))
            samples = demand if self.per_sku else demand.reshape(1, -1)
            pmf = Discrete.from_samples(samples, axis=-1).pmf
            self.per_sku_ = bool(self.per_sku)
            self.sku_ids_ = sku_ids_of(train) if self.per_sku else None
        self.demand_pmf_ = pmf
        self.lead_time_, self.review_period_ = L, P
        self.holding_cost_, self.shortage_cost_ = problem.holding_cost, problem.shortage_cost
        self.lost_sales_ = problem.lost_sales
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

    def act(self, obs: Observation) -> torch.Tensor:
        check_is_fitted(self, ("demand_pmf_",))
        orders = myopic_order(
            obs.on_hand,
            obs.pipeline,
            self.demand_pmf_,
            holding_cost=self.holding_cost_,
            shortage_cost=self.shortage_cost_,
            lead_time=self.lead_time_,
            review_period=self.review_period_,
            lost_sales=self.lost_sales_,
        )
        return orders.to(device=obs.on_hand.device, dtype=obs.on_hand.dtype)
