"""A counted period of a differentiable lean run as one autograd node with a hand-written backward.

Recorded op by op, the order-and-demand update of a period and its three running sums are
about fifteen autograd nodes, each allocating its output and saving tensors for the backward
pass; on a million SKUs the differentiable path is then bound by allocation and memory
traffic. Here the period is one node: the forward computes the new state and updates the sums
in place without recording, saves its three inputs, and the backward recomputes what it needs
and applies the chain rule by hand. Compiled, each is one loop over SKUs. The simulator uses
it where it pays, for large batches (``fused``); on a handful of SKUs (a DS minibatch) the
op-by-op graph is faster, because there the cost is per operation, not per byte.

The gradient conventions are autograd's, so a lean run differentiates exactly as the full
ledger's op-by-op graph does (a test holds them equal): ``clamp`` passes the gradient at its
bounds, ``minimum`` splits it between equal arguments.

Event order (see :mod:`orkit.sim.simulator`): the order ``q = clamp(raw, 0, max_order)`` raises
the inventory position (and on-hand when ``L = 0``); demand ``d`` is served from on-hand
``x``: ``sales = min(max(x, 0), d)``; on-hand and position fall by ``d`` (backorders) or by
``sales`` (lost sales); the sums add ``y^+``, the shortage (``y^-`` or ``d - sales``) and
``sales``.
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["counted_period", "period_forward", "period_backward"]


def period_forward(
    on: torch.Tensor,
    ip: torch.Tensor,
    raw: torch.Tensor | None,
    d: torch.Tensor,
    sums: tuple[torch.Tensor, ...],
    max_order: float,
    lost: bool,
    zero_lead: bool,
    close: bool,
    track: bool,
):
    """New ``(y, ip, q)``; ``raw`` is None on a day without review.

    ``sums`` are updated in place: holding units, shortage units, sales, stockout periods,
    cycles with a shortage and the open cycle's shortage flag (0/1). ``close``: a counted
    cycle starts this period (the open one ends); ``track``: a counted cycle is open.
    """
    hold, short, sold, stockouts, short_cycles, flag = sums
    if raw is not None:
        q = raw.clamp(0.0, max_order)
        ip = ip + q
        if zero_lead:
            on = on + q
    else:
        q = None
    sales = torch.minimum(on.clamp(min=0.0), d)
    out = sales if lost else d
    y = on - out
    hold.add_(y.clamp(min=0.0))
    if lost:
        short.add_(d - sales)
    else:
        short.sub_(y.clamp(max=0.0))
    sold.add_(sales)
    stockouts.add_((y <= 0).to(y.dtype))
    if close:
        short_cycles.add_(flag)
    if close or track:
        flag.copy_(torch.maximum(flag * (0.0 if close else 1.0), (sales < d).to(y.dtype)))
    return y, ip - out, q


def period_backward(
    on: torch.Tensor,
    raw: torch.Tensor | None,
    d: torch.Tensor,
    g_y: torch.Tensor,
    g_ip: torch.Tensor,
    g_q: torch.Tensor | None,
    g_hold: torch.Tensor,
    g_short: torch.Tensor,
    g_sold: torch.Tensor,
    max_order: float,
    lost: bool,
    zero_lead: bool,
):
    """Gradients with respect to ``(on, ip, raw)`` (the sums' gradients pass through unchanged)."""
    x = on
    if raw is not None and zero_lead:
        x = on + raw.clamp(0.0, max_order)
    pos = x.clamp(min=0.0)
    # d sales / d x under autograd's conventions: clamp passes at 0, minimum splits ties
    ds = (x >= 0).to(x.dtype) * ((pos < d).to(x.dtype) + 0.5 * (pos == d).to(x.dtype))
    sales = torch.minimum(pos, d)
    y = x - (sales if lost else d)
    g_y = g_y + g_hold * (y >= 0).to(x.dtype)
    if lost:
        g_sales = g_sold - g_short - g_y - g_ip
    else:
        g_y = g_y - g_short * (y <= 0).to(x.dtype)
        g_sales = g_sold
    g_x = g_y + g_sales * ds
    if raw is None:
        return g_x, g_ip, None
    g_q = g_ip + (g_x if zero_lead else 0.0) + (g_q if g_q is not None else 0.0)
    g_raw = g_q * ((raw >= 0) & (raw <= max_order)).to(x.dtype)
    return g_x, g_ip, g_raw


#: Compile the node's forward and backward when the simulator asks for fusion (tests switch
#: this off to check the node itself on many small cases without compiling each).
COMPILE = True


def _kernels(fused: bool) -> tuple[Callable, Callable]:
    from orkit.sim.fused import compiled

    if fused and COMPILE:
        forward, backward = compiled(period_forward), compiled(period_backward)
        if forward is not None and backward is not None:
            return forward, backward
    return period_forward, period_backward


class _CountedPeriod(torch.autograd.Function):
    @staticmethod
    def forward(ctx, on, ip, raw, d, hold, short, sold, counts, settings):
        max_order, lost, zero_lead, close, track, fused = settings
        forward, _ = _kernels(fused)
        y, ip_out, q = forward(on, ip, raw, d, (hold, short, sold, *counts), max_order, lost, zero_lead, close, track)
        ctx.save_for_backward(on, raw, d)
        ctx.settings = settings
        ctx.mark_dirty(hold, short, sold)  # the running sums are updated in place: no allocation
        if q is None:  # autograd needs a tensor in every output slot
            q = torch.zeros_like(y)
            ctx.mark_non_differentiable(q)
        return y, ip_out, q, hold, short, sold

    @staticmethod
    def backward(ctx, g_y, g_ip, g_q, g_hold, g_short, g_sold):
        on, raw, d = ctx.saved_tensors
        max_order, lost, zero_lead, _, _, fused = ctx.settings
        _, backward = _kernels(fused)
        g_on, g_ip_in, g_raw = backward(on, raw, d, g_y, g_ip, g_q if raw is not None else None,
                                        g_hold, g_short, g_sold, max_order, lost, zero_lead)
        return g_on, g_ip_in, g_raw, None, g_hold, g_short, g_sold, None, None


def counted_period(
    on: torch.Tensor,
    ip: torch.Tensor,
    raw: torch.Tensor | None,
    d: torch.Tensor,
    hold: torch.Tensor,
    short: torch.Tensor,
    sold: torch.Tensor,
    counts: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    max_order: float,
    lost: bool,
    zero_lead: bool,
    close: bool,
    track: bool,
    fused: bool = False,
):
    """One counted period of a differentiable lean run (see the module docstring).

    ``hold``, ``short`` and ``sold`` (the running sums) and ``counts`` (stockout periods,
    cycles with a shortage, the open cycle's shortage flag; no gradient) are updated in place.
    Returns ``(y, ip, q, hold, short, sold)``: end-of-period on-hand, inventory position, the
    clipped order (zeros without review) and the sums. Demand is not differentiated.
    """
    settings = (float(max_order), bool(lost), bool(zero_lead), bool(close), bool(track), bool(fused))
    return _CountedPeriod.apply(on, ip, raw, d, hold, short, sold, counts, settings)
