"""Metrics computed from the simulator's ledger, and only from it.

Notation (per SKU ``i``, counted periods ``C_i``, i.e. after the warm-up):
``y_t`` end-of-period on-hand, ``s_t`` shortage (backlog ``max(-y_t, 0)`` under backorders,
lost demand under lost sales), ``d_t`` demand, ``sales_t`` demand served from stock in its
own period, ``q_t`` the order placed, ``h``, ``b`` and ``K`` the holding, shortage and fixed
ordering cost rates (each one value, or one per SKU ``h_i``, ``b_i``, ``K_i``), and
``c_t = h y_t^+ + b s_t + K 1[q_t > 0]`` the period's cost.

=====================  ======================================================================
metric                 definition
=====================  ======================================================================
weighted_loss          mean over SKUs of ``(1/|C_i|) sum_t c_t`` (DeepStock loss, with ``K = 0``)
total_cost             ``sum_i sum_t c_t``
holding_cost           ``sum_i sum_t h y_t^+``
shortage_cost          ``sum_i sum_t b s_t``
fixed_cost             ``sum_i sum_t K 1[q_t > 0]`` (orders placed in counted periods)
fill_rate              ``sum sales_t / sum d_t`` (1 when there is no demand)
cycle_service_level    share of counted review cycles with no unmet demand
stockout_rate          share of counted SKU-periods that end with no stock, ``y_t <= 0``
turnover_days          mean over SKUs of ``min(mean y_t^+ / mean sales_t, cap)`` (cap 28)
average_on_hand        mean of ``y_t^+`` over counted SKU-periods
=====================  ======================================================================
"""

from __future__ import annotations

import torch

from orkit.core.errors import ValidationError
from orkit.core.validation import check_float
from orkit.sim.ledger import LeanLedger, Ledger

__all__ = ["METRICS", "metrics_from_ledger", "per_sku_loss", "per_sku_costs"]

METRICS = (
    "weighted_loss",
    "total_cost",
    "holding_cost",
    "shortage_cost",
    "fixed_cost",
    "fill_rate",
    "cycle_service_level",
    "stockout_rate",
    "turnover_days",
    "average_on_hand",
)


def _ratio(num: torch.Tensor, den: torch.Tensor, empty: float) -> float:
    num, den = float(num), float(den)
    return num / den if den > 0 else empty


def per_sku_loss(ledger: Ledger | LeanLedger) -> torch.Tensor:
    """DeepStock loss of each trajectory: mean cost per counted period, shape (n_skus,).

    Differentiable when the ledger came from ``simulate(..., differentiable=True)``.
    """
    if isinstance(ledger, Ledger):
        c = ledger.counted.to(ledger.on_hand.dtype)
        return (ledger.cost * c).sum(1) / c.sum(1).clamp(min=1)
    return ledger.cost / ledger.counted_periods.clamp(min=1)


def per_sku_costs(ledger: Ledger | LeanLedger) -> dict[str, torch.Tensor]:
    """Each SKU's costs over its counted periods: ``holding_cost``, ``shortage_cost``,
    ``fixed_cost``, ``total_cost`` and ``orders_placed`` (tensors of shape (n_skus,)).

    The totals of :func:`metrics_from_ledger` are their sums over SKUs.
    """
    s = ledger.sums()
    orders = s.orders_placed
    if orders is None:  # no fixed cost: the lean run did not count orders; a full ledger can
        orders = ((ledger.order > 0) & ledger.counted).sum(1).to(s.holding_units.dtype) if isinstance(ledger, Ledger) \
            else torch.full_like(s.holding_units, float("nan"))
    return {"holding_cost": s.holding_cost, "shortage_cost": s.shortage_cost, "fixed_cost": s.fixed_cost,
            "total_cost": s.cost, "orders_placed": orders}


def metrics_from_ledger(ledger: Ledger | LeanLedger, *, turnover_cap: float = 28.0) -> dict[str, float]:
    """Every metric of :data:`METRICS` from a full or lean ledger.

    Parameters
    ----------
    ledger : Ledger or LeanLedger
    turnover_cap : float, default=28.0
        Upper bound on a SKU's turnover days (DeepStock caps at 28); SKUs without sales get it.

    Examples
    --------
    >>> import torch
    >>> from orkit.core import InventoryProblem
    >>> from orkit.heuristics import ConstantOrderPolicy
    >>> from orkit.sim import simulate
    >>> demand = torch.full((1, 6), 2.0)
    >>> led = simulate(ConstantOrderPolicy(2.0), demand, InventoryProblem(lead_time=0, review_period=1,
    ...                initial_on_hand=2.0, warmup_periods=1))
    >>> metrics_from_ledger(led)["fill_rate"]
    1.0
    """
    turnover_cap = check_float("turnover_cap", turnover_cap, minimum=0, strict_minimum=True)
    s = ledger.sums()
    if s.n_skus and not bool((s.counted_periods > 0).any()):
        # metrics of zero scored periods would read as perfect (fill rate 1, no cost)
        raise ValidationError(
            "no period is scored: the warm-up (warmup_periods, by default L + P) covers the whole horizon of every "
            "trajectory; use a shorter warm-up, lead time or review period, or longer trajectories"
        )
    scored = s.counted_periods > 0
    n_counted = s.counted_periods.clamp(min=1)
    avg_on_hand = s.holding_units / n_counted
    avg_sales = s.sales / n_counted
    turnover = torch.where(
        avg_sales > 0, (avg_on_hand / avg_sales.clamp(min=1e-12)).clamp(max=turnover_cap), turnover_cap
    )
    holding = s.holding_cost.sum()
    shortage = s.shortage_cost.sum()
    fixed = s.fixed_cost.sum()
    return {
        # SKUs without a scored period (a life shorter than the warm-up) have no loss to average
        "weighted_loss": float(per_sku_loss(s)[scored].mean()) if s.n_skus else float("nan"),
        "total_cost": float(holding + shortage + fixed),
        "holding_cost": float(holding),
        "shortage_cost": float(shortage),
        "fixed_cost": float(fixed),
        "fill_rate": _ratio(s.sales.sum(), s.demand.sum(), 1.0),
        "cycle_service_level": 1.0 - _ratio(s.cycles_with_shortage.sum(), s.cycles.sum(), 0.0),
        "stockout_rate": _ratio(s.stockout_periods.sum(), s.counted_periods.sum(), 0.0),
        "turnover_days": float(turnover[scored].mean()) if s.n_skus else float("nan"),
        "average_on_hand": _ratio(s.holding_units.sum(), s.counted_periods.sum(), 0.0),
    }
