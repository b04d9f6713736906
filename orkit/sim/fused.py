"""Compiled periods of the fast path: lean blocks, lean steps and full-ledger periods.

``lean_block`` runs several periods of a fusable policy in one loop over SKUs (temporal
blocking, the fastest lean path); ``lean_step`` / ``lean_period`` run one lean period (for
policies that are not fusable); ``full_period`` writes one period of a full ledger.

The simulator is memory-bound: on a CPU an elementwise pass over a million SKUs costs about
the same whatever it computes, so the lean path's speed is set by the bytes a period moves.
Eagerly, the state update and the running sums take about 15 passes; compiled, they are one
loop (one kernel on a GPU). The same Python function runs in both modes, so there is one
definition of a period.

What a period touches per SKU is the state (on-hand, inventory position, the arriving and the
new pipeline slot), the demand, the order, and three per-SKU sums: holding units, shortage
units and sales, the terms of the per-SKU loss and turnover. Counts that metrics only use
in total (stockout periods, cycles with a shortage, demand) are reduced over SKUs inside the
same loop, which costs no extra memory traffic. Measured on a 2-core CPU, narrow types (a
bool flag, int16 counters) make Inductor's loop 4-6x slower because the conversions are not
vectorised, so every per-SKU tensor has the simulation's float dtype.

Flags that change from period to period (review day, counted, cycle start) are 0-dim tensors,
not Python values, so the compiled graph is not re-specialised every period.
"""

from __future__ import annotations

import logging
from typing import Callable

import torch

from orkit.core.policy import Observation

log = logging.getLogger(__name__)

__all__ = [
    "lean_step", "lean_period", "lean_block", "compiled_lean_step", "compiled_lean_period",
    "compiled_lean_block", "full_period", "compiled_full_period", "compiled", "TOTALS", "BLOCK_PERIODS",
    "FusionObservation", "FusionError",
]

#: Layout of the ``totals`` vector (float64): sums over SKUs and counted periods, plus the
#: demand's range (checked after the run instead of in a separate pass before it).
TOTALS = ("stockout_periods", "cycles_with_shortage", "demand", "demand_min", "demand_max")


def lean_step(
    on: torch.Tensor,
    ip: torch.Tensor,
    q: torch.Tensor,
    slot: torch.Tensor,
    arrival_next: torch.Tensor,
    d: torch.Tensor,
    pos_sum: torch.Tensor,
    short_sum: torch.Tensor,
    sales_sum: torch.Tensor,
    flag: torch.Tensor,
    totals: torch.Tensor,
    flags: torch.Tensor,
    max_order: float,
    lost: bool,
    zero_lead: bool,
    cycle_flag: bool,
) -> None:
    """Advance every SKU by one period, in place (events 2-4 of the simulator, then the next arrival).

    ``on`` enters as on-hand after this period's arrival and leaves as on-hand after the next
    period's arrival; ``slot`` receives this period's order (arriving at ``t + L``) and
    ``arrival_next`` is what arrives next period (the same tensor when ``L = 1``). ``flags``
    holds four 0/1 values: review day, counted period, a counted cycle starts (``close``: the
    running cycle ends) and a counted cycle is open (``track``). With ``cycle_flag`` (review
    period > 1) ``flag`` marks SKUs whose open cycle has had unmet demand; with a review period
    of 1 every period is a cycle and no flag is kept.
    """
    review, counted, close, track = flags[0], flags[1], flags[2], flags[3]
    qc = q.clamp(0.0, max_order) * review
    ip_in = ip + qc
    if zero_lead:
        on_in = on + qc
    else:
        slot.copy_(qc)
        on_in = on
    sales = torch.minimum(on_in.clamp(min=0.0), d)
    out = sales if lost else d
    y = on_in - out
    ip.copy_(ip_in - out)
    pos_sum.add_(y.clamp(min=0.0) * counted)
    short_sum.add_(((d - sales) if lost else (-y).clamp(min=0.0)) * counted)
    sales_sum.add_(sales * counted)
    unmet = (sales < d).to(y.dtype)
    if cycle_flag:
        closed = (flag * close).sum()
        flag.copy_(torch.maximum(flag * (1.0 - close), unmet * torch.maximum(track, close)))
    else:
        closed = (unmet * counted).sum()
    totals.add_(torch.stack([
        ((y <= 0).to(y.dtype) * counted).sum().double(),
        closed.double(),
        (d * counted).sum().double(),
        torch.zeros((), dtype=torch.float64, device=d.device),
        torch.zeros((), dtype=torch.float64, device=d.device),
    ]))
    totals[3] = torch.minimum(totals[3], d.min().double())
    totals[4] = torch.maximum(totals[4], d.max().double())
    if zero_lead:
        on.copy_(y)
    else:
        on.copy_(y + arrival_next)


