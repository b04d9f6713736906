"""What a simulation returns: the full ledger, or the lean running sums.

Every metric in :mod:`orkit.evaluation` reads one of these, never the policy or the demand.
All per-period tensors are indexed ``[sku, period]`` (views of time-major storage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from orkit.core.problem import InventoryProblem
from orkit.sim.dynamics import Entries, Flags, served

__all__ = ["Ledger", "LeanLedger", "LeanSums", "SUM_FIELDS", "CostRates", "period_cost"]


class CostRates(NamedTuple):
    """The cost rates a ledger charges: floats shared by every SKU, or tensors of shape (n_skus,).

    A scalar problem keeps floats, so its runs do exactly the work they did before per-SKU costs.
    """

    holding: float | torch.Tensor
    """[h] per unit on hand at the end of a period."""
    shortage: float | torch.Tensor
    """[b] per unit short (backlog at the end of a period, or lost demand)."""
    fixed: float | torch.Tensor = 0.0
    """[K] per order placed (quantity > 0)."""

    @classmethod
    def of(cls, problem: InventoryProblem, n_skus: int, device: torch.device | str = "cpu",
           dtype: torch.dtype = torch.float32) -> "CostRates":
        """The rates of ``problem`` for ``n_skus`` SKUs (floats where a rate is a scalar)."""
        def rate(value, broadcast):
            if isinstance(value, float):
                return value
            return torch.as_tensor(broadcast(n_skus).copy(), dtype=dtype, device=device)
        return cls(rate(problem.holding_cost, problem.holding_costs), rate(problem.shortage_cost, problem.shortage_costs),
                   rate(problem.fixed_cost, problem.fixed_costs))

    @property
    def charges_orders(self) -> bool:
        """Whether some SKU pays a fixed cost per order (orders placed are then counted)."""
        return isinstance(self.fixed, torch.Tensor) or self.fixed > 0

    def column(self, rate: float | torch.Tensor) -> float | torch.Tensor:
        """``rate`` shaped to multiply an (n_skus, n_periods) tensor."""
        return rate.unsqueeze(1) if isinstance(rate, torch.Tensor) else rate


def period_cost(e: Entries, rates: CostRates) -> torch.Tensor:
    """One period's cost per SKU: ``h * max(y, 0) + b * shortage + K * 1[order > 0]``, shape (n_skus,).

    The one statement of a period's cost for code that reads entries as they come (the
    Gymnasium adapters); the ledgers below charge the same, summed."""
    cost = rates.holding * e.on_hand.clamp(min=0.0) + rates.shortage * e.shortage
    if rates.charges_orders:
        cost = cost + rates.fixed * (e.order > 0).to(cost.dtype)
    return cost

#: The running sums a lean simulation keeps per SKU (over counted periods only).
SUM_FIELDS = (
    "holding_units",  # sum of end-of-period on-hand^+           [sum y^+]
    "shortage_units",  # sum of backlog (backorders) or lost demand (lost sales)
    "sales",  # sum of demand served from stock in its own period
    "demand",  # sum of demand
    "stockout_periods",  # number of periods that end with no stock on hand (y <= 0)
    "counted_periods",  # number of counted periods
    "cycles",  # number of counted review cycles
    "cycles_with_shortage",  # cycles in which some demand was not served from stock
    "orders_placed",  # number of orders with quantity > 0 placed in counted periods (kept when K > 0)
)


@dataclass(frozen=True)
class LeanLedger:
    """Running sums over counted periods (see :data:`SUM_FIELDS`), per SKU (shape ``(n_skus,)``).

    Memory is ``O(n_skus)`` whatever the horizon. Metrics sum every field over SKUs (the
    per-SKU loss and turnover read ``holding_units``, ``shortage_units``, ``sales`` and
    ``counted_periods`` per SKU). Cost rates are floats or tensors of shape (n_skus,);
    ``orders_placed`` is counted only where a fixed cost is charged (None otherwise).
    """

    holding_units: torch.Tensor
    shortage_units: torch.Tensor
    sales: torch.Tensor
    demand: torch.Tensor
    stockout_periods: torch.Tensor
    counted_periods: torch.Tensor
    cycles: torch.Tensor
    cycles_with_shortage: torch.Tensor
    holding_cost_rate: float | torch.Tensor
    shortage_cost_rate: float | torch.Tensor
    lost_sales: bool
    fixed_cost_rate: float | torch.Tensor = 0.0
    orders_placed: torch.Tensor | None = None

    @property
    def n_skus(self) -> int:
        return self.holding_units.shape[0]

    @property
    def holding_cost(self) -> torch.Tensor:
        """Holding cost per SKU over counted periods, shape (n_skus,)."""
        return self.holding_cost_rate * self.holding_units

    @property
    def shortage_cost(self) -> torch.Tensor:
        """Shortage cost per SKU over counted periods, shape (n_skus,)."""
        return self.shortage_cost_rate * self.shortage_units

    @property
    def fixed_cost(self) -> torch.Tensor:
        """Fixed ordering cost per SKU over counted periods (``K`` times orders placed), shape (n_skus,)."""
        if self.orders_placed is None:
            return torch.zeros_like(self.holding_units)
        return self.fixed_cost_rate * self.orders_placed

    @property
    def cost(self) -> torch.Tensor:
        """Total holding, shortage and fixed ordering cost per SKU, shape (n_skus,)."""
        cost = self.holding_cost_rate * self.holding_units + self.shortage_cost_rate * self.shortage_units
        return cost if self.orders_placed is None else cost + self.fixed_cost_rate * self.orders_placed

    def sums(self) -> "LeanLedger":
        return self


class Ledger:
    """Per SKU and period record of a simulation, shape (n_skus, n_periods) each.

    Attributes
    ----------
    on_hand : Tensor
        End-of-period on-hand inventory [y_t]; negative values are backlog (backorders).
    sales : Tensor
        Demand of the period served from stock in the period.
    order : Tensor
        Units ordered in the period (zero on days that are not review days).
    demand : Tensor
        Demand of the period [d_t].
    counted : Tensor of bool
        Periods after the warm-up, the ones metrics and losses use.
    cycle_start : Tensor of bool
        First period of each counted review cycle (the arrival period of an order).
    holding_cost_rate, shortage_cost_rate, fixed_cost_rate : float or Tensor of shape (n_skus,)
        [h], [b] and [K]: one value for every SKU or one per SKU.

    ``backlog`` (end-of-period ``max(-y_t, 0)``, zero under lost sales) and ``lost`` (demand lost
    in the period, zero under backorders) are derived on access, so a simulation does not
    spend two passes over the whole ledger on them. Under backorders ``sales`` is derived too
    (on-hand before demand is ``y_t + d_t``, so sales are ``min(max(y_t + d_t, 0), d_t)``):
    a full run then writes two per-period arrays instead of three. Under lost sales the
    ledger must be given its sales.
    """

    def __init__(
        self,
        *,
        on_hand: torch.Tensor,
        order: torch.Tensor,
        demand: torch.Tensor,
        counted: torch.Tensor,
        cycle_start: torch.Tensor,
        holding_cost_rate: float | torch.Tensor,
        shortage_cost_rate: float | torch.Tensor,
        lost_sales: bool,
        sales: torch.Tensor | None = None,
        fixed_cost_rate: float | torch.Tensor = 0.0,
    ) -> None:
        if sales is None and lost_sales:
            raise ValueError("a lost-sales ledger needs its sales (they cannot be derived from on-hand)")
        self.on_hand = on_hand
        self.order = order
        self.demand = demand
        self.counted = counted
        self.cycle_start = cycle_start
        self.holding_cost_rate = holding_cost_rate
        self.shortage_cost_rate = shortage_cost_rate
        self.lost_sales = lost_sales
        self.fixed_cost_rate = fixed_cost_rate
        self._sales = sales

    @property
    def rates(self) -> CostRates:
        """The cost rates as :class:`CostRates`."""
        return CostRates(self.holding_cost_rate, self.shortage_cost_rate, self.fixed_cost_rate)

    @property
    def sales(self) -> torch.Tensor:
        """Demand served from stock in its own period."""
        if self._sales is None:
            self._sales = served(self.on_hand + self.demand, self.demand)  # on-hand before demand: y + d
        return self._sales

    def __repr__(self) -> str:
        def shown(rate: float | torch.Tensor) -> str:
            return f"{rate:g}" if isinstance(rate, float) else "per SKU"

        fixed = f", fixed_cost_rate={shown(self.fixed_cost_rate)}" if self.rates.charges_orders else ""
        return (
            f"Ledger(n_skus={self.n_skus}, n_periods={self.n_periods}, lost_sales={self.lost_sales}, "
            f"holding_cost_rate={shown(self.holding_cost_rate)}, shortage_cost_rate={shown(self.shortage_cost_rate)}"
            f"{fixed})"
        )

    @property
    def n_skus(self) -> int:
        return self.on_hand.shape[0]

    @property
    def n_periods(self) -> int:
        return self.on_hand.shape[1]

    @property
    def backlog(self) -> torch.Tensor:
        """End-of-period backlog ``max(-y_t, 0)``; zero under lost sales."""
        return torch.zeros_like(self.on_hand) if self.lost_sales else (-self.on_hand).clamp(min=0)

    @property
    def lost(self) -> torch.Tensor:
        """Demand lost in each period; zero under backorders."""
        return self.demand - self.sales if self.lost_sales else torch.zeros_like(self.on_hand)

    @property
    def shortage(self) -> torch.Tensor:
        """Units short at the end of each period: backlog or lost demand."""
        return self.lost if self.lost_sales else self.backlog

    @property
    def orders_placed(self) -> torch.Tensor:
        """1 where an order with quantity > 0 was placed, else 0 (the simulation's dtype)."""
        return (self.order > 0).to(self.on_hand.dtype)

    @property
    def holding_cost(self) -> torch.Tensor:
        """``h * max(y_t, 0)`` per SKU and period."""
        return self.rates.column(self.holding_cost_rate) * self.on_hand.clamp(min=0)

    @property
    def shortage_cost(self) -> torch.Tensor:
        """``b * shortage_t`` per SKU and period."""
        return self.rates.column(self.shortage_cost_rate) * self.shortage

    @property
    def fixed_cost(self) -> torch.Tensor:
        """``K * 1[order_t > 0]`` per SKU and period (zero without a fixed cost)."""
        if not self.rates.charges_orders:
            return torch.zeros_like(self.on_hand)
        return self.rates.column(self.fixed_cost_rate) * self.orders_placed

    @property
    def cost(self) -> torch.Tensor:
        """Holding, shortage and fixed ordering cost per SKU and period (warm-up included; see
        ``counted``)."""
        cost = self.holding_cost + self.shortage_cost
        return cost + self.fixed_cost if self.rates.charges_orders else cost

    def sums(self) -> LeanLedger:
        """The lean running sums of this ledger (what a lean simulation would have returned)."""
        c = self.counted
        starts = self.cycle_start & c
        in_cycle = starts.cumsum(1) > 0
        sums = LeanSums.zeros(self.n_skus, self.on_hand.dtype, self.on_hand.device, orders=self.rates.charges_orders)
        shortage = self.shortage
        for t in range(self.n_periods):
            entries = Entries(self.on_hand[:, t], self.sales[:, t], self.order[:, t], shortage[:, t], self.demand[:, t])
            sums = sums.add(entries, Flags(False, c[:, t], starts[:, t], in_cycle[:, t]))
        count = lambda rows: rows.sum(1).to(self.on_hand.dtype)  # noqa: E731
        return sums.ledger(count(c), count(starts), rates=self.rates, lost_sales=self.lost_sales)


def _masked(x: torch.Tensor, flag: bool | torch.Tensor) -> torch.Tensor | None:
    """``x`` where ``flag`` holds, else 0; None for 0 everywhere (eager runs skip the work)."""
    if flag is True:
        return x
    return None if flag is False else x * flag


def _plus(total: torch.Tensor, x: torch.Tensor | None) -> torch.Tensor:
    return total if x is None else total + x


class LeanSums(NamedTuple):
    """The running sums of a lean run while it runs (out of place: :meth:`add` returns new sums)."""

    holding_units: torch.Tensor
    shortage_units: torch.Tensor
    sales: torch.Tensor
    demand: torch.Tensor
    stockout_periods: torch.Tensor
    cycles_with_shortage: torch.Tensor
    open_cycle_short: torch.Tensor
    """1 where the open counted review cycle has had unmet demand so far."""
    orders_placed: torch.Tensor | None = None
    """Orders with quantity > 0 placed in counted periods; None where no fixed cost is charged
    (a run without one does no work for it)."""

    @classmethod
    def zeros(cls, n_skus: int, dtype: torch.dtype, device: torch.device, *, orders: bool = False) -> "LeanSums":
        """Zero sums; ``orders`` counts the orders placed too (for a fixed ordering cost)."""
        zero = lambda: torch.zeros(n_skus, dtype=dtype, device=device)  # noqa: E731
        return cls(*(zero() for _ in cls._fields[:-1]), orders_placed=zero() if orders else None)

    def add(self, e: Entries, f: Flags) -> "LeanSums":
        """These sums plus one period's entries ``e`` with flags ``f``."""
        dt = e.on_hand.dtype
        counted = f.counted
        # a counted review cycle ends where the next one starts: count it if it had unmet demand
        unmet = _masked((e.sales < e.demand).to(dt), f.in_cycle)
        start = f.cycle_start
        kept = self.open_cycle_short if start is False else None if start is True else self.open_cycle_short * ~start
        if kept is None or unmet is None:
            open_short = kept if unmet is None else unmet
            open_short = torch.zeros_like(self.open_cycle_short) if open_short is None else open_short
        else:
            open_short = torch.maximum(kept, unmet)
        return LeanSums(
            holding_units=_plus(self.holding_units, _masked(e.on_hand.clamp(min=0.0), counted)),
            shortage_units=_plus(self.shortage_units, _masked(e.shortage, counted)),
            sales=_plus(self.sales, _masked(e.sales, counted)),
            demand=_plus(self.demand, _masked(e.demand, counted)),
            stockout_periods=_plus(self.stockout_periods, _masked((e.on_hand <= 0).to(dt), counted)),
            cycles_with_shortage=_plus(self.cycles_with_shortage, _masked(self.open_cycle_short, f.cycle_start)),
            open_cycle_short=open_short,
            orders_placed=None if self.orders_placed is None
            else _plus(self.orders_placed, _masked((e.order > 0).to(dt), counted)),
        )

    def ledger(self, counted_periods: torch.Tensor, cycles: torch.Tensor, *, rates: CostRates,
               lost_sales: bool) -> LeanLedger:
        """The :class:`LeanLedger` at the end of a run (the last, possibly incomplete, cycle counted)."""
        return LeanLedger(
            holding_units=self.holding_units,
            shortage_units=self.shortage_units,
            sales=self.sales,
            demand=self.demand,
            stockout_periods=self.stockout_periods,
            counted_periods=counted_periods,
            cycles=cycles,
            cycles_with_shortage=self.cycles_with_shortage + self.open_cycle_short,
            holding_cost_rate=rates.holding,
            shortage_cost_rate=rates.shortage,
            lost_sales=lost_sales,
            fixed_cost_rate=rates.fixed,
            orders_placed=self.orders_placed,
        )
