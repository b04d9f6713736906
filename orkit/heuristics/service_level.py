r"""A service-level target instead of a shortage cost: the smallest base-stock level that reaches
a target fill rate.

Many analysts know the service they must give (say a 95% fill rate) better than the cost of a
unit short [b]. :class:`FillRateBaseStockPolicy` takes the target instead of ``b``: on the
training trajectories it finds, by bisection, the smallest order-up-to level [S] whose simulated
fill rate reaches it. The fill rate is the simulator's ledger's (``sales / demand`` over the
counted periods, :mod:`orkit.evaluation.metrics`), so lead times, review periods, lost sales,
order caps and the warm-up are those of the problem. Under a base-stock policy the sales of
every period are non-decreasing in ``S`` on a given demand path (more stock on hand never sells
less), so the fill rate is monotone and bisection finds the smallest level.

With ``per_sku=True`` every SKU gets its own level and reaches the target on its own demand;
otherwise one level serves every SKU and the pooled fill rate (all sales over all demand)
reaches it. The problem's holding, shortage and fixed costs do not enter the level (the target
replaces them); metrics still report them from the ledger.

Which families take a target: this policy. Every other family takes its service through the
shortage cost (the newsvendor critical ratio ``b / (b + h)`` is the cycle service level of a
single period; there is no general map from a fill rate to ``b``), and none of them accepts a
target parameter, so a target cannot be passed where it would be ignored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import Observation, check_is_fitted
from orkit.core.problem import InventoryProblem
from orkit.core.skus import check_sku_count, sku_ids_of
from orkit.core.validation import check_float
from orkit.heuristics._params import SkuParameter
from orkit.heuristics._search import is_integer_valued, window_max
from orkit.heuristics._training import lived_demand

__all__ = ["FillRateBaseStockPolicy", "fill_rate_base_stock_level"]


def _fill_rates(level: np.ndarray, demand: Any, problem: InventoryProblem, per_sku: bool, ids: Any = None) -> np.ndarray:
    """The ledger's fill rate of base-stock ``level`` (per SKU, or pooled as shape (1,));
    ``demand``: an array, or a Dataset whose SKUs start or end inside the horizon (the
    simulator then counts each SKU's lived periods only); ``ids`` name the SKUs in errors."""
    from orkit.sim import simulate
    from orkit.heuristics.base_stock import BaseStockPolicy

    source = demand if hasattr(demand, "demand_time_major") else torch.as_tensor(demand)
    led = simulate(BaseStockPolicy(torch.as_tensor(level)), source, problem, ledger="lean",
                   dtype=torch.float64, fused=False)
    sales, wanted = led.sales.numpy(), led.demand.numpy()
    if not (led.counted_periods.numpy() > 0).all():
        _refuse_unscored(led.counted_periods.numpy() > 0, ids, per_sku)
    if not per_sku:
        sales, wanted = sales.sum(keepdims=True), wanted.sum(keepdims=True)
    return np.where(wanted > 0, sales / np.where(wanted > 0, wanted, 1.0), 1.0)


def _refuse_unscored(scored: np.ndarray, ids: Any, per_sku: bool) -> None:
    """A per-SKU level needs a scored training period for every SKU (a SKU without one would
    reach any target at level 0); a pooled level needs one for some SKU."""
    if per_sku:
        rows = np.flatnonzero(~scored)
        named = ", ".join(repr(str(ids[i])) if ids is not None else str(int(i)) for i in rows[:5])
        raise ValidationError(
            f"a per-SKU fill-rate level needs a scored training period for every SKU, but {rows.size} SKU(s) "
            f"({'' if ids is not None else 'rows '}{named}{' ...' if rows.size > 5 else ''}) live too briefly in the "
            "training data for one period after the warm-up; fit a pooled level (per_sku=False), or drop them from "
            "the training data")
    if not scored.any():
        raise ValidationError("no training period is scored: every SKU's life is shorter than the warm-up")


def fill_rate_base_stock_level(data: Any, problem: InventoryProblem, fill_rate: float, *, per_sku: bool = False,
                               integer: bool | None = None, tol: float = 1e-3) -> np.ndarray:
    """The smallest base-stock level whose simulated fill rate on ``data`` reaches ``fill_rate``.

    Parameters
    ----------
    data : Dataset or array of shape (n_skus, n_periods)
        Training trajectories.
    problem : InventoryProblem
        Timing, lost sales or backorders, order cap and warm-up of the simulation (per-SKU
        values by position, or keyed by SKU id for a Dataset).
    fill_rate : float
        Target share of demand served from stock, in (0, 1].
    per_sku : bool, default=False
        One level per SKU (each SKU reaches the target), or one shared level (the pooled fill
        rate reaches it).
    integer : bool, optional
        Search integer levels (default: whether the demand is integer-valued).
    tol : float, default=1e-3
        Width, relative to the largest demand over ``L + P`` periods, at which a real-valued
        bisection stops (the upper end is returned).

    Returns
    -------
    ndarray of shape (n_skus,)

    Examples
    --------
    >>> import numpy as np
    >>> from orkit.core import InventoryProblem
    >>> demand = np.array([[2.0] + [0.0, 4.0, 2.0, 2.0] * 10])  # period 0 is the warm-up
    >>> problem = InventoryProblem(lead_time=0, review_period=1, warmup_periods=1)
    >>> fill_rate_base_stock_level(demand, problem, 1.0).tolist()   # up to 4 covers every day
    [4.0]
    >>> fill_rate_base_stock_level(demand, problem, 0.75).tolist()  # up to 2 serves 0+2+2+2 of 8
    [2.0]
    >>> fill_rate_base_stock_level(demand, problem, 0.76).tolist()  # up to 3: 0+3+2+2 of 8
    [3.0]
    """
    target = check_float("fill_rate", fill_rate, minimum=0, maximum=1)
    if target <= 0:
        raise ValidationError(f"fill_rate must be > 0, got {target:g}")
    if not isinstance(problem, InventoryProblem):
        raise ValidationError(f"problem must be an InventoryProblem, got {type(problem).__name__}")
    problem = problem.for_data(data)
    demand, alive = lived_demand(data)
    n = demand.shape[0]
    if n == 0:
        raise ValidationError("data must hold at least one trajectory")
    if integer is None:
        integer = is_integer_valued(demand)
    window = int((problem.max_lead_times(n) + problem.review_periods(n)).max())  # the longest draw
    hi = window_max(demand, window, per_sku) + 1.0  # no shortage after the warm-up: fill rate 1
    if alive is not None:  # SKUs that start or end inside the horizon: the simulator masks their lives
        demand = data
    lo = np.zeros_like(hi)
    expand = (lambda v: v) if per_sku else (lambda v: np.full(n, v[0]))  # noqa: E731
    reached = _fill_rates(expand(lo), demand, problem, per_sku, getattr(data, "sku_ids", None)) >= target
    hi = np.where(reached, lo, hi)
    step = np.maximum(tol * hi, 1e-9)
    while True:
        open_ = (hi - lo > 1.0) if integer else (hi - lo > step)
        if not open_.any():
            break
        mid = np.floor((lo + hi) / 2) if integer else (lo + hi) / 2
        mid = np.where(open_, mid, hi)
        reached = _fill_rates(expand(mid), demand, problem, per_sku) >= target
        hi = np.where(open_ & reached, mid, hi)
        lo = np.where(open_ & ~reached, mid, lo)
    if not (_fill_rates(expand(hi), demand, problem, per_sku) >= target).all():
        raise ValidationError(
            f"no base-stock level reaches the fill rate {target:g} on the training data (an order cap or a warm-up "
            "longer than the trajectories); lower the target or lift max_order"
        )
    return expand(hi).astype(np.float64)


class FillRateBaseStockPolicy(SavablePolicy):
    """Order up to the smallest level that reaches a target fill rate on the training data.

    The service-level alternative to a shortage cost (module docstring): ``fit`` finds the level
    with :func:`fill_rate_base_stock_level`; ``act`` orders ``max(S - tot(I), 0)``.

    Parameters
    ----------
    fill_rate : float, default=0.95
        Target share of demand served from stock, in (0, 1].
    per_sku : bool, default=False
        One level per SKU, each reaching the target (the fitted policy then serves the training
        SKUs, matched by id); or one level whose pooled fill rate reaches it.

    Attributes
    ----------
    level_ : float or ndarray
    per_sku_ : bool
    sku_ids_ : ndarray of str or None
        The training SKUs of a per-SKU fit (see :mod:`orkit.core.policy`).
    """

    policy_name = "fill-rate-base-stock"
    _saved_attributes = ("level_",)

    def __init__(self, fill_rate: float = 0.95, *, per_sku: bool = False) -> None:
        self.fill_rate = fill_rate
        self.per_sku = per_sku

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "FillRateBaseStockPolicy":
        """Find the level on ``train`` (``validation`` is not used)."""
        level = fill_rate_base_stock_level(train, problem, self.fill_rate, per_sku=bool(self.per_sku))
        self.per_sku_ = bool(self.per_sku)
        self.level_ = level if self.per_sku_ else float(level[0])
        self.sku_ids_ = sku_ids_of(train) if self.per_sku_ else None
        self._level = SkuParameter("level", self.level_, minimum=0.0)
        return self

    def _restore_state(self, state: dict[str, Any]) -> None:
        super()._restore_state(state)
        self._level = SkuParameter("level", self.level_, minimum=0.0)
        check_sku_count("level_", self.level_, self.sku_ids_)

    #: ``act`` is a pure tensor expression of the observation: compiled simulations trace it in
    fusable = True

    def act(self, obs: Observation) -> torch.Tensor:
        check_is_fitted(self, ("level_",))
        return (self._level.like(obs.inventory_position) - obs.inventory_position).clamp(min=0)
