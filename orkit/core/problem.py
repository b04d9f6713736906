"""The inventory control problem: timing, cost rates and the treatment of unmet demand."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orkit.core.errors import DataError, ValidationError
from orkit.core.lead_time import LeadTimeDistribution
from orkit.core.validation import check_float, check_int, check_int_array

__all__ = ["InventoryProblem", "PER_SKU_FIELDS", "COST_ATTRIBUTES"]


def _int_or_array(name: str, value: Any, minimum: int) -> int | np.ndarray:
    if np.ndim(value) == 0:
        return check_int(name, value.item() if hasattr(value, "item") else value, minimum=minimum)
    arr = check_int_array(name, value, minimum=minimum)
    arr.setflags(write=False)
    return arr


def _float_or_array(name: str, value: Any) -> float | np.ndarray:
    """A cost rate >= 0: a float, or a read-only float64 array with one finite value per SKU."""
    if np.ndim(value) == 0:
        return check_float(name, value.item() if isinstance(value, np.ndarray | np.generic) else value, minimum=0)
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be a number or one number per SKU (1-d), got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValidationError(f"{name} must hold numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"{name} must be finite, got {arr[i]} at SKU index {i}")
    if arr.size and arr.min() < 0:
        i = int(np.argmin(arr))
        raise ValidationError(f"{name} must be >= 0, got {arr[i]:g} at SKU index {i}")
    arr.setflags(write=False)
    return arr


def _cap_or_array(value: Any) -> float | np.ndarray | None:
    """An order cap > 0: None, a float, or a read-only float64 array with one finite value per SKU."""
    if value is None:
        return None
    if np.ndim(value) == 0:
        return check_float("max_order", value.item() if isinstance(value, np.ndarray | np.generic) else value,
                           minimum=0, strict_minimum=True)
    arr = _float_or_array("max_order", value)
    if arr.size and arr.min() <= 0:
        i = int(np.argmin(arr))
        raise ValidationError(f"max_order must be > 0, got {arr[i]:g} at SKU index {i}")
    return arr


#: Fields that may hold one value per SKU (they must agree on the number of SKUs).
PER_SKU_FIELDS = ("lead_time", "review_period", "holding_cost", "shortage_cost", "fixed_cost", "max_order")

#: Dataset attributes that set costs (:meth:`InventoryProblem.with_attributes`): the rates
#: themselves, or the money from which they follow (``h = holding_rate * unit_cost``, ``b = margin``).
COST_ATTRIBUTES = ("holding_cost", "shortage_cost", "fixed_cost", "unit_cost", "holding_rate", "margin")


def _attribute(table: Any, column: str, sku_ids: np.ndarray) -> np.ndarray:
    """A numeric attribute >= 0 as float64, or a DataError naming the SKU."""
    series = table[column]
    kind = getattr(series.dtype, "kind", "O")
    if kind not in "iuf":
        raise DataError(f"attribute {column} must hold numbers, got dtype {series.dtype}")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    for bad, rule in ((~np.isfinite(values), "be a finite number"), (values < 0, "be >= 0")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"attribute {column} must {rule}, got {values[i]:g} at sku {str(sku_ids[i])!r}")
    return values


def _law_from_mapping(table: Mapping) -> LeadTimeDistribution:
    """A lead-time law from its arguments by name (``values``, ``probabilities``, ``seed``)."""
    unknown = sorted(set(table) - {"values", "probabilities", "seed"})
    missing = sorted({"values", "probabilities"} - set(table))
    if unknown or missing:
        raise ValidationError(
            "lead_time as a table takes 'values', 'probabilities' and optionally 'seed' (a random lead time); "
            + (f"unknown key(s) {unknown}" if unknown else f"missing {missing}"))
    return LeadTimeDistribution(table["values"], table["probabilities"], seed=table.get("seed", 0))


@dataclass(frozen=True)
class InventoryProblem:
    """A periodic-review single-echelon inventory problem.

    Parameters
    ----------
    lead_time : int, array of int or LeadTimeDistribution, default=1
        Periods between placing an order and having it on hand [L]; ``L >= 0``. An order placed
        in period ``t`` is on hand at the start of period ``t + L`` (with ``L = 0``: before the
        demand of ``t``). A scalar or one value per SKU; or a
        :class:`~orkit.core.lead_time.LeadTimeDistribution` (random lead times: each order draws
        its own, orders may cross; the rule is in :mod:`orkit.core.lead_time`), also given as a
        mapping of its arguments (``{"values": [1, 3], "probabilities": [0.6, 0.4], "seed": 5}``,
        as a study file's ``[problem.lead_time]`` table writes it). With random lead
        times, the timing rules that need one number (the warm-up ``L + P``, the pipeline's width,
        the last order a SKU places before its life ends) use the longest lead time with positive
        probability (:meth:`max_lead_times`); families that need a fixed lead time refuse it.
    review_period : int or array of int, default=1
        Periods between two order opportunities [P]; ``P >= 1``. Orders are placed on the review
        days ``t = P, 2P, 3P, ...`` (DeepStock timing). A scalar or one value per SKU.
    holding_cost : float or array of float, default=0.1
        Cost per unit on hand at the end of a period [h]; ``h >= 0``. A scalar or one value
        per SKU.
    shortage_cost : float or array of float, default=0.9
        Cost per unit short at the end of a period [b]: each unit of backlog at the end of each
        period under backorders (a backlogged unit is charged every period it waits), each unit
        of lost demand once under lost sales; ``b >= 0``. A scalar or one value per SKU.
    fixed_cost : float or array of float, default=0.0
        Fixed ordering cost [K], charged once for every order placed with a quantity > 0 (after
        clipping to ``max_order``) on a review day, in counted periods; ``K >= 0``. A scalar or
        one value per SKU. Its charge has no gradient with respect to the order quantity (the
        indicator ``q > 0`` is a step).
    lost_sales : bool, default=False
        ``False``: unmet demand is backordered (on-hand may go negative). ``True``: unmet demand
        is lost.
    warmup_periods : int or None, default=None
        Periods excluded from costs and metrics. ``None`` means ``L + P`` per SKU, the first
        period an order can influence (DeepStock).
    max_order : float, array of float or None, default=None
        Upper bound on any order [q_max]; ``None`` means unbounded. Every order is clipped to
        ``[0, max_order]`` (by :func:`orkit.sim.dynamics.period`, the one place that clips). A
        scalar or one value per SKU, each > 0.
    initial_on_hand : float, default=0.0
        On-hand inventory at the start of period 0 (DeepStock starts empty).
    sku_ids : sequence of str or None, default=None
        The SKUs that per-SKU values belong to, in their order. ``None``: per-SKU values belong
        to the data's SKUs by position. With ids, the problem serves any dataset whose SKUs it
        names (a split, a backtest window): :meth:`for_data` picks each SKU's values by id, and
        the simulator calls it. :meth:`with_attributes` sets them.

    Examples
    --------
    >>> InventoryProblem(lead_time=1, review_period=2)   # DeepStock synthetic settings
    InventoryProblem(lead_time=1, review_period=2, holding_cost=0.1, shortage_cost=0.9, lost_sales=False, warmup_periods=None, max_order=None, initial_on_hand=0.0, fixed_cost=0.0)
    >>> InventoryProblem(lead_time=-1)
    Traceback (most recent call last):
    ...
    orkit.core.errors.ValidationError: lead_time must be >= 0, got -1
    """

    lead_time: int | np.ndarray = 1
    review_period: int | np.ndarray = 1
    holding_cost: float | np.ndarray = 0.1
    shortage_cost: float | np.ndarray = 0.9
    lost_sales: bool = False
    warmup_periods: int | None = None
    max_order: float | np.ndarray | None = None
    initial_on_hand: float = 0.0
    fixed_cost: float | np.ndarray = 0.0
    sku_ids: tuple[str, ...] | None = field(default=None, repr=False)
    _check: None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if isinstance(self.lead_time, Mapping):  # a study file's table: the law's arguments
            set_(self, "lead_time", _law_from_mapping(self.lead_time))
        if not isinstance(self.lead_time, LeadTimeDistribution):
            set_(self, "lead_time", _int_or_array("lead_time", self.lead_time, 0))
        set_(self, "review_period", _int_or_array("review_period", self.review_period, 1))
        for name in ("holding_cost", "shortage_cost", "fixed_cost"):
            set_(self, name, _float_or_array(name, getattr(self, name)))
        if not isinstance(self.lost_sales, (bool, np.bool_)):
            raise ValidationError(f"lost_sales must be True or False, got {self.lost_sales!r}")
        set_(self, "lost_sales", bool(self.lost_sales))
        if self.warmup_periods is not None:
            set_(self, "warmup_periods", check_int("warmup_periods", self.warmup_periods, minimum=0))
        set_(self, "max_order", _cap_or_array(self.max_order))
        set_(self, "initial_on_hand", check_float("initial_on_hand", self.initial_on_hand))
        if self.lost_sales and self.initial_on_hand < 0:
            raise ValidationError(
                f"initial_on_hand must be >= 0 under lost sales, got {self.initial_on_hand:g}"
            )
        sizes = {name: np.size(getattr(self, name)) for name in PER_SKU_FIELDS if np.ndim(getattr(self, name)) == 1}
        if self.random_lead_time and self.lead_time.per_sku:
            sizes["lead_time"] = self.lead_time.n_skus
        if self.sku_ids is not None:
            ids = np.asarray(self.sku_ids)
            if ids.ndim != 1:
                raise ValidationError(f"sku_ids must be a sequence of SKU ids, got shape {ids.shape}")
            set_(self, "sku_ids", tuple(str(v) for v in ids))
            if len(set(self.sku_ids)) != len(self.sku_ids):
                raise ValidationError("sku_ids must not repeat a SKU")
            sizes = {"sku_ids": len(self.sku_ids), **sizes}
        if len(set(sizes.values())) > 1:
            raise ValidationError(
                "per-SKU values must have the same number of SKUs, got "
                + ", ".join(f"{name} {n}" for name, n in sizes.items())
            )

    # ------------------------------------------------------------------ derived quantities
    @property
    def critical_ratio(self) -> float | np.ndarray:
        """Newsvendor critical ratio ``b / (b + h)`` (0.9 in DeepStock's settings): a float, or
        one value per SKU (float64 array) where a cost is given per SKU."""
        h, b = self.holding_cost, self.shortage_cost
        total = np.asarray(h) + np.asarray(b)
        if np.any(total == 0):
            at = "" if total.ndim == 0 else f" at SKU index {int(np.flatnonzero(total == 0)[0])}"
            raise ValidationError(f"holding_cost + shortage_cost must be > 0 for a critical ratio, got 0{at}")
        ratio = np.asarray(b) / total
        return float(ratio) if ratio.ndim == 0 else ratio

    @property
    def per_sku(self) -> bool:
        """Whether lead time or review period differ by SKU (per-SKU costs: :attr:`per_sku_costs`)."""
        if self.random_lead_time and self.lead_time.per_sku:
            return True
        return np.ndim(self.lead_time) == 1 or np.ndim(self.review_period) == 1

    @property
    def random_lead_time(self) -> bool:
        """Whether ``lead_time`` is a :class:`~orkit.core.lead_time.LeadTimeDistribution`."""
        return isinstance(self.lead_time, LeadTimeDistribution)

    @property
    def per_sku_costs(self) -> bool:
        """Whether the holding, shortage or fixed cost is given per SKU."""
        return any(np.ndim(getattr(self, k)) == 1 for k in ("holding_cost", "shortage_cost", "fixed_cost"))

    @property
    def n_skus(self) -> int | None:
        """The number of SKUs the per-SKU values are for (None where every field is a scalar)."""
        if self.random_lead_time and self.lead_time.per_sku:
            return self.lead_time.n_skus
        for name in PER_SKU_FIELDS:
            value = getattr(self, name)
            if np.ndim(value) == 1:
                return int(np.size(value))
        return None

    @property
    def max_lead_time(self) -> int:
        """The longest lead time (with random lead times: the longest with positive probability)."""
        if self.random_lead_time:
            return self.lead_time.max_value
        return int(np.max(self.lead_time))

    def lead_times(self, n_skus: int) -> np.ndarray:
        """Lead time per SKU as an int64 array of length ``n_skus`` (refused for random lead
        times, which have no one value: see :meth:`max_lead_times`)."""
        return self._broadcast("lead_time", self.lead_time, n_skus)

    def max_lead_times(self, n_skus: int) -> np.ndarray:
        """The longest lead time per SKU (int64, length ``n_skus``): the lead time itself when it
        is fixed, the longest with positive probability when it is random. The simulator's
        timing rules (warm-up, pipeline width, the last order of a SKU's life) use it."""
        if self.random_lead_time:
            return self.lead_time.max_values(n_skus)
        return self.lead_times(n_skus)

    def review_periods(self, n_skus: int) -> np.ndarray:
        """Review period per SKU as an int64 array of length ``n_skus``."""
        return self._broadcast("review_period", self.review_period, n_skus)

    def holding_costs(self, n_skus: int) -> np.ndarray:
        """Holding cost per SKU as a float64 array of length ``n_skus``."""
        return self._broadcast_float("holding_cost", self.holding_cost, n_skus)

    def shortage_costs(self, n_skus: int) -> np.ndarray:
        """Shortage cost per SKU as a float64 array of length ``n_skus``."""
        return self._broadcast_float("shortage_cost", self.shortage_cost, n_skus)

    def fixed_costs(self, n_skus: int) -> np.ndarray:
        """Fixed ordering cost per SKU as a float64 array of length ``n_skus``."""
        return self._broadcast_float("fixed_cost", self.fixed_cost, n_skus)

    def max_orders(self, n_skus: int) -> np.ndarray | None:
        """Order cap per SKU as a float64 array of length ``n_skus``, or None without a cap."""
        if self.max_order is None:
            return None
        return self._broadcast_float("max_order", self.max_order, n_skus)

    def subset(self, index: Any) -> "InventoryProblem":
        """The problem of some SKUs: every per-SKU field (and ``sku_ids``) indexed by ``index``
        (positions or a boolean mask over the problem's SKUs); scalar fields unchanged."""
        if self.n_skus is None:
            return self
        changes = {name: np.asarray(getattr(self, name))[index] for name in PER_SKU_FIELDS
                   if np.ndim(getattr(self, name)) == 1}
        if self.random_lead_time:
            changes["lead_time"] = self.lead_time.subset(index)
        if self.sku_ids is not None:
            changes["sku_ids"] = np.asarray(self.sku_ids)[index]
        return self.with_(**changes)

    def for_data(self, data: Any) -> "InventoryProblem":
        """The problem of ``data``'s SKUs, by position.

        A problem without ``sku_ids`` is returned as it is (its per-SKU values, if any, belong
        to the data's SKUs by position). A problem with ``sku_ids`` picks each SKU's values by
        id from ``data.sku_ids`` (a Dataset, a split, a backtest window, a
        :class:`~orkit.sim.SimulationInput` made from one); a SKU it does not name is an error.
        """
        if self.sku_ids is None:
            return self
        ids = getattr(data, "sku_ids", None)
        if ids is None:
            raise ValidationError(
                "the problem's per-SKU values are keyed by SKU id (sku_ids): give a Dataset (or data with sku_ids), "
                "not a bare demand array"
            )
        ids = np.asarray(ids).astype(str)
        if ids.shape == (len(self.sku_ids),) and (ids == np.asarray(self.sku_ids)).all():
            return self.with_(sku_ids=None)
        known = {sku: i for i, sku in enumerate(self.sku_ids)}
        missing = [sku for sku in ids.tolist() if sku not in known]
        if missing:
            shown = ", ".join(repr(s) for s in missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise ValidationError(
                f"the problem has no per-SKU values for {len(missing)} of the data's SKUs ({shown}); its values "
                f"are keyed by the {len(self.sku_ids)} SKUs it was made for"
            )
        rows = np.array([known[sku] for sku in ids.tolist()], dtype=np.int64)  # repeats allowed (minibatches)
        changes = {name: np.asarray(getattr(self, name))[rows] for name in PER_SKU_FIELDS
                   if np.ndim(getattr(self, name)) == 1}
        if self.random_lead_time:
            changes["lead_time"] = self.lead_time.subset(rows)
        return self.with_(sku_ids=None, **changes)

    def with_attributes(self, data: Any, *, given: Any = ()) -> "InventoryProblem":
        """This problem with the per-SKU values held in ``data``'s attributes, keyed by SKU id.

        Attributes read (each optional; one value per SKU, numbers >= 0):

        - ``lead_time``, ``review_period``: timing per SKU [L], [P];
        - ``max_order``: the largest order of each SKU [q_max] (> 0);
        - ``holding_cost``, ``shortage_cost``, ``fixed_cost``: the cost rates [h], [b], [K];
        - or money: ``unit_cost`` and ``holding_rate`` (share of the unit cost per period),
          from which ``h = holding_rate * unit_cost``; ``margin`` (money per unit), from which
          ``b = margin``. Under lost sales ``b`` is the margin of each lost unit; under
          backorders the margin is charged for every period a unit stays backlogged.
          ``unit_cost`` alone sets no rate (reports use it for the inventory value).

        Parameters
        ----------
        data : Dataset
            Its ``attributes`` and ``sku_ids``.
        given : iterable of str
            Fields the user set explicitly (a study's ``[problem]`` table, command-line flags):
            an attribute for the same field is an error rather than a silent choice between
            the two. A field this problem already holds per SKU counts as given.

        Returns
        -------
        InventoryProblem
            Keyed by ``data.sku_ids`` where some attribute applies (use :meth:`for_data` for a
            subset of the SKUs); this problem unchanged otherwise.
        """
        table = getattr(data, "attributes", None)
        if table is None or not len(getattr(table, "columns", ())):
            return self
        columns = set(table.columns)
        ids = np.asarray(data.sku_ids).astype(str)
        values: dict[str, Any] = {}
        for name in ("lead_time", "review_period", "holding_cost", "shortage_cost", "fixed_cost", "max_order"):
            if name in columns:
                values[name] = table[name].to_numpy() if name in ("lead_time", "review_period") \
                    else _attribute(table, name, ids)
        if "max_order" in values and not (values["max_order"] > 0).all():
            i = int(np.flatnonzero(values["max_order"] <= 0)[0])
            raise DataError(f"attribute max_order must be > 0, got {values['max_order'][i]:g} at sku {str(ids[i])!r}")
        money = {c: _attribute(table, c, ids) for c in ("unit_cost", "holding_rate", "margin") if c in columns}
        if "holding_rate" in money:
            if "unit_cost" not in money:
                raise DataError("attribute holding_rate needs a unit_cost attribute (h = holding_rate * unit_cost)")
            if "holding_cost" in values:
                raise DataError("attributes holding_cost and unit_cost x holding_rate both set the holding cost: "
                                "keep one")
            values["holding_cost"] = money["holding_rate"] * money["unit_cost"]
        if "margin" in money:
            if "shortage_cost" in values:
                raise DataError("attributes shortage_cost and margin both set the shortage cost: keep one")
            values["shortage_cost"] = money["margin"]
        if not values:
            return self
        given = set(given) | {name for name in PER_SKU_FIELDS if np.ndim(getattr(self, name)) == 1}
        if self.random_lead_time:
            given.add("lead_time")
        clash = [name for name in values if name in given]
        if clash:
            source = {"holding_cost": "holding_cost or unit_cost x holding_rate", "shortage_cost": "shortage_cost or margin"}
            raise ValidationError(
                f"{clash[0]} is set both by the problem ({getattr(self, clash[0])!r}) and by the data's attributes "
                f"({source.get(clash[0], clash[0])}): remove one"
            )
        return self.with_(sku_ids=ids, **values)

    def warmups(self, n_skus: int, lived: Any = None) -> np.ndarray:
        """Warm-up periods per SKU (``L + P`` unless ``warmup_periods`` is set), counted from
        each SKU's first period.

        ``lived`` (int or int array of shape (n_skus,)) is the number of periods each SKU has
        already lived before a scored window, simulated with the policy under test (a backtest
        window that starts from the state its history leaves): such a window is scored from
        its first period, so the warm-up is ``max(lived, L + P)``: a SKU that lived long enough
        is scored at once, a SKU launched shortly before (or inside) the window finishes its
        own warm-up first.
        """
        if self.warmup_periods is not None:
            warmup = np.full(n_skus, self.warmup_periods, dtype=np.int64)
        else:
            warmup = self.max_lead_times(n_skus) + self.review_periods(n_skus)
        return warmup if lived is None else np.maximum(warmup, np.asarray(lived, dtype=np.int64))

    def describe(self) -> str:
        """One line for people: ``lead time 1, review period 2, holding 0.1, ...``.

        Examples
        --------
        >>> InventoryProblem(lead_time=1, review_period=2, max_order=100).describe()
        'lead time 1, review period 2, holding cost 0.1, shortage cost 0.9, backorders, max order 100, warm-up L + P'
        """
        def values(v: Any) -> str:
            if isinstance(v, LeadTimeDistribution):
                return f"random (mean {np.mean(v.mean):g}, max {v.max_value})"
            if np.ndim(v) == 0:
                return f"{v:g}" if isinstance(v, float) else str(v)
            return f"{np.min(v):g}..{np.max(v):g} (per SKU)"

        parts = [f"lead time {values(self.lead_time)}", f"review period {values(self.review_period)}",
                 f"holding cost {values(self.holding_cost)}", f"shortage cost {values(self.shortage_cost)}",
                 "lost sales" if self.lost_sales else "backorders"]
        if np.ndim(self.fixed_cost) or self.fixed_cost:
            parts.append(f"fixed cost {values(self.fixed_cost)}")
        if self.max_order is not None:
            parts.append(f"max order {values(self.max_order)}")
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

    @staticmethod
    def _broadcast_float(name: str, value: float | np.ndarray, n_skus: int) -> np.ndarray:
        if np.ndim(value) == 0:
            return np.full(n_skus, float(value), dtype=np.float64)
        if len(value) != n_skus:
            raise ValidationError(f"{name} has {len(value)} values but the data has {n_skus} SKUs")
        return np.asarray(value, dtype=np.float64)
