"""The batched inventory simulator: a Python loop over periods, tensors over SKUs.

Order of events in period ``t`` (DeepStock timing, paper.md section 1; architecture.md):

1. **Arrival.** The order placed in period ``t - L`` joins on-hand (it clears backlog first).
2. **Order.** On a review day (``t >= P`` and ``t % P == 0``, per SKU) the policy observes the
   state and orders ``q_t``, clipped to ``[0, max_order]``. With ``L = 0`` the order is on hand
   at once, before demand; otherwise it arrives at the start of period ``t + L``.
3. **Demand** ``d_t``. Sales are ``min(d_t, max(on-hand, 0))``. Under backorders the rest is
   backlogged (on-hand goes negative); under lost sales it is lost.
4. **Ledger.** End-of-period on-hand ``y_t``, sales, backlog or lost demand, the order, and
   the costs ``h * max(y_t, 0)`` and ``b * shortage_t``.

Costs and metrics count only periods ``t >= warm-up`` (``L + P`` by default: the first period
an order can influence). The initial on-hand is ``problem.initial_on_hand`` (0 in DeepStock)
and the pipeline starts empty.

Two code paths share this order of events:

- the **fast path** (``differentiable=False``, the default) updates preallocated state in place
  under ``torch.no_grad()``; it writes a full :class:`~orkit.sim.ledger.Ledger` or, in lean mode,
  only per-SKU running sums (:class:`~orkit.sim.ledger.LeanLedger`, ``O(n_skus)`` memory);
- the **differentiable path** (``differentiable=True``) builds every tensor out of place so
  that a loss computed from the ledger back-propagates into the policy's parameters. The DS
  learner trains through exactly this function.

Large batches compile both (``fused``; :mod:`orkit.sim.fused`, :mod:`orkit.sim.autograd_step`).
Tests check that every path produces the same ledger, sums and gradients.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.policy import Observation, Policy
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_choice, check_int
from orkit.sim.autograd_step import counted_period
from orkit.sim.ledger import Ledger, LeanLedger

__all__ = ["simulate", "SimulationInput", "prepare_input"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationInput:
    """Demand and features laid out for the simulator (time-major, on one device).

    Attributes
    ----------
    demand : Tensor of shape (n_periods, n_skus)
        Time-major demand: ``demand[t]`` is contiguous.
    features : Tensor of shape (n_skus, n_periods, n_features) or None
    feature_names : tuple of str
    """

    demand: torch.Tensor
    features: torch.Tensor | None
    feature_names: tuple[str, ...]

    @property
    def n_skus(self) -> int:
        return self.demand.shape[1]

    @property
    def n_periods(self) -> int:
        return self.demand.shape[0]


def prepare_input(
    data: Any,
    *,
    features: Any = None,
    feature_names: tuple[str, ...] = (),
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    validate: bool = True,
) -> SimulationInput:
    """Turn a :class:`~orkit.data.Dataset`, a demand array or a tensor into simulator input.

    ``validate=False`` skips the pass over a raw demand tensor that checks it is finite and
    non-negative (the fused lean path checks the demand's range inside its own loop instead).

    Demand given as an ``(n_skus, T)`` tensor that is the transpose of a contiguous ``(T,
    n_skus)`` tensor (as a Dataset stores it) is used without a copy.
    """
    if isinstance(data, SimulationInput):
        return data
    if hasattr(data, "demand_time_major"):  # a Dataset: validated already, shared without a copy
        with warnings.catch_warnings():
            # Dataset arrays are read-only; the simulator only reads them
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            demand_tm = torch.from_numpy(np.asarray(data.demand_time_major))
            feats = data.features
            features = torch.from_numpy(np.asarray(feats)) if feats is not None and np.size(feats) else None
        feature_names = tuple(data.feature_names)
        validated = True
    else:
        validated = False
        demand = torch.as_tensor(data)
        if demand.ndim != 2:
            raise ValidationError(f"demand must have shape (n_skus, n_periods), got {tuple(demand.shape)}")
        demand_tm = demand.T
        if features is not None:
            features = torch.as_tensor(features)
    if dtype is None:
        dtype = demand_tm.dtype if demand_tm.is_floating_point() else torch.float32
    device = torch.device(device) if device is not None else demand_tm.device
    demand_tm = demand_tm.to(device=device, dtype=dtype).contiguous()
    if validate and not validated and demand_tm.numel():
        low, high = torch.aminmax(demand_tm)  # one pass; NaN propagates into both
        if not bool(torch.isfinite(low) & torch.isfinite(high)):
            raise ValidationError("demand must be finite, got NaN or infinite values")
        if low.item() < 0:
            raise ValidationError(f"demand must be >= 0, got {low.item():g}")
    if features is not None:
        features = features.to(device=device, dtype=dtype)
        if features.ndim != 3 or features.shape[:2] != (demand_tm.shape[1], demand_tm.shape[0]):
            raise ValidationError(
                f"features must have shape (n_skus, n_periods, n_features) = "
                f"({demand_tm.shape[1]}, {demand_tm.shape[0]}, F), got {tuple(features.shape)}"
            )
        if len(feature_names) != features.shape[2]:
            raise ValidationError(
                f"feature_names must name all {features.shape[2]} features, got {len(feature_names)}"
            )
        if features.shape[2] == 0:
            features = None
    return SimulationInput(demand=demand_tm, features=features, feature_names=tuple(feature_names))


#: Below this many SKUs a lean run is not worth compiling (``fused=None``).
FUSE_MIN_SKUS = 100_000


class _Timing:
    """Per-SKU lead times, review days, warm-up and cycle boundaries, on the device."""

    @staticmethod
    def is_scalar(problem: InventoryProblem) -> bool:
        return not problem.per_sku

    def __init__(self, problem: InventoryProblem, n: int, T: int, device: torch.device, dtype: torch.dtype):
        self.T = T
        if not problem.per_sku:
            # one timing for every SKU: per-SKU views are broadcasts, no million-entry arrays
            self.scalar = True
            self.L0, self.P0 = int(problem.lead_time), int(problem.review_period)
            self.W0 = problem.warmup_periods if problem.warmup_periods is not None else self.L0 + self.P0
            self.max_L, self.max_W = self.L0, self.W0
            self.lead_time = torch.tensor(self.L0, device=device).expand(n)
            self.review_period = torch.tensor(self.P0, device=device).expand(n)
            self.warmup = torch.tensor(self.W0, device=device).expand(n)
            self.any_zero_lead = self.all_zero_lead = self.L0 == 0
            return
        L = problem.lead_times(n)
        P = problem.review_periods(n)
        W = problem.warmups(n)
        self.scalar = bool((L == L[0]).all() and (P == P[0]).all() and (W == W[0]).all()) if n else True
        self.L0, self.P0, self.W0 = (int(L[0]), int(P[0]), int(W[0])) if n else (0, 1, 0)
        self.max_L = int(L.max()) if n else 0
        self.max_W = int(W.max()) if n else 0
        self.lead_time = torch.as_tensor(L.copy(), device=device)
        self.review_period = torch.as_tensor(P.copy(), device=device)
        self.warmup = torch.as_tensor(W.copy(), device=device)
        self.any_zero_lead = bool((L == 0).any())
        self.all_zero_lead = bool((L == 0).all())

    def review_any(self, t: int) -> bool:
        if self.scalar:
            return t >= self.P0 and t % self.P0 == 0
        return True  # evaluated per SKU below

    def review_mask(self, t: int) -> torch.Tensor | None:
        """Bool mask of SKUs reviewing at ``t`` (None when it is all or nothing)."""
        if self.scalar:
            return None
        P = self.review_period
        return (t >= P) & (t % P == 0)

    def _rows(self, per_sku: torch.Tensor | None, flags: torch.Tensor) -> torch.Tensor:
        n = self.lead_time.shape[0]
        return flags.unsqueeze(1).expand(self.T, n) if per_sku is None else per_sku

    def cycle_start_rows(self) -> torch.Tensor:
        """(T, n) bool: period t is the arrival period of an order placed on a review day.

        With one timing for every SKU this is a broadcast view of a (T,) vector (no copy).
        """
        dev = self.lead_time.device
        if self.scalar:
            s = torch.arange(self.T, device=dev) - self.L0
            return self._rows(None, (s >= self.P0) & (s % self.P0 == 0))
        t = torch.arange(self.T, device=dev, dtype=torch.int32).unsqueeze(1)
        s = t - self.lead_time.to(torch.int32).unsqueeze(0)
        P = self.review_period.to(torch.int32).unsqueeze(0)
        return (s >= P) & (s % P == 0)

    def counted_rows(self) -> torch.Tensor:
        """(T, n) bool: period t is counted (after the warm-up)."""
        dev = self.lead_time.device
        t = torch.arange(self.T, device=dev)
        if self.scalar:
            return self._rows(None, t >= self.W0)
        return t.unsqueeze(1) >= self.warmup.unsqueeze(0)


def _check_orders(q: Any, n: int, like: torch.Tensor) -> torch.Tensor:
    if not isinstance(q, torch.Tensor):
        q = torch.as_tensor(q, dtype=like.dtype, device=like.device)
    if q.ndim == 0:
        q = q.expand(n)
    if q.shape != (n,):
        raise ValidationError(f"policy.act must return one order per SKU, shape ({n},), got {tuple(q.shape)}")
    if q.dtype != like.dtype:
        q = q.to(like.dtype)
    return q


def simulate(
    policy: Policy,
    data: Any,
    problem: InventoryProblem,
    *,
    ledger: Literal["full", "lean"] = "full",
    differentiable: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    demand_window: int = 28,
    features: Any = None,
    feature_names: tuple[str, ...] = (),
    fused: bool | None = None,
) -> Ledger | LeanLedger:
    """Run ``policy`` on every SKU trajectory of ``data`` under ``problem``.

    Parameters
    ----------
    policy : Policy
        Anything with ``act(obs) -> orders``.
    data : Dataset, SimulationInput, array or Tensor of shape (n_skus, n_periods)
        Demand (and features, for a Dataset).
    problem : InventoryProblem
    ledger : {"full", "lean"}, default="full"
        ``"full"``: every per-period quantity, shape (n_skus, n_periods). ``"lean"``: per-SKU
        running sums only (memory independent of the horizon).
    differentiable : bool, default=False
        Build the computation graph so that losses back-propagate into the policy.
    device, dtype : optional
        Where and in which precision to simulate (default: those of the demand; float32 for
        integer demand). Device follows the data.
    demand_window : int, default=28
        Periods of past demand in ``Observation.recent_demand``.
    features, feature_names : optional
        Features (n_skus, n_periods, F) when ``data`` is a plain demand array.
    fused : bool or None, default=None
        Compile runs with one lead time and review period for every SKU with
        ``torch.compile`` (several times faster on large batches; the first call in a process
        compiles for a few seconds): lean runs of a policy with ``fusable = True`` (its
        ``act`` a plain tensor expression of on-hand, inventory position, pipeline and
        features) in blocks of periods, other lean runs one period at a time, full ledgers one
        period at a time, and differentiable lean runs as one autograd node per counted period
        with a compiled backward. ``None`` compiles when there are at least 100,000 SKUs;
        ``True`` always; ``False`` never. Falls back to eager execution where compiling is not
        possible. Results are the same either way (tests hold the paths equal).

    Returns
    -------
    Ledger or LeanLedger
    """
    check_choice("ledger", ledger, ("full", "lean"))
    demand_window = check_int("demand_window", demand_window, minimum=0)
    if not isinstance(problem, InventoryProblem):
        raise ValidationError(f"problem must be an InventoryProblem, got {type(problem).__name__}")
    if not hasattr(policy, "act"):
        raise ValidationError(f"policy must have an act(obs) method, got {type(policy).__name__}")
    lean_scalar = ledger == "lean" and not differentiable and _Timing.is_scalar(problem)
    inp = prepare_input(data, features=features, feature_names=feature_names, device=device, dtype=dtype,
                        validate=not lean_scalar)
    if differentiable:
        use_fused = inp.n_skus >= FUSE_MIN_SKUS if fused is None else bool(fused)
        return _simulate_autograd(policy, inp, problem, ledger, demand_window, use_fused)
    use_fused = inp.n_skus >= FUSE_MIN_SKUS if fused is None else bool(fused)
    with torch.no_grad():
        if lean_scalar:
            return _simulate_lean_scalar(policy, inp, problem, demand_window, use_fused)
        if use_fused and ledger == "full" and _Timing.is_scalar(problem):
            led = _simulate_full_fused(policy, inp, problem, demand_window)
            if led is not None:
                return led
        return _simulate_inplace(policy, inp, problem, ledger, demand_window)


# --------------------------------------------------------------------------- observation
def _observation(
    t: int,
    on_hand: torch.Tensor,
    inventory_position: torch.Tensor,
    pipeline: Any,
    inp: SimulationInput,
    timing: _Timing,
    window: int,
    review: torch.Tensor | None,
) -> Observation:
    def recent() -> torch.Tensor:
        lo = max(0, t - window)
        past = inp.demand[lo:t].T
        if past.shape[1] < window:
            past = torch.nn.functional.pad(past, (window - past.shape[1], 0))
        return past

    feats = (lambda: inp.features[:, t, :]) if inp.features is not None else None
    return Observation(
        period=t,
        on_hand=on_hand,
        inventory_position=inventory_position,
        feature_names=inp.feature_names,
        features=feats,
        pipeline=pipeline,
        recent_demand=recent,
        lead_time=timing.lead_time,
        review_period=timing.review_period,
        is_review=review,
    )


def _ring_pipeline(ring: Any, t: int, like: torch.Tensor, consumed_slot_stale: bool):
    """Lazy ``pipeline`` view of a ring buffer (a tensor, or a callable making it, shape (R, n)).

    Column j of the result holds what arrives in j + 1 periods.
    """

    def pipeline() -> torch.Tensor:
        if ring is None:
            return like.new_zeros(like.shape[0], 0)
        buf = ring() if callable(ring) else ring
        R = buf.shape[0]
        idx = torch.tensor([(t + 1 + j) % R for j in range(R)], device=buf.device)
        out = buf.index_select(0, idx).T.contiguous()
        if consumed_slot_stale:  # slot t % R arrived this period and is refilled only after the order
            out[:, R - 1] = 0
        return out

    return pipeline


def _order_rows_pipeline(order: torch.Tensor, t: int, lead_time: int):
    """Lazy ``pipeline`` on review day ``t`` read from the full ledger's order rows (one lead
    time): column j holds the order of period ``t + 1 + j - L`` (today's is not placed yet)."""

    def pipeline() -> torch.Tensor:
        out = order.new_zeros(order.shape[1], lead_time)
        for j in range(lead_time - 1):
            s = t + 1 + j - lead_time
            if s >= 0:
                out[:, j] = order[s]
        return out

    return pipeline


# --------------------------------------------------------------------------- fast path
def _simulate_inplace(
    policy: Policy, inp: SimulationInput, problem: InventoryProblem, mode: str, window: int
) -> Ledger | LeanLedger:
    """Full ledgers for any timing; lean sums when lead times or review periods differ by SKU."""
    D = inp.demand
    T, n = D.shape
    dev, dt = D.device, D.dtype
    tm = _Timing(problem, n, T, dev, dt)
    h, b, lost = problem.holding_cost, problem.shortage_cost, problem.lost_sales
    max_order = problem.max_order if problem.max_order is not None else float("inf")
    full = mode == "full"

    on = torch.full((n,), problem.initial_on_hand, dtype=dt, device=dev)
    ip = on.clone()
    R = tm.max_L
    # a full ledger with one lead time needs no pipeline ring: the order row of t - L arrives at t
    rows_ring = full and tm.scalar and R > 0
    ring = torch.zeros(R, n, dtype=dt, device=dev) if R > 0 and not rows_ring else None
    lead = tm.lead_time
    positive_lead = (lead > 0).to(dt) if not tm.scalar else None
    zero_lead = (lead == 0).to(dt) if (not tm.scalar and tm.any_zero_lead) else None
    q_buf = torch.zeros(n, dtype=dt, device=dev)
    cycle_start = tm.cycle_start_rows() & tm.counted_rows()  # (T, n) counted cycle starts
    if full:
        # every row is written once (no zero fill: first touches of fresh memory are what a
        # full ledger costs); under backorders sales are derived by the Ledger on access.
        # The on-hand state lives in the current ledger row, so recording it costs no copy.
        keys = ("on_hand", "order", "sales") if lost else ("on_hand", "order")
        led = {k: torch.empty(T, n, dtype=dt, device=dev) for k in keys}
    else:
        z = lambda: torch.zeros(n, dtype=dt, device=dev)  # noqa: E731
        pos_sum, y_sum, sales_sum, stockouts = z(), z(), z(), z()  # y_sum: shortage units
        sales, pos = z(), z()
        cycles, short_cycles = z(), z()
        flag = torch.zeros(n, dtype=torch.bool, device=dev)  # unmet demand in the open cycle
        is_open = torch.zeros(n, dtype=torch.bool, device=dev)
        starts_any = cycle_start.any(1).tolist()

    for t in range(T):
        d = D[t]
        # 1. arrival ------------------------------------------------------------------
        if full:
            row = led["on_hand"][t]
            if rows_ring and t >= R:
                torch.add(on, led["order"][t - R], out=row)
            elif R > 0 and not rows_ring:
                torch.add(on, ring[t % R], out=row)
            else:
                row.copy_(on)
            on = row
        if ring is not None:
            slot = ring[t % R]
            if not full:
                on.add_(slot)
            if not tm.scalar:
                slot.zero_()  # per-SKU lead times reuse this slot at other offsets
        # 2. order on review days -----------------------------------------------------
        q = None
        if tm.review_any(t):
            review = tm.review_mask(t)
            if rows_ring:
                pipe = _order_rows_pipeline(led["order"], t, R)
            else:
                pipe = _ring_pipeline(ring, t, on, consumed_slot_stale=tm.scalar)
            obs = _observation(t, on, ip, pipe, inp, tm, window, review)
            raw = _check_orders(policy.act(obs), n, on)
            q = torch.clamp(raw, 0.0, max_order, out=led["order"][t] if full else q_buf)
            if review is not None:
                q.mul_(review)
            ip.add_(q)
            if tm.scalar:
                if tm.L0 == 0:
                    on.add_(q)
                elif not rows_ring:
                    ring[t % R].copy_(q)  # R == L: this slot next arrives at t + L
            else:
                if zero_lead is not None:
                    on.add_(q * zero_lead)
                if R > 0:
                    ring.scatter_add_(0, ((t + lead) % R).unsqueeze(0), (q * positive_lead).unsqueeze(0))
        elif ring is not None and tm.scalar:
            ring[t % R].zero_()
        if q is None and full:
            led["order"][t].zero_()
        # 3. demand -------------------------------------------------------------------
        if full:  # ``on`` is this period's ledger row
            if lost:
                s = led["sales"][t]
                torch.clamp(on, min=0, out=s)
                torch.minimum(s, d, out=s)
            on.sub_(s if lost else d)
            ip.sub_(s if lost else d)
            continue
        # 4. lean ledger: running sums over counted periods -------------------------------
        torch.clamp(on, min=0, out=sales)
        torch.minimum(sales, d, out=sales)
        on.sub_(sales if lost else d)
        ip.sub_(sales if lost else d)
        w = None if t >= tm.max_W else (t >= tm.warmup).to(dt)
        torch.clamp(on, min=0, out=pos)
        if starts_any[t]:  # close the running cycle where a new one starts
            cs = cycle_start[t]
            short_cycles.add_(flag & cs)
            flag &= ~cs
            cycles.add_(cs)
            is_open |= cs
        flag |= (sales < d) & is_open
        short = (d - sales) if lost else (-on).clamp(min=0)
        if w is None:
            pos_sum.add_(pos)
            sales_sum.add_(sales)
            y_sum.add_(short)
            stockouts.add_(on <= 0)
        else:
            pos_sum.add_(pos * w)
            sales_sum.add_(sales * w)
            y_sum.add_(short * w)
            stockouts.add_((on <= 0) * w)

    counted = tm.counted_rows()
    if full:
        on_hand = led["on_hand"].T
        demand = D.T
        return Ledger(
            on_hand=on_hand,
            sales=led["sales"].T if lost else None,
            order=led["order"].T,
            demand=demand,
            counted=counted.T,
            cycle_start=tm.cycle_start_rows().T,
            holding_cost_rate=h,
            shortage_cost_rate=b,
            lost_sales=lost,
        )
    short_cycles.add_(flag & is_open)  # the last, possibly incomplete, cycle
    weights = counted.to(dt)
    demand_sum = (D * weights).sum(0)
    c = weights.sum(0)
    return LeanLedger(
        holding_units=pos_sum,
        shortage_units=y_sum,
        sales=sales_sum,
        demand=demand_sum,
        stockout_periods=stockouts,
        counted_periods=c,
        cycles=cycles,
        cycles_with_shortage=short_cycles,
        holding_cost_rate=h,
        shortage_cost_rate=b,
        lost_sales=lost,
    )


# --------------------------------------------------------------------------- lean, one timing
def _simulate_lean_scalar(
    policy: Policy, inp: SimulationInput, problem: InventoryProblem, window: int, fused: bool
) -> LeanLedger:
    """Lean run where every SKU shares L, P and the warm-up: one ``lean_step`` per period."""
    from orkit.sim import fused as fusion

    D = inp.demand
    T, n = D.shape
    dev, dt = D.device, D.dtype
    tm = _Timing(problem, n, T, dev, dt)
    L, P, W = tm.L0, tm.P0, tm.W0
    lost = problem.lost_sales
    max_order = problem.max_order if problem.max_order is not None else float("inf")
    if fused and getattr(policy, "fusable", False) and T:
        # a plain tensor-expression policy: whole blocks of periods compile into one loop
        block = fusion.compiled_lean_block()
        if block is not None:
            led = _simulate_lean_blocks(block, policy, inp, problem, tm)
            if led is not None:
                return led
    step = fusion.compiled_lean_step() if fused else None
    step = step or fusion.lean_step
    # policies that declare their act a plain tensor expression are fused into the period too
    period = fusion.compiled_lean_period() if fused and getattr(policy, "fusable", False) else None

    on = torch.full((n,), problem.initial_on_hand, dtype=dt, device=dev)
    ip = on.clone()
    R = max(L, 1)
    # the pipeline as R separate tensors (slot t % R arrives at t): separate storage keeps
    # the compiled step to one loop; slot views of a single ring would alias
    ring = [torch.zeros(n, dtype=dt, device=dev) for _ in range(R)]
    z = lambda: torch.zeros(n, dtype=dt, device=dev)  # noqa: E731
    pos_sum, short_sum, sales_sum, flag = z(), z(), z(), z()
    totals = torch.zeros(len(fusion.TOTALS), dtype=torch.float64, device=dev)
    if T:
        totals[3], totals[4] = float("inf"), float("-inf")
    flags = torch.zeros(4, dtype=dt, device=dev)  # review, counted, close, track (see lean_step)
    no_order = torch.zeros(n, dtype=dt, device=dev)
    starts = tm.cycle_start_rows()[:, 0].tolist()
    cycle_flag = P > 1
    cycles = 0
    is_open = False
    for t in range(T):
        review = t >= P and t % P == 0
        close = starts[t] and t >= W
        flags.copy_(torch.tensor([review, t >= W, close, is_open], dtype=dt))
        rest = (ring[t % R], ring[(t + 1) % R], D[t], pos_sum, short_sum, sales_sum, flag,
                totals, flags, max_order, lost, L == 0, cycle_flag)
        q = no_order
        if review:
            pipe = _ring_pipeline((lambda: torch.stack(ring)) if L > 0 else None, t, on, consumed_slot_stale=True)
            obs = _observation(t, on, ip, pipe, inp, tm, window, None)
            if period is not None:  # the policy's act is traced into the same loop
                try:
                    period(policy, obs, *rest)
                    q = None
                except Exception as exc:  # a compiler problem: from now on, act runs eagerly
                    if t > P:
                        raise
                    log.warning("could not fuse %s into the period (%s); it runs eagerly",
                                type(policy).__name__, exc)
                    period = None
            if q is not None:
                q = _check_orders(policy.act(obs), n, on)
        if q is not None:
            args = (on, ip, q, *rest)
            try:
                step(*args)
            except Exception as exc:  # a compiler problem, not a modelling one: finish eagerly
                if step is fusion.lean_step or t > 0:
                    raise
                fusion.mark_failed(exc)
                step = fusion.lean_step
                step(*args)
        if close:
            cycles += 1
            is_open = True
    if not T:  # nothing ran: the demand's range was never seen
        totals[3], totals[4] = 0.0, 0.0
    return _lean_scalar_ledger(pos_sum, short_sum, sales_sum, flag, totals, cycles, is_open and cycle_flag,
                               T - W, problem)


def _lean_scalar_ledger(pos_sum: torch.Tensor, short_sum: torch.Tensor, sales_sum: torch.Tensor,
                        flag: torch.Tensor, totals: torch.Tensor, cycles: int, last_cycle_open: bool,
                        counted: int, problem: InventoryProblem) -> LeanLedger:
    """The :class:`LeanLedger` of a lean run with one timing: per-SKU sums, ``totals`` (see
    ``fused.TOTALS``; the demand's range is checked here) and the open cycle's shortage flag."""
    dt, dev, n = pos_sum.dtype, pos_sum.device, pos_sum.shape[0]
    stockouts, short_cycles, demand_total, low, high = totals.tolist()
    _check_demand_range(low, high)
    if last_cycle_open:
        short_cycles += float(flag.sum())  # the last, possibly incomplete, cycle
    total = lambda value: torch.tensor(value, dtype=dt, device=dev)  # noqa: E731
    return LeanLedger(
        holding_units=pos_sum,
        shortage_units=short_sum,
        sales=sales_sum,
        demand=total(demand_total),
        stockout_periods=total(stockouts),
        counted_periods=torch.full((n,), float(max(counted, 0)), dtype=dt, device=dev),
        cycles=torch.full((n,), float(cycles), dtype=dt, device=dev),
        cycles_with_shortage=total(short_cycles),
        holding_cost_rate=problem.holding_cost,
        shortage_cost_rate=problem.shortage_cost,
        lost_sales=problem.lost_sales,
    )


def _simulate_full_fused(
    policy: Policy, inp: SimulationInput, problem: InventoryProblem, window: int
) -> Ledger | None:
    """Full ledger, one timing for every SKU, each period one compiled loop (``full_period``).

    Returns None (nothing run) where compiling is not possible; the caller then runs eagerly.
    """
    from orkit.sim import fused as fusion

    step = fusion.compiled_full_period()
    if step is None:
        return None
    D = inp.demand
    T, n = D.shape
    dev, dt = D.device, D.dtype
    tm = _Timing(problem, n, T, dev, dt)
    L, P = tm.L0, tm.P0
    lost = problem.lost_sales
    max_order = problem.max_order if problem.max_order is not None else float("inf")
    keys = ("on_hand", "order", "sales") if lost else ("on_hand", "order")
    led = {k: torch.empty(T, n, dtype=dt, device=dev) for k in keys}
    init = torch.full((n,), problem.initial_on_hand, dtype=dt, device=dev)
    ip = init.clone()
    zero = torch.zeros(n, dtype=dt, device=dev)
    feats = inp.features
    traced = bool(getattr(policy, "fusable", False))
    for t in range(T):
        prev = led["on_hand"][t - 1] if t else init
        arrival = led["order"][t - L] if L and t >= L else zero
        review = t >= P and t % P == 0
        # what arrives in j + 1 periods: the orders of t + 1 + j - L (today's not placed yet)
        pipe = [led["order"][t + 1 + j - L] if t + 1 + j - L >= 0 and j < L - 1 else zero for j in range(L)]
        x = feats[:, t, :] if feats is not None else None
        raw = None
        if review and (not traced or t == P):
            # eagerly: policies that are not fusable, and the first review day of a fusable one
            # (a wrong shape fails with a clear message; caches are filled before tracing)
            obs_cls = fusion.FusionObservation if traced else None
            on_now = prev + arrival
            if obs_cls is not None:
                obs = obs_cls(period=-1, on_hand=on_now, inventory_position=ip, features=x,
                              feature_names=inp.feature_names,
                              pipeline=(lambda p=pipe: torch.stack(p, 1)) if L else None)
            else:
                obs = _observation(t, on_now, ip, (lambda p=pipe: torch.stack(p, 1)) if L else None,
                                   inp, tm, window, None)
            try:
                raw = _check_orders(policy.act(obs), n, on_now)
            except fusion.FusionError as exc:
                log.info("%s runs outside the compiled period: %s", type(policy).__name__, exc)
                traced = False
                obs = _observation(t, on_now, ip, (lambda p=pipe: torch.stack(p, 1)) if L else None,
                                   inp, tm, window, None)
                raw = _check_orders(policy.act(obs), n, on_now)
        args = (policy if traced else None, prev, arrival, ip, raw, D[t], led["on_hand"][t], led["order"][t],
                led["sales"][t] if lost else None, pipe if traced else [], x if traced else None,
                inp.feature_names, review, max_order, lost, L == 0)
        try:
            step(*args)
        except Exception as exc:  # a compiler problem, not a modelling one
            if t > P:
                raise
            fusion.mark_failed(exc)
            return None
    return Ledger(
        on_hand=led["on_hand"].T,
        sales=led["sales"].T if lost else None,
        order=led["order"].T,
        demand=D.T,
        counted=tm.counted_rows().T,
        cycle_start=tm.cycle_start_rows().T,
        holding_cost_rate=problem.holding_cost,
        shortage_cost_rate=problem.shortage_cost,
        lost_sales=lost,
    )


def _lean_flags(tm: "_Timing") -> tuple[torch.Tensor, int]:
    """(T, 4) review / counted / close / track flags of every period (see ``lean_step``), and
    the number of counted cycles."""
    T, P, W = tm.T, tm.P0, tm.W0
    starts = tm.cycle_start_rows()[:, 0].tolist() if T else []
    rows, is_open, cycles = [], False, 0
    for t in range(T):
        close = bool(starts[t]) and t >= W
        rows.append((t >= P and t % P == 0, t >= W, close, is_open))
        if close:
            cycles += 1
            is_open = True
    return torch.tensor(rows, dtype=torch.float64).reshape(T, 4), cycles


def _simulate_lean_blocks(
    block: Any, policy: Policy, inp: SimulationInput, problem: InventoryProblem, tm: "_Timing"
) -> LeanLedger | None:
    """Lean run of a fusable policy in compiled blocks of ``BLOCK_PERIODS`` periods.

    Returns None (nothing changed) when the first block cannot be compiled or the policy reads
    what a block does not provide; the caller then runs period by period.
    """
    from orkit.sim import fused as fusion

    D = inp.demand
    T, n = D.shape
    dev, dt = D.device, D.dtype
    K = min(fusion.BLOCK_PERIODS, T)
    lost = problem.lost_sales
    max_order = problem.max_order if problem.max_order is not None else float("inf")
    flags, cycles = _lean_flags(tm)
    flags = flags.to(device=dev, dtype=dt)
    feats = inp.features
    on = torch.full((n,), problem.initial_on_hand, dtype=dt, device=dev)
    ip = on.clone()
    pipe = [torch.zeros(n, dtype=dt, device=dev) for _ in range(tm.L0)]
    z = lambda: torch.zeros(n, dtype=dt, device=dev)  # noqa: E731
    pos_sum, short_sum, sales_sum, flag = z(), z(), z(), z()
    totals = torch.zeros(len(fusion.TOTALS), dtype=torch.float64, device=dev)
    totals[3], totals[4] = float("inf"), float("-inf")
    # one eager call first: a policy returning the wrong shape fails with a clear message, and
    # caches a policy fills on first use are filled before they are traced
    probe = fusion.FusionObservation(
        period=-1, on_hand=on, inventory_position=ip,
        features=feats[:, 0, :] if feats is not None else None, feature_names=inp.feature_names,
        pipeline=(lambda: torch.stack(pipe, 1)) if pipe else None,
    )
    try:
        _check_orders(policy.act(probe), n, on)
    except fusion.FusionError as exc:
        log.info("%s runs period by period: %s", type(policy).__name__, exc)
        return None
    for t0 in range(0, T, K):
        Dk, fk = D[t0 : t0 + K], flags[t0 : t0 + K]
        xk = feats[:, t0 : t0 + K] if feats is not None else None
        if Dk.shape[0] < K:  # the last block, padded: no review, nothing counted, demand repeated
            pad = K - Dk.shape[0]
            Dk = torch.cat([Dk, Dk[-1:].expand(pad, n)])
            fk = torch.cat([fk, fk.new_zeros(pad, 4)])
            if xk is not None:
                xk = torch.cat([xk, xk[:, -1:].expand(-1, pad, -1)], 1)
        args = (policy, on, ip, pipe, Dk, fk, pos_sum, short_sum, sales_sum, flag, xk,
                inp.feature_names, max_order, lost, tm.P0 > 1)
        try:
            on, ip, pipe, pos_sum, short_sum, sales_sum, flag, part = block(*args)
        except Exception as exc:
            if t0 > 0:
                raise
            log.warning("could not fuse %s into blocks of periods (%s: %s); it runs period by period",
                        type(policy).__name__, type(exc).__name__, exc)
            return None
        totals[:3] += part[:3]
        totals[3] = torch.minimum(totals[3], part[3])
        totals[4] = torch.maximum(totals[4], part[4])
    return _lean_scalar_ledger(pos_sum, short_sum, sales_sum, flag, totals, cycles, cycles > 0 and tm.P0 > 1,
                               T - tm.W0, problem)


def _check_demand_range(low: float, high: float) -> None:
    """Raise for NaN, infinite or negative demand seen as the (min, max) of a fused run."""
    if not (low >= 0 and high < float("inf")):  # NaN fails both comparisons
        bad = "finite, got NaN or infinite values" if not (low == low and high < float("inf")) else f">= 0, got {low:g}"
        raise ValidationError(f"demand must be {bad}")


# --------------------------------------------------------------------------- autograd path
def _simulate_autograd(
    policy: Policy, inp: SimulationInput, problem: InventoryProblem, mode: str, window: int, fused: bool = False
) -> Ledger | LeanLedger:
    D = inp.demand
    T, n = D.shape
    dev, dt = D.device, D.dtype
    tm = _Timing(problem, n, T, dev, dt)
    lost = problem.lost_sales
    max_order = problem.max_order
    lead = tm.lead_time
    R = tm.max_L

    on = torch.full((n,), problem.initial_on_hand, dtype=dt, device=dev)
    ip = on
    # pipeline as a list of R tensors; slot j arrives in j + 1 periods (shifted each period)
    pipe: list[torch.Tensor] = [torch.zeros(n, dtype=dt, device=dev) for _ in range(R)]
    rows: dict[str, list[torch.Tensor]] = {"on_hand": [], "sales": [], "order": []}
    zero = torch.zeros(n, dtype=dt, device=dev)
    lean = mode == "lean"
    if lean:
        # running sums instead of a stacked ledger: the graph holds one node per term and period
        hold = short = sold = zero
        counts = {k: torch.zeros(n, dtype=dt, device=dev) for k in ("stockouts", "cycles", "short_cycles")}
        flag = torch.zeros(n, dtype=torch.bool, device=dev)
        is_open = torch.zeros(n, dtype=torch.bool, device=dev)
        cycle_start = tm.cycle_start_rows() & tm.counted_rows()
        starts_any = (cycle_start[:, 0] if tm.scalar else cycle_start.any(1)).tolist() if T and n else [False] * T
        scalar_open = False
    # large batches: counted periods of a lean run with one timing are one compiled autograd
    # node each (autograd_step); small ones record op by op, which costs less per operation
    one_node = fused and lean and tm.scalar and not D.requires_grad
    if one_node:  # sums updated in place by the node: fresh tensors, not the shared zero
        hold, short, sold = (torch.zeros(n, dtype=dt, device=dev) for _ in range(3))
        step_counts = (counts["stockouts"], counts["short_cycles"], torch.zeros(n, dtype=dt, device=dev))
    step_max_order = float("inf") if max_order is None else float(max_order)
    for t in range(T):
        d = D[t]
        if R > 0:
            on = on + pipe[0]
            pipe = pipe[1:] + [zero]
        if one_node and t >= tm.W0:
            raw = None
            if tm.review_any(t):
                pipeline = (lambda p=pipe: torch.stack(p, 1)) if R > 0 else None
                obs = _observation(t, on, ip, pipeline, inp, tm, window, None)
                raw = _check_orders(policy.act(obs), n, on)
            close = bool(starts_any[t])
            on, ip, q, hold, short, sold = counted_period(
                on, ip, raw, d, hold, short, sold, step_counts, max_order=step_max_order, lost=lost,
                zero_lead=tm.L0 == 0, close=close, track=scalar_open, fused=fused)
            if raw is not None and R > 0:
                pipe = pipe[: tm.L0 - 1] + [q] + pipe[tm.L0 :]  # slot L0 - 1 is empty with one timing
            if close:
                counts["cycles"].add_(1.0)
                scalar_open = True
            continue
        q = zero
        if tm.review_any(t):
            review = tm.review_mask(t)
            pipeline = (lambda p=pipe: torch.stack(p, 1)) if R > 0 else None  # p[j]: in j + 1 periods
            obs = _observation(t, on, ip, pipeline, inp, tm, window, review)
            raw = _check_orders(policy.act(obs), n, on)
            q = raw.clamp(min=0) if max_order is None else raw.clamp(0.0, max_order)
            if review is not None:
                q = q * review
            ip = ip + q
            if tm.scalar:
                if tm.L0 == 0:
                    on = on + q
                else:
                    pipe = pipe[: tm.L0 - 1] + [pipe[tm.L0 - 1] + q] + pipe[tm.L0 :]
            else:
                on = on + q * (lead == 0)
                pipe = [p + q * (lead == j + 1) for j, p in enumerate(pipe)]
        sales = torch.minimum(on.clamp(min=0), d)
        if lost:
            on = on - sales
            ip = ip - sales
        else:
            on = on - d
            ip = ip - d
        if not lean:
            rows["on_hand"].append(on)
            rows["sales"].append(sales)
            rows["order"].append(q)
            continue
        w = (1.0 if t >= tm.W0 else 0.0) if tm.scalar else (t >= tm.warmup).to(dt)
        if tm.scalar and w == 0.0:
            continue
        if tm.scalar:  # counted: add the terms as they are (every op is a graph node)
            hold = hold + on.clamp(min=0)
            short = (short + (d - sales)) if lost else (short - on.clamp(max=0))
            sold = sold + sales
        else:
            hold = hold + on.clamp(min=0) * w
            short = short + ((d - sales) if lost else (-on).clamp(min=0)) * w
            sold = sold + sales * w
        with torch.no_grad():  # counts: no gradient, same rules as the fast path
            y, served = on.detach(), sales.detach()
            if tm.scalar:  # one timing: the cycle bookkeeping is Python booleans, not tensors
                counts["stockouts"].add_(y <= 0)
                if starts_any[t]:
                    counts["short_cycles"].add_(flag)
                    flag.zero_()
                    counts["cycles"].add_(1.0)
                    scalar_open = True
                if scalar_open:
                    flag |= served < d
            else:
                counts["stockouts"].add_((y <= 0) * w)
                if starts_any[t]:
                    cs = cycle_start[t]
                    counts["short_cycles"].add_(flag & cs)
                    flag &= ~cs
                    counts["cycles"].add_(cs)
                    is_open |= cs
                flag |= (served < d) & is_open
    if lean:
        # the last, possibly incomplete, cycle
        if one_node:
            flag = step_counts[2]
        counts["short_cycles"].add_(flag if tm.scalar else flag & is_open)
        weights = tm.counted_rows().to(dt)
        return LeanLedger(
            holding_units=hold,
            shortage_units=short,
            sales=sold,
            demand=(D * weights).sum(0),
            stockout_periods=counts["stockouts"],
            counted_periods=weights.sum(0),
            cycles=counts["cycles"],
            cycles_with_shortage=counts["short_cycles"],
            holding_cost_rate=problem.holding_cost,
            shortage_cost_rate=problem.shortage_cost,
            lost_sales=lost,
        )
    on_hand = torch.stack(rows["on_hand"], 1) if T else D.T.clone()
    sales = torch.stack(rows["sales"], 1) if T else D.T.clone()
    order = torch.stack(rows["order"], 1) if T else D.T.clone()
    demand = D.T
    full = Ledger(
        on_hand=on_hand,
        sales=sales,
        order=order,
        demand=demand,
        counted=tm.counted_rows().T,
        cycle_start=tm.cycle_start_rows().T,
        holding_cost_rate=problem.holding_cost,
        shortage_cost_rate=problem.shortage_cost,
        lost_sales=lost,
    )
    return full