def lean_period(policy, obs, *args) -> None:
    """A review day of a policy whose ``act`` is a plain tensor expression (``fusable = True``):
    the policy's orders and the period's update compile into one loop, so the orders never
    make a round trip through memory."""
    lean_step(obs.on_hand, obs.inventory_position, policy.act(obs), *args)


#: Periods per compiled block (see :func:`lean_block`): enough that the state's round trip
#: through memory is a small share of a block's work, few enough to compile in seconds.
BLOCK_PERIODS = 8


class FusionObservation(Observation):
    """The observation a fusable policy sees inside a compiled block of periods.

    A block runs several periods in one loop over SKUs, so the period index is not a Python
    int there and past demand is not kept: reading either is refused (the simulator then runs
    the policy period by period instead). Fusable policies read on-hand, inventory position,
    pipeline and features.
    """

    @property  # type: ignore[override]
    def period(self) -> int:
        raise FusionError("a fusable policy may not read Observation.period")

    @period.setter
    def period(self, value: int) -> None:
        pass

    @property  # type: ignore[override]
    def recent_demand(self) -> torch.Tensor:
        raise FusionError("a fusable policy may not read Observation.recent_demand")


class FusionError(RuntimeError):
    """A fusable policy read something a compiled block does not provide."""


def lean_block(
    policy,
    on: torch.Tensor,
    ip: torch.Tensor,
    pipe: list[torch.Tensor],
    demand: torch.Tensor,
    flags: torch.Tensor,
    pos_sum: torch.Tensor,
    short_sum: torch.Tensor,
    sales_sum: torch.Tensor,
    flag: torch.Tensor,
    features: torch.Tensor | None,
    feature_names: tuple[str, ...],
    max_order: float,
    lost: bool,
    cycle_flag: bool,
):
    """Advance every SKU by ``K = demand.shape[0]`` periods with a fusable policy, out of place.

    Compiled, the ``K`` periods are one loop over SKUs whose state stays in registers: the
    state crosses memory once per block instead of once per period, and each period reads
    only its demand (temporal blocking; the same idea as time-skewed stencil codes). This is
    what takes the lean path past a minimal in-place loop that moves the state every period.

    ``on`` is on-hand before the block's first arrival; ``pipe[j]`` arrives ``j`` periods
    after the block starts (``len(pipe) = L``). ``flags[k]`` holds review day, counted, a
    counted cycle starts and a counted cycle is open for period ``k`` (see :func:`lean_step`);
    ``features`` has shape (n_skus, K, F) or is None. Padded periods (counted, review, close
    and track all 0, demand repeated) leave every sum unchanged.

    Returns the new ``(on, ip, pipe, pos_sum, short_sum, sales_sum, flag, totals)``, with
    ``totals`` the block's contribution to :data:`TOTALS` (float64).
    """
    K = demand.shape[0]
    dt = on.dtype
    zero_lead = len(pipe) == 0
    stockouts = closed = demand_sum = on.new_zeros(())
    low = high = demand[0]
    for k in range(K):
        review, counted, close, track = flags[k, 0], flags[k, 1], flags[k, 2], flags[k, 3]
        d = demand[k]
        if pipe:
            on = on + pipe[0]  # 1. arrival
            pipe = pipe[1:]
        obs = FusionObservation(
            period=-1,
            on_hand=on,
            inventory_position=ip,
            pipeline=(lambda p=tuple(pipe): torch.stack(p, 1)) if pipe else None,
            features=features[:, k, :] if features is not None else None,
            feature_names=feature_names,
        )
        q = policy.act(obs).clamp(0.0, max_order) * review  # 2. order
        ip = ip + q
        if zero_lead:
            on = on + q  # with L = 0 the order is on hand before demand
        else:
            pipe = pipe + [q]  # arrives at the start of period t + L
        sales = torch.minimum(on.clamp(min=0.0), d)  # 3. demand
        out = sales if lost else d
        on = on - out
        ip = ip - out
        pos_sum = pos_sum + on.clamp(min=0.0) * counted  # 4. lean ledger
        short_sum = short_sum + ((d - sales) if lost else (-on).clamp(min=0.0)) * counted
        sales_sum = sales_sum + sales * counted
        unmet = (sales < d).to(dt)
        if cycle_flag:
            closed = closed + flag * close
            flag = torch.maximum(flag * (1.0 - close), unmet * torch.maximum(track, close))
        else:
            closed = closed + unmet * counted
        stockouts = stockouts + (on <= 0).to(dt) * counted
        demand_sum = demand_sum + d * counted
        low, high = torch.minimum(low, d), torch.maximum(high, d)
    totals = torch.stack([
        stockouts.sum(dtype=torch.float64), closed.sum(dtype=torch.float64),
        demand_sum.sum(dtype=torch.float64), low.min().double(), high.max().double(),
    ])
    return on, ip, pipe, pos_sum, short_sum, sales_sum, flag, totals


