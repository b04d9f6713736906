"""One period of the lean fast path as a single function, optionally fused by ``torch.compile``.

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

log = logging.getLogger(__name__)

__all__ = ["lean_step", "lean_period", "compiled_lean_step", "compiled_lean_period", "TOTALS"]

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


_COMPILED: Callable | None = None
_COMPILED_PERIOD: Callable | None = None
_FAILED = False


def compiled_lean_step() -> Callable | None:
    """``lean_step`` compiled once per process, or None where ``torch.compile`` does not work here."""
    global _COMPILED, _FAILED
    if _COMPILED is None and not _FAILED:
        try:
            _COMPILED = torch.compile(lean_step, dynamic=None)
        except Exception as exc:  # pragma: no cover - platform without a compiler
            _FAILED = True
            log.warning("torch.compile is unavailable (%s); the lean path runs eagerly", exc)
    return _COMPILED


def compiled_lean_period() -> Callable | None:
    """``lean_period`` compiled once per process (one graph per fusable policy type)."""
    global _COMPILED_PERIOD
    if _COMPILED_PERIOD is None and not _FAILED:
        try:
            _COMPILED_PERIOD = torch.compile(lean_period, dynamic=None)
        except Exception as exc:  # pragma: no cover - platform without a compiler
            mark_failed(exc)
    return _COMPILED_PERIOD


def mark_failed(exc: Exception) -> None:
    """Record that compiling failed at first call, so later runs go eager at once."""
    global _FAILED, _COMPILED, _COMPILED_PERIOD
    _FAILED, _COMPILED, _COMPILED_PERIOD = True, None, None
    log.warning("torch.compile failed (%s: %s); the lean path runs eagerly", type(exc).__name__, exc)
