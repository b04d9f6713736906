r"""The events of one period, written once.

Every run of the simulator (eager or compiled, one period or a block of periods, lean or full
ledger, with or without gradients) and both Gymnasium adapters advance the state with
:func:`period`; the review-day and warm-up rules are :meth:`Timing.flags`. Nothing else in
orkit states them.

**State.** :class:`State` is what a policy sees on a review day: on-hand *after* the period's
arrival [I^0] and the pipeline [I^1, ..., I^{L-1}] (``pipeline[j]`` arrives in ``j + 1``
periods). The slot that arrives in ``L`` periods is always empty at that moment (it receives
today's order), so it is not carried. The inventory position is on-hand plus the pipeline.

**Events of period t** (DeepStock timing, paper.md section 1):

1. *arrival*: the order placed in ``t - L`` joins on-hand (it clears backlog first); this ends
   the previous call of :func:`period`, so the state a call receives is the one the policy
   observed;
2. *order*: on a review day (``t = P, 2P, ...``) the policy's order is clipped to
   ``[0, max_order]`` (one cap for every SKU, or each SKU's own); with ``L = 0`` it is on hand
   at once, otherwise it joins the pipeline slot that arrives at the start of ``t + L``;
3. *demand* ``d_t``: sales are ``min(max(on-hand, 0), d_t)``; under backorders on-hand falls
   by ``d_t`` (backlog is negative on-hand), under lost sales by the sales;
4. *ledger entries* (:class:`Entries`): end-of-period on-hand ``y_t``, sales, the order, the
   shortage (backlog ``max(-y_t, 0)`` or lost demand ``d_t - sales``) and the demand. Costs are
   ``h * max(y_t, 0) + b * shortage_t + K * 1[q_t > 0]`` (:func:`orkit.sim.ledger.period_cost`;
   the ledgers charge the same from these entries); periods before the warm-up are not counted.

:func:`period` is pure and out of place, so ``torch.compile`` traces it (alone, with the
policy's ``act``, or unrolled over a block of periods) and autograd differentiates it.

**What comes next goes here.** Each extension is a change to :func:`period` and its tuples:

- per-SKU holding, shortage and fixed costs (implemented): cost rates of shape ``(n_skus,)``
  in :class:`orkit.sim.ledger.CostRates` (the ledgers multiply units by rates, so nothing
  changes here; a problem with scalar costs keeps floats and does the same work as before);
- a fixed cost per order (implemented): the ledgers count ``order > 0`` from the entry
  ``order`` in counted periods (the lean sums only where some SKU has ``K > 0``) and weigh it
  by ``K``. The order is charged in the period it is placed;
- random lead times (implemented; orders may cross): :class:`Rules` carries the table of
  draws ``drawn[t, i]`` (:meth:`orkit.core.LeadTimeDistribution.draw`, drawn once per run
  before its first period, so every path sees the same numbers) and :meth:`Rules.at` gives
  period ``t``'s rules, whose ``lead_time`` is that period's row (shape ``(n_skus,)``); the
  per-SKU branch of step 2 then places each order into the slot of its own arrival period,
  with as many slots as the longest lead time. An order placed later with a shorter draw
  arrives earlier; what arrives in the same period is added. :class:`Timing` uses the longest
  lead time (warm-up ``L + P``, the last order of a SKU's life, review cycles). A run with a
  fixed lead time has no table and :meth:`Rules.at` returns its rules as they are;
- SKUs whose life starts or ends inside the horizon (implemented): :class:`Timing` carries
  each SKU's first and last period, and :meth:`Timing.flags` counts a SKU's review days and
  warm-up from its first period, orders only when the order arrives by its last period, and
  counts no period outside its life.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from orkit.core.problem import InventoryProblem

__all__ = ["State", "Entries", "Flags", "Timing", "Rules", "period", "served", "is_review_day", "review_days"]


def is_review_day(t, review_period):
    """Whether ``t`` is a review day: ``t = P, 2P, 3P, ...`` (DeepStock: the first review is at P).

    ``t`` and ``review_period`` may be ints (a bool results) or tensors (element-wise).
    """
    return (t >= review_period) & (t % review_period == 0)


def review_days(n_periods: int, review_period: int) -> np.ndarray:
    """The review days in ``[0, n_periods)`` for one review period (int64 array).

    Examples
    --------
    >>> review_days(9, 2).tolist()
    [2, 4, 6, 8]
    """
    t = np.arange(n_periods, dtype=np.int64)
    return t[is_review_day(t, int(review_period))]


class Flags(NamedTuple):
    """What period ``t`` is, per SKU or for all: bools, bool tensors of shape (n_skus,), or
    0-dim bool tensors (inside compiled blocks)."""

    review: bool | torch.Tensor
    """A review day: the policy's order is placed."""
    counted: bool | torch.Tensor
    """After the warm-up: the period enters costs and metrics."""
    cycle_start: bool | torch.Tensor
    """A counted review cycle starts: the order of the review day ``t - L`` arrives."""
    in_cycle: bool | torch.Tensor
    """A counted review cycle is open (it started at or before ``t``)."""