def full_period(
    policy,
    on_prev: torch.Tensor,
    arrival: torch.Tensor,
    ip: torch.Tensor,
    raw: torch.Tensor | None,
    d: torch.Tensor,
    row_on: torch.Tensor,
    row_order: torch.Tensor,
    row_sales: torch.Tensor | None,
    pipe_rows: list[torch.Tensor],
    features: torch.Tensor | None,
    feature_names: tuple[str, ...],
    review: bool,
    max_order: float,
    lost: bool,
    zero_lead: bool,
) -> None:
    """One period of a full ledger with one timing for every SKU, written into its ledger rows.

    Compiled, the period is one loop that reads the previous on-hand row, the arriving order
    row and the demand, and writes this period's on-hand and order rows (and sales under lost
    sales) and the inventory position: a full ledger's cost is then mostly the first touch of
    its fresh memory. On a review day the orders are ``raw`` (computed outside) or, with
    ``raw`` None, those of the fusable ``policy`` traced into the loop; ``pipe_rows[j]`` is
    what arrives in ``j + 1`` periods.
    """
    on = on_prev + arrival  # 1. arrival
    if review:  # 2. order
        if raw is None:
            obs = FusionObservation(
                period=-1,
                on_hand=on,
                inventory_position=ip,
                pipeline=(lambda: torch.stack(pipe_rows, 1)) if pipe_rows else None,
                features=features,
                feature_names=feature_names,
            )
            raw = policy.act(obs)
        q = raw.clamp(0.0, max_order)
        ip_mid = ip + q
        if zero_lead:
            on = on + q
    else:
        q = torch.zeros_like(on)
        ip_mid = ip
    sales = torch.minimum(on.clamp(min=0.0), d)  # 3. demand
    out = sales if lost else d
    row_on.copy_(on - out)  # 4. ledger
    row_order.copy_(q)
    if row_sales is not None:
        row_sales.copy_(sales)
    ip.copy_(ip_mid - out)


_CACHE: dict[Callable, Callable] = {}
_FAILED = False


def compiled(fn: Callable) -> Callable | None:
    """``fn`` compiled once per process (``torch.compile``), or None where compiling failed.

    Dynamo's recompile limit is raised to 64 per function: a process that runs many problems
    needs one graph per policy type, block length, lead time, mode and dtype.
    """
    if _FAILED:
        return None
    if fn not in _CACHE:
        try:
            _CACHE[fn] = torch._dynamo.config.patch(recompile_limit=64)(torch.compile(fn, dynamic=None))
        except Exception as exc:  # pragma: no cover - platform without a compiler
            mark_failed(exc)
            return None
    return _CACHE[fn]


def compiled_lean_step() -> Callable | None:
    """``lean_step`` compiled (None where ``torch.compile`` does not work here)."""
    return compiled(lean_step)


def compiled_lean_period() -> Callable | None:
    """``lean_period`` compiled (one graph per fusable policy type)."""
    return compiled(lean_period)


def compiled_lean_block() -> Callable | None:
    """``lean_block`` compiled (one graph per policy type, block length, lead time and mode)."""
    return compiled(lean_block)


def compiled_full_period() -> Callable | None:
    """``full_period`` compiled."""
    return compiled(full_period)


def mark_failed(exc: Exception) -> None:
    """Record that compiling failed at first call, so later runs go eager at once."""
    global _FAILED
    _FAILED = True
    _CACHE.clear()
    log.warning("torch.compile failed (%s: %s); the simulator runs eagerly", type(exc).__name__, exc)
