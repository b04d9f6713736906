"""The inventory control problem: timing, cost rates and the treatment of unmet demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orkit.core.errors import ValidationError
from orkit.core.validation import check_float, check_int, check_int_array

__all__ = ["InventoryProblem"]


def _int_or_array(name: str, value: Any, minimum: int) -> int | np.ndarray:
    if np.ndim(value) == 0:
        return check_int(name, value.item() if hasattr(value, "item") else value, minimum=minimum)
    arr = check_int_array(name, value, minimum=minimum)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class InventoryProblem:
    """A periodic-review single-echelon inventory problem.

    Parameters
    ----------
    lead_time : int or array of int, default=1
        Periods between placing an order and having it on hand [L]; ``L >= 0``. An order placed
        in period ``t`` is on hand at the start of period ``t + L`` (with ``L = 0``: before the
        demand of ``t``). A scalar or one value per SKU.
    review_period : int or array of int, default=1
        Periods between two order opportunities [P]; ``P >= 1``. Orders are placed on the review
        days ``t = P, 2P, 3P, ...`` (DeepStock timing). A scalar or one value per SKU.
    holding_cost : float, default=0.1
        Cost per unit on hand at the end of a period [h]; ``h >= 0``.
    shortage_cost : float, default=0.9
        Cost per unit short at the end of a period [b]: backlog under backorders, lost demand
        under lost sales; ``b >= 0``.
    lost_sales : bool, default=False
        ``False``: unmet demand is backordered (on-hand may go negative). ``True``: unmet demand
        is lost.
    warmup_periods : int or None, default=None
        Periods excluded from costs and metrics. ``None`` means ``L + P`` per SKU, the first
        period an order can influence (DeepStock).
    max_order : float or None, default=None
        Upper bound on any order [q_max]; ``None`` means unbounded. Every order is clipped to
        ``[0, max_order]``.
    initial_on_hand : float, default=0.0
        On-hand inventory at the start of period 0 (DeepStock starts empty).

    Examples
    --------
    >>> InventoryProblem(lead_time=1, review_period=2)   # DeepStock synthetic settings
    InventoryProblem(lead_time=1, review_period=2, holding_cost=0.1, shortage_cost=0.9, lost_sales=False, warmup_periods=None, max_order=None, initial_on_hand=0.0)
    >>> InventoryProblem(lead_time=-1)
    Traceback (most recent call last):
    ...
    orkit.core.errors.ValidationError: lead_time must be >= 0, got -1
    """

    lead_time: int | np.ndarray = 1
    review_period: int | np.ndarray = 1
    holding_cost: float = 0.1
    shortage_cost: float = 0.9
    lost_sales: bool = False
    warmup_periods: int | None = None
    max_order: float | None = None
    initial_on_hand: float = 0.0
    _check: None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "lead_time", _int_or_array("lead_time", self.lead_time, 0))
        set_(self, "review_period", _int_or_array("review_period", self.review_period, 1))
        set_(self, "holding_cost", check_float("holding_cost", self.holding_cost, minimum=0))
        set_(self, "shortage_cost", check_float("shortage_cost", self.shortage_cost, minimum=0))
        if not isinstance(self.lost_sales, (bool, np.bool_)):
            raise ValidationError(f"lost_sales must be True or False, got {self.lost_sales!r}")
        set_(self, "lost_sales", bool(self.lost_sales))
        if self.warmup_periods is not None:
            set_(self, "warmup_periods", check_int("warmup_periods", self.warmup_periods, minimum=0))
        if self.max_order is not None:
            set_(self, "max_order", check_float("max_order", self.max_order, minimum=0, strict_minimum=True))
        set_(self, "initial_on_hand", check_float("initial_on_hand", self.initial_on_hand))
        if self.lost_sales and self.initial_on_hand < 0:
            raise ValidationError(
                f"initial_on_hand must be >= 0 under lost sales, got {self.initial_on_hand:g}"
            )
        n = {np.size(v) for v in (self.lead_time, self.review_period) if np.ndim(v) == 1}
        if len(n) > 1:
            raise ValidationError(
                f"lead_time and review_period must have the same number of SKUs, got {sorted(n)}"
            )

    # ------------------------------------------------------------------ derived quantities
    @property
    def critical_ratio(self) -> float:
        """Newsvendor critical ratio ``b / (b + h)`` (0.9 in DeepStock's settings)."""
        total = self.holding_cost + self.shortage_cost
        if total == 0:
            raise ValidationError("holding_cost + shortage_cost must be > 0 for a critical ratio, got 0")
        return self.shortage_cost / total

    @property
    def per_sku(self) -> bool:
        """Whether lead time or review period differ by SKU."""
        return np.ndim(self.lead_time) == 1 or np.ndim(self.review_period) == 1

    @property
    def max_lead_time(self) -> int:
        return int(np.max(self.lead_time))

    def lead_times(self, n_skus: int) -> np.ndarray:
        """Lead time per SKU as an int64 array of length ``n_skus``."""
        return self._broadcast("lead_time", self.lead_time, n_skus)

    def review_periods(self, n_skus: int) -> np.ndarray:
        """Review period per SKU as an int64 array of length ``n_skus``."""
        return self._broadcast("review_period", self.review_period, n_skus)

    def warmups(self, n_skus: int) -> np.ndarray:
        """Warm-up periods per SKU (``L + P`` unless ``warmup_periods`` is set)."""
        if self.warmup_periods is not None:
            return np.full(n_skus, self.warmup_periods, dtype=np.int64)
        return self.lead_times(n_skus) + self.review_periods(n_skus)

    def describe(self) -> str:
        """One line for people: ``lead time 1, review period 2, holding 0.1, ...``.

        Examples
        --------
        >>> InventoryProblem(lead_time=1, review_period=2, max_order=100).describe()
        'lead time 1, review period 2, holding cost 0.1, shortage cost 0.9, backorders, max order 100, warm-up L + P'
        """
        def values(v: Any) -> str:
            if np.ndim(v) == 0:
                return f"{v:g}" if isinstance(v, float) else str(v)
            return f"{int(np.min(v))}..{int(np.max(v))} (per SKU)"

        parts = [f"lead time {values(self.lead_time)}", f"review period {values(self.review_period)}",
                 f"holding cost {self.holding_cost:g}", f"shortage cost {self.shortage_cost:g}",
                 "lost sales" if self.lost_sales else "backorders"]
        if self.max_order is not None:
            parts.append(f"max order {self.max_order:g}")
        parts.append(f"warm-up {self.warmup_periods} periods" if self.warmup_periods is not None else "warm-up L + P")
        if self.initial_on_hand:
            parts.append(f"initial on-hand {self.initial_on_hand:g}")
        return ", ".join(parts)

    def with_(self, **changes: Any) -> "InventoryProblem":
        """A copy with some fields changed (validated again)."""
        values = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "_check"}
        values.update(changes)
        return InventoryProblem(**values)

    @staticmethod
    def _broadcast(name: str, value: int | np.ndarray, n_skus: int) -> np.ndarray:
        if np.ndim(value) == 0:
            return np.full(n_skus, int(value), dtype=np.int64)
        if len(value) != n_skus:
            raise ValidationError(f"{name} has {len(value)} values but the data has {n_skus} SKUs")
        return np.asarray(value, dtype=np.int64)