class Timing(NamedTuple):
    """Lead time [L], review period [P] and warm-up [W]: ints shared by every SKU, or int64
    tensors of shape (n_skus,) (with random lead times, ``lead_time`` is the longest); and, for SKUs that start or end inside the horizon, each SKU's
    first and last period (int64 tensors; None when every SKU lives the whole horizon)."""

    lead_time: int | torch.Tensor
    review_period: int | torch.Tensor
    warmup: int | torch.Tensor
    first: torch.Tensor | None = None
    last: torch.Tensor | None = None

    @classmethod
    def of(cls, problem: InventoryProblem, n_skus: int, device: torch.device | str = "cpu",
           life: tuple[torch.Tensor, torch.Tensor] | None = None, history: int = 0) -> "Timing":
        """The timing of ``problem`` for ``n_skus`` SKUs (ints where every SKU shares it and
        lives the whole horizon; ``life`` is ``(first, last)`` per SKU otherwise).

        ``history``: the first ``history`` periods are a backtest window's history; the
        warm-up is :meth:`InventoryProblem.warmups` given the periods each SKU lived before."""
        lived = None if not history else history if life is None else history - life[0].cpu().numpy()
        per_sku = (problem.max_lead_times(n_skus), problem.review_periods(n_skus), problem.warmups(n_skus, lived))
        if life is None and (n_skus == 0 or all((v == v[0]).all() for v in per_sku)):
            if problem.per_sku:  # one value shared by per-SKU laws (random lead times)
                return cls(*(int(v[0]) for v in per_sku))
            first = problem.max_lead_times(1), problem.review_periods(1), problem.warmups(1, lived)
            return cls(*(int(v[0]) for v in first))
        lives = () if life is None else tuple(torch.as_tensor(v, device=device) for v in life)
        return cls(*(torch.as_tensor(v.copy(), device=device) for v in per_sku), *lives)

    @property
    def shared(self) -> bool:
        """Whether every SKU has the same timing (ints)."""
        return isinstance(self.lead_time, int)

    @property
    def max_lead_time(self) -> int:
        return self.lead_time if self.shared else int(self.lead_time.max())

    def flags(self, t) -> Flags:
        """The flags of period ``t`` (an int, or a tensor of periods that broadcasts with the SKUs).

        A SKU's own clock starts at its first period: its review days and warm-up count from
        there. It orders only while an order arrives by its last period, and no period
        outside its life is counted."""
        L, P, W = self.lead_time, self.review_period, self.warmup
        age = t if self.first is None else t - self.first
        counted = age >= W
        # the first counted cycle starts at s = L + kP >= max(W, L + P): k = max(ceil((W - L) / P), 1)
        k = -((L - W) // P)
        first_cycle = L + P * (max(k, 1) if isinstance(k, int) else k.clamp(min=1))
        review, in_cycle = is_review_day(age, P), age >= first_cycle
        if self.first is not None:
            alive = (age >= 0) & (t <= self.last)
            review = review & (t + L <= self.last)  # & age >= 0, by the review rule
            counted, in_cycle = counted & alive, in_cycle & alive
        return Flags(
            review=review,
            counted=counted,
            cycle_start=counted & is_review_day(age - L, P),
            in_cycle=in_cycle,
        )

    def rows(self, n_periods: int, n_skus: int, device: torch.device | str = "cpu") -> Flags:
        """Flags of every period as (n_periods, n_skus) bool tensors (broadcast views when shared)."""
        t = torch.arange(n_periods, device=device).unsqueeze(1)
        return Flags(*(torch.as_tensor(f, device=device).expand(n_periods, n_skus) for f in self.flags(t)))


class State(NamedTuple):
    """The state on a review day, after the period's arrival (see the module docstring)."""

    on_hand: torch.Tensor
    """On-hand inventory [I^0], shape (n_skus,); negative values are backlog."""
    pipeline: tuple[torch.Tensor, ...]
    """``pipeline[j]`` arrives in ``j + 1`` periods; ``max_lead_time - 1`` slots."""

    @classmethod
    def initial(cls, on_hand: torch.Tensor, max_lead_time: int) -> "State":
        """Period 0: ``on_hand`` and an empty pipeline."""
        return cls(on_hand, tuple(torch.zeros_like(on_hand) for _ in range(max_lead_time - 1)))

    @property
    def inventory_position(self) -> torch.Tensor:
        """On-hand plus everything in the pipeline [tot(I)]."""
        position = self.on_hand
        for slot in self.pipeline:
            position = position + slot
        return position


class Entries(NamedTuple):
    """The ledger entries of one period, shape (n_skus,) each."""

    on_hand: torch.Tensor
    """End-of-period on-hand [y_t]."""
    sales: torch.Tensor
    """Demand served from stock in the period."""
    order: torch.Tensor
    """The order placed (0 on days that are not review days)."""
    shortage: torch.Tensor
    """Backlog ``max(-y_t, 0)`` (backorders) or lost demand (lost sales)."""
    demand: torch.Tensor
    """Demand [d_t]."""


def served(on_hand: torch.Tensor, demand: torch.Tensor) -> torch.Tensor:
    """Sales: demand served from on-hand stock [min(max(I^0, 0), d)]."""
    return torch.minimum(on_hand.clamp(min=0.0), demand)


class Rules(NamedTuple):
    """What the events of a period follow besides the state, the demand and the review flag."""

    lead_time: int | torch.Tensor
    """[L]: an int shared by every SKU, or an int tensor of shape (n_skus,)."""
    lost_sales: bool
    """Unmet demand is lost (True) or backordered (False)."""
    max_order: float | torch.Tensor | None
    """Every order is clipped to ``[0, max_order]`` [q_max]: a float shared by every SKU, or a
    tensor of shape (n_skus,) in the simulation's dtype (one cap per SKU)."""
    drawn: torch.Tensor | None = None
    """Random lead times: ``drawn[t, i]`` is the lead time of an order SKU ``i`` places in
    period ``t`` (int64 tensor of shape (n_periods, n_skus)); None for a fixed lead time."""

    def at(self, t, rows=None) -> "Rules":
        """The rules of period ``t``: with random lead times, ``lead_time`` is row ``t`` of
        ``drawn`` (the columns ``rows`` only, where given: the Gymnasium adapters pick each
        sub-environment's path); otherwise these rules."""
        if self.drawn is None:
            return self
        lead_time = self.drawn[t] if rows is None else self.drawn[t, rows]
        return Rules(lead_time, self.lost_sales, self.max_order)

    @classmethod
    def of(cls, problem: InventoryProblem, timing: "Timing", n_periods: int, n_skus: int,
           device: torch.device | str = "cpu", max_order: float | None = None, pad: int = 0,
           dtype: torch.dtype = torch.float32) -> "Rules":
        """The rules of ``problem`` (``max_order`` overrides the problem's): with random lead
        times, the draws of ``n_periods`` periods (plus ``pad`` rows that repeat the last, for
        compiled blocks that run past the horizon) and ``n_skus`` SKUs; a per-SKU
        ``max_order`` as a tensor of ``dtype`` (the simulation's)."""
        max_order = problem.max_order if max_order is None else max_order
        if np.ndim(max_order) == 1:
            max_order = torch.tensor(problem.max_orders(n_skus), dtype=dtype, device=device)  # a copy: read-only input
        drawn = None
        if problem.random_lead_time:
            table = problem.lead_time.draw(n_periods, n_skus)
            if pad and n_periods:
                table = np.concatenate([table, np.repeat(table[-1:], pad, axis=0)])
            drawn = torch.as_tensor(table, device=device)
        return cls(timing.lead_time, problem.lost_sales, max_order, drawn)


def period(
    state: State, order: torch.Tensor | None, demand: torch.Tensor, review: bool | torch.Tensor, rules: Rules
) -> tuple[State, Entries]:
    """One period: the order, the demand, the ledger entries, then the next period's arrival.

    Parameters
    ----------
    state : State
        The state the policy observed (after this period's arrival).
    order : Tensor of shape (n_skus,) or None
        The policy's order (None, or ignored, where ``review`` is False).
    demand : Tensor of shape (n_skus,)
    review : bool or bool Tensor
        A review day, for all SKUs (bool, 0-dim tensor) or per SKU (shape (n_skus,)).
    rules : Rules
        This period's rules (:meth:`Rules.at`): ``rules.lead_time`` is an int, or one lead time
        per SKU (per-SKU or drawn lead times).

    Returns
    -------
    (State, Entries)
        The state after the next period's arrival, and this period's ledger entries.
    """
    on, lead_time = state.on_hand, rules.lead_time
    # 2. order: clipped to [0, max_order], placed on review days only
    if review is False or order is None:
        q = torch.zeros_like(on)
    else:
        cap = rules.max_order  # one cap for every SKU (a float) or one per SKU (a tensor)
        q = order.clamp(min=0.0) if cap is None else order.clamp(0.0, cap) if not isinstance(cap, torch.Tensor) \
            else order.clamp(min=0.0).clamp(max=cap)
        if review is not True:
            q = torch.where(review, q, 0.0)
    # ... on hand at once (L = 0), or into the slot that arrives at the start of t + L
    if isinstance(lead_time, int):
        slots = state.pipeline + (q,) if lead_time > 0 else ()
        if lead_time == 0:
            on = on + q
    else:
        on = on + q * (lead_time == 0)
        slots = tuple(s + q * (lead_time == j + 1) for j, s in enumerate(state.pipeline + (torch.zeros_like(q),)))
    # 3. demand: backorders carry negative on-hand; lost sales serve what is on hand
    sales = served(on, demand)
    y = on - sales if rules.lost_sales else on - demand
    shortage = demand - sales if rules.lost_sales else (-y).clamp(min=0.0)
    # 4. ledger entries; then 1. the next period's arrival
    entries = Entries(on_hand=y, sales=sales, order=q, shortage=shortage, demand=demand)
    if not slots:
        return State(y, ()), entries
    return State(y + slots[0], slots[1:]), entries
