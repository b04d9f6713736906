"""The batched inventory simulator: a Python loop over periods, tensors over SKUs.

The events of a period are :func:`orkit.sim.dynamics.period` (their order is documented there
and in docs/concepts.md); the review-day and warm-up rules are
:meth:`orkit.sim.dynamics.Timing.flags`. This module runs them over a horizon: it shows the
policy an :class:`~orkit.core.policy.Observation` on each review day and records the ledger,
full (:class:`~orkit.sim.ledger.Ledger`) or lean (:class:`~orkit.sim.ledger.LeanSums`).

A run executes in one of three ways, with the same results (tests hold them equal):

- **eagerly**, period by period: small batches, per-SKU timing, full differentiable ledgers;
- **compiled blocks**: a lean run (with or without gradients) of a policy whose ``act`` is a
  pure tensor expression of the observation (it declares ``fusable = True``) compiles
  ``BLOCK_PERIODS`` periods, the policy traced in, into one loop over SKUs that keeps the
  state in registers. Such a policy is evaluated on every period of a block; on days that are
  not review days its orders are discarded;
- **compiled periods**: any other policy acts eagerly on review days, and the rest of each
  period (order, demand, ledger entries, next arrival) is one compiled call; a full ledger
  is written this way too, each period's rows in one loop (a fusable policy traced in).

Compiled runs need one timing for every SKU and, by default, at least ``FUSE_MIN_SKUS`` SKUs
(``fused``). With gradients, ``torch.compile`` derives the backward of the compiled code.
Where compiling fails, the run continues eagerly from where it stopped.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Literal, NamedTuple

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.policy import Observation, Policy
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_choice, check_int
from orkit.data.coded import CodedArray
from orkit.sim.dynamics import Flags, Rules, State, Timing, period
from orkit.sim.ledger import CostRates, LeanLedger, LeanSums, Ledger

__all__ = ["simulate", "SimulationInput", "prepare_input", "FUSE_MIN_SKUS", "BLOCK_PERIODS", "reset_compiled"]

log = logging.getLogger(__name__)

#: Below this many SKUs a run is not compiled (``fused=None``).
FUSE_MIN_SKUS = 100_000
#: Periods per compiled block of a lean run: enough that the state's round trip through memory
#: is a small share of a block's work, few enough to compile in seconds.
BLOCK_PERIODS = 8


@dataclass(frozen=True)
class SimulationInput:
    """Demand and features laid out for the simulator (time-major, on one device).

    Attributes
    ----------
    demand : Tensor of shape (n_periods, n_skus)
        Time-major demand: ``demand[t]`` is contiguous.
    features : Tensor of shape (n_skus, n_periods, n_features), CodedFeatures, or None
        Floats, or the codes of features a reader kept coded (:mod:`orkit.data.coded`), decoded
        a period at a time (:func:`decode_features`).
    feature_names : tuple of str
    life : (Tensor, Tensor) of shape (n_skus,) each, or None
    """

    demand: torch.Tensor
    features: torch.Tensor | None
    feature_names: tuple[str, ...]
    life: tuple[torch.Tensor, torch.Tensor] | None = None
    """Each SKU's first and last period when some SKU starts or ends inside the horizon."""
    history: int = 0
    """Periods of history before the scored ones (a backtest window, ``Dataset.history_periods``)."""
    sku_ids: Any = None
    """The SKU ids of a Dataset's input (None for a bare demand array): a problem keyed by SKU
    id (:meth:`~orkit.core.InventoryProblem.for_data`) picks each SKU's values by them."""

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
    non-negative (compiled blocks of a lean run check the demand's range in their own loop).

    Demand given as an ``(n_skus, T)`` tensor that is the transpose of a contiguous ``(T,
    n_skus)`` tensor (as a Dataset stores it) is used without a copy.
    """
    if isinstance(data, SimulationInput):
        return data
    if hasattr(data, "demand_time_major"):  # a Dataset: validated already, shared without a copy
        life = None if data.full_lives else tuple(torch.from_numpy(v.copy()) for v in data.life)
        with warnings.catch_warnings():
            # Dataset arrays are read-only; the simulator only reads them
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            demand_tm = torch.from_numpy(np.asarray(data.demand_time_major))
            feats = data.stored_features
            if isinstance(feats, CodedArray):  # kept coded: no float copy
                features = CodedFeatures(tuple(torch.from_numpy(c) for c in feats.codes),
                                         tuple(None if v is None else torch.from_numpy(v) for v in feats.values))
            else:
                features = torch.from_numpy(np.asarray(feats)) if np.size(feats) else None
        feature_names = tuple(data.feature_names)
        validated = True
    else:
        validated, life = False, None
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
    if validate and not validated:
        check_demand(demand_tm)
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
    if life is not None:
        life = tuple(v.to(device) for v in life)
    history = int(getattr(data, "history_periods", 0)) if validated else 0
    sku_ids = getattr(data, "sku_ids", None) if validated else None
    return SimulationInput(demand=demand_tm, features=features, feature_names=tuple(feature_names), life=life,
                           history=history, sku_ids=sku_ids)


class CodedFeatures(NamedTuple):
    """Features kept coded (:class:`~orkit.data.coded.CodedArray`) on the simulator's device:
    per feature, its codes (n_skus, T) and its table of values (or its values, and None).
    Selects like the (n_skus, T, F) tensor it stands for; :func:`decode_features` gives the
    values."""

    codes: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor | None, ...]

    @property
    def shape(self) -> tuple[int, int, int]:
        return (*self.codes[0].shape, len(self.codes))

    @property
    def ndim(self) -> int:
        return 3

    def index_select(self, dim: int, index: torch.Tensor) -> "CodedFeatures":
        """SKUs (``dim`` 0) or periods (``dim`` 1) ``index``."""
        return CodedFeatures(tuple(c.index_select(dim, index) for c in self.codes), self.values)

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> "CodedFeatures":
        codes = tuple(c.to(device) if v is not None else c.to(device, dtype) for c, v in zip(self.codes, self.values))
        return CodedFeatures(codes, tuple(None if v is None else v.to(device, dtype) for v in self.values))


def decode_features(features: torch.Tensor | CodedFeatures) -> torch.Tensor:
    """The values of (a selection of) :attr:`SimulationInput.features`, shape (..., F)."""
    if isinstance(features, CodedFeatures):
        return torch.stack([c if v is None else v[c.long()] for c, v in zip(features.codes, features.values)], -1)
    return features




def check_demand(demand: torch.Tensor) -> None:
    """Raise unless every demand value is finite and >= 0 (one pass)."""
    if demand.numel():
        low, high = torch.aminmax(demand)  # NaN propagates into both
        _check_demand_range(float(low), float(high))


def _check_demand_range(low: float, high: float) -> None:
    """Raise for NaN, infinite or negative demand seen as the (min, max) of a run."""
    if not (low >= 0 and high < float("inf")):  # NaN fails both comparisons
        bad = "finite, got NaN or infinite values" if not (low == low and high < float("inf")) else f">= 0, got {low:g}"
        raise ValidationError(f"demand must be {bad}")


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
        Anything with ``act(obs) -> orders``. A policy whose ``act`` is a pure tensor
        expression of the observation may declare ``fusable = True``: compiled lean runs then
        trace it into blocks of periods (see the module docstring).
    data : Dataset, SimulationInput, array or Tensor of shape (n_skus, n_periods)
        Demand (and features, for a Dataset).
    problem : InventoryProblem
        Per-SKU values belong to the data's SKUs by position, or by id where the problem has
        ``sku_ids`` (then ``data`` must be a Dataset or its SimulationInput).
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
        Compile the run with ``torch.compile`` (lean runs with or without gradients, full
        ledgers without; one lead time and review period for every SKU; the first call in a
        process compiles for a few seconds). ``None`` compiles with at least ``FUSE_MIN_SKUS``
        SKUs, ``True`` always, ``False`` never. The results are the same either way (within
        rounding: compiled kernels may sum in another order).

    Returns
    -------
    Ledger or LeanLedger
    """
    check_choice("ledger", ledger, ("full", "lean"))
    window = check_int("demand_window", demand_window, minimum=0)
    if not isinstance(problem, InventoryProblem):
        raise ValidationError(f"problem must be an InventoryProblem, got {type(problem).__name__}")
    if not hasattr(policy, "act"):
        raise ValidationError(f"policy must have an act(obs) method, got {type(policy).__name__}")
    lean = ledger == "lean"
    inp = prepare_input(data, features=features, feature_names=feature_names, device=device, dtype=dtype,
                        validate=False)
    problem = problem.for_data(inp)  # per-SKU values keyed by SKU id: those of the data's SKUs
    run = _Run(policy, inp, problem, window)
    compiled = (inp.n_skus >= FUSE_MIN_SKUS if fused is None else bool(fused)) and run.timing.shared
    # compiled blocks check the demand's range in their own loop; other runs check it first
    run.unchecked = not (hasattr(data, "demand_time_major") or isinstance(data, SimulationInput))
    with contextlib.nullcontext() if differentiable else torch.no_grad():
        if lean:
            return run.lean(compiled)
        return run.full(compiled and not differentiable, differentiable)


# --------------------------------------------------------------------------- observation
class _Context(NamedTuple):
    """What an observation needs besides the state (compiled code receives it as an argument)."""

    demand: torch.Tensor  # (T, n) time-major
    features: Any  # (n, T, F): a tensor or CodedFeatures
    feature_names: tuple[str, ...]
    window: int
    lead_time: torch.Tensor  # (n,)
    review_period: torch.Tensor  # (n,)
    max_lead_time: int
    costs: Any = None  # (h, b, K) tensors (n,) where the problem gives costs per SKU, else None
    max_order: Any = None  # the caps (n,) where the problem gives one per SKU, else None
    first_period: Any = None  # each SKU's first period (n,) where some SKU starts later, else None


def _observation(state: State, t: int, ctx: _Context, features: Any, is_review: torch.Tensor | None) -> Observation:
    """The :class:`Observation` of ``state`` in period ``t``; views are built when read."""

    def pipeline() -> torch.Tensor:  # column j arrives in j + 1 periods; the last is today's slot
        return torch.stack(state.pipeline + (torch.zeros_like(state.on_hand),), 1)

    def recent_demand() -> torch.Tensor:  # periods t - window .. t - 1; zeros before period 0
        days = torch.arange(t - ctx.window, t, device=ctx.demand.device)
        past = ctx.demand.index_select(0, days.clamp(0, ctx.demand.shape[0] - 1)).T
        return past * (days >= 0)

    return Observation(
        period=t,
        on_hand=state.on_hand,
        inventory_position=state.inventory_position,
        feature_names=ctx.feature_names,
        features=features,
        pipeline=pipeline if ctx.max_lead_time > 0 else None,
        recent_demand=recent_demand,
        lead_time=ctx.lead_time,
        review_period=ctx.review_period,
        is_review=is_review,
        costs=ctx.costs,
        max_order=ctx.max_order,
        first_period=ctx.first_period,
    )


def _as_orders(q: Any, like: torch.Tensor) -> torch.Tensor:
    """A policy's orders as a tensor of shape (n_skus,) in the simulation's dtype."""
    n = like.shape[0]
    if not isinstance(q, torch.Tensor):
        q = torch.as_tensor(q, dtype=like.dtype, device=like.device)
    if q.ndim == 0:
        q = q.expand(n)
    if q.shape != (n,):
        raise ValidationError(f"policy.act must return one order per SKU, shape ({n},), got {tuple(q.shape)}")
    return q.to(like.dtype)


# --------------------------------------------------------------------------- compiled code
#: Period indices enter compiled code offset by this much: the compiler specialises the ints 0
#: and 1, and a graph compiled for them would be compiled again for the next period. (Period 0
#: of a full ledger, never a review day, runs eagerly: as the index of the ledger's first row it
#: would be specialised too.)
_OFFSET = 2


class _Rows(NamedTuple):
    """The full ledger's (T, n) tensors, written row by row by compiled periods."""

    on_hand: torch.Tensor
    order: torch.Tensor
    sales: torch.Tensor | None


def _lean_block(policy, state, sums, t0, periods, ctx, flags, rules):
    """Periods ``t0 .. t0 + periods - 1`` of a lean run, ``policy`` traced in (compiled: one loop).

    ``t0`` enters offset by ``_OFFSET``. Periods past the horizon repeat the last period's
    demand and features with every flag False. Returns the state, the sums and the range of
    the block's demand (checked after the run, so that no pass over the demand precedes it).
    """
    t0 = t0 - _OFFSET
    index = torch.arange(t0, t0 + periods, device=ctx.demand.device).clamp(max=ctx.demand.shape[0] - 1)
    demand = ctx.demand.index_select(0, index)
    features = decode_features(ctx.features.index_select(1, index)) if ctx.features is not None else None
    low = high = demand[0]
    for k in range(periods):
        f = Flags(*flags[t0 + k].unbind(0))
        x = features[:, k] if features is not None else None
        order = _as_orders(policy.act(_observation(state, t0 + k, ctx, x, None)), state.on_hand)
        state, entries = period(state, order, demand[k], f.review, rules.at(t0 + k))
        sums = sums.add(entries, f)
        low, high = torch.minimum(low, demand[k]), torch.maximum(high, demand[k])
    return state, sums, low.min(), high.max()


def _lean_step(state, sums, order, t, ctx, flags, rules):
    """Period ``t`` of a lean run whose orders were computed outside (compiled: one loop)."""
    t = t - _OFFSET
    f = Flags(*flags[t].unbind(0))
    state, entries = period(state, order, ctx.demand[t], f.review, rules.at(t))
    return state, sums.add(entries, f)


def _full_period(policy, state, rows, order, t, ctx, flags, rules):
    """Period ``t`` of a full ledger written into its rows; ``policy`` traced in unless None."""
    t = t - _OFFSET
    f = Flags(*flags[t].unbind(0))
    if policy is not None:
        now = torch.arange(t, t + 1, device=ctx.demand.device)  # a tensor index: no guard on t's value
        x = decode_features(ctx.features.index_select(1, now))[:, 0] if ctx.features is not None else None
        order = _as_orders(policy.act(_observation(state, t, ctx, x, None)), state.on_hand)
    state, entries = period(state, order, ctx.demand[t], f.review, rules.at(t))
    rows.on_hand[t].copy_(entries.on_hand)
    rows.order[t].copy_(entries.order)
    if rows.sales is not None:
        rows.sales[t].copy_(entries.sales)
    return state


_COMPILED: dict[Callable, Callable] = {}
_FAILED: set[tuple[str, type | None]] = set()


def reset_compiled() -> None:
    """Forget compiled code and failed compilations (``torch.compiler.reset`` included)."""
    _COMPILED.clear()
    _FAILED.clear()
    torch.compiler.reset()


def _call_compiled(fn: Callable, traced: type | None, *args: Any) -> Any:
    """``fn(*args)`` compiled, or None where it does not compile (remembered for the process).

    ``traced`` is the type of the policy traced into ``fn`` (None: no policy code inside).
    """
    key = (fn.__name__, traced)
    if key in _FAILED:
        return None
    try:
        if fn not in _COMPILED:
            _COMPILED[fn] = torch.compile(fn, fullgraph=True, dynamic=True)
        return _COMPILED[fn](*args)
    except Exception as exc:  # noqa: BLE001 - any compiler problem: the run goes on eagerly
        _FAILED.add(key)
        what = f"{traced.__name__}'s act traced in" if traced else "no policy inside"
        log.warning("%s (%s) did not compile (%s: %s); running eagerly", fn.__name__, what,
                    type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        return None


# --------------------------------------------------------------------------- the run
class _Run:
    """One simulation: the period loop, eager or compiled."""

    def __init__(self, policy: Policy, inp: SimulationInput, problem: InventoryProblem, window: int) -> None:
        self.policy, self.inp, self.problem = policy, inp, problem
        self.T, self.n = inp.demand.shape
        self.dtype, self.device = inp.demand.dtype, inp.demand.device
        self.timing = timing = Timing.of(problem, self.n, self.device, inp.life, inp.history)
        per_sku = lambda v: torch.as_tensor(v, device=self.device).expand(self.n)  # noqa: E731
        # random lead times: every period's draws, made once (the same for every path); the
        # rows past the horizon pad the last compiled block
        self.rules = Rules.of(problem, timing, self.T, self.n, self.device, pad=BLOCK_PERIODS, dtype=self.dtype)
        self.rates = CostRates.of(problem, self.n, self.device, self.dtype)
        costs = None if not problem.per_sku_costs else tuple(
            torch.as_tensor(r, dtype=self.dtype, device=self.device).expand(self.n) for r in self.rates)
        self.ctx = _Context(inp.demand, inp.features, inp.feature_names, window, per_sku(timing.lead_time),
                            per_sku(timing.review_period), timing.max_lead_time, costs,
                            self.rules.max_order if isinstance(self.rules.max_order, torch.Tensor) else None,
                            None if inp.life is None else inp.life[0].to(device=self.device, dtype=torch.long))
        self.fusable = bool(getattr(policy, "fusable", False))
        self.unchecked = True  # whether the demand's range is still to be checked

    def initial_state(self) -> State:
        on_hand = torch.full((self.n,), self.problem.initial_on_hand, dtype=self.dtype, device=self.device)
        return State.initial(on_hand, self.timing.max_lead_time)

    def features(self, t: int) -> Any:
        x = self.inp.features
        if isinstance(x, CodedFeatures):
            return lambda: decode_features(x.index_select(1, torch.tensor([t], device=self.device)))[:, 0]
        return (lambda: x[:, t, :]) if x is not None else None

    def act(self, state: State, t: int, review: bool | torch.Tensor) -> torch.Tensor:
        is_review = review if isinstance(review, torch.Tensor) else None
        obs = _observation(state, t, self.ctx, self.features(t), is_review)
        return _as_orders(self.policy.act(obs), state.on_hand)

    def flag_table(self) -> torch.Tensor:
        """(T + BLOCK_PERIODS, 4) bool: the flags of every period for compiled code (one
        timing); the rows past the horizon are False, for the padding of the last block."""
        t = torch.arange(self.T, device=self.device)
        flags = torch.stack([torch.as_tensor(f, device=self.device).expand(self.T) for f in self.timing.flags(t)], 1)
        return torch.cat([flags, flags.new_zeros(BLOCK_PERIODS, 4)])

    def advance(self, state: State, order: torch.Tensor | None, t: int, f: Flags) -> tuple[State, Any]:
        return period(state, order, self.inp.demand[t], f.review, self.rules.at(t))

    # ----------------------------------------------------------------- lean
    def lean(self, compiled: bool) -> LeanLedger:
        state, start = self.initial_state(), 0
        sums = LeanSums.zeros(self.n, self.dtype, self.device, orders=self.rates.charges_orders)
        flags = self.flag_table() if compiled and self.T else None
        zero = torch.zeros(self.n, dtype=self.dtype, device=self.device)  # the order of days without review
        if flags is not None and torch.is_grad_enabled():
            # what carries gradients after a period carries them from the start: every compiled
            # call then sees the same inputs (one graph, not one for the first call and another)
            for x in (state.on_hand, *state.pipeline, sums.holding_units, sums.shortage_units, sums.sales, zero):
                x.requires_grad_()
        if flags is not None and self.fusable:
            state, sums, start = self.lean_blocks(state, sums, flags)
        if self.unchecked:
            check_demand(self.inp.demand[start:])
        for t in range(start, self.T):
            f = self.timing.flags(t)
            order = self.act(state, t, f.review) if f.review is not False else None
            if flags is not None:  # the policy acted eagerly; the rest of the period is compiled
                out = _call_compiled(_lean_step, None, state, sums, zero if order is None else order, t + _OFFSET,
                                     self.ctx, flags, self.rules)
                if out is not None:
                    state, sums = out
                    continue
                flags = None
            state, entries = self.advance(state, order, t, f)
            sums = sums.add(entries, f)
        return self.lean_ledger(sums)

    def lean_blocks(self, state: State, sums: LeanSums, flags: torch.Tensor) -> tuple[State, LeanSums, int]:
        """Blocks of ``BLOCK_PERIODS`` periods; returns where they stopped (T, unless compiling failed)."""
        K = min(BLOCK_PERIODS, self.T)
        self.act(state, 0, True)  # eagerly once: a clear error for a wrong shape, caches filled before tracing
        lows, highs = [], []
        for t0 in range(0, self.T, K):
            out = _call_compiled(_lean_block, type(self.policy), self.policy, state, sums, t0 + _OFFSET, K,
                                 self.ctx, flags, self.rules)
            if out is None:
                break
            state, sums, low, high = out
            lows.append(low)
            highs.append(high)
        else:
            t0 = self.T
        if lows and self.unchecked:
            _check_demand_range(float(torch.stack(lows).min()), float(torch.stack(highs).max()))
        return state, sums, t0

    def lean_ledger(self, sums: LeanSums) -> LeanLedger:
        # counts of periods and cycles follow from the timing: a (T, 1) table when it is shared
        f = self.timing.flags(torch.arange(self.T, device=self.device).unsqueeze(1))
        count = lambda rows: torch.as_tensor(rows).sum(0).to(self.dtype).expand(self.n).clone()  # noqa: E731
        return sums.ledger(count(f.counted), count(f.cycle_start), rates=self.rates, lost_sales=self.problem.lost_sales)

    # ----------------------------------------------------------------- full
    def full(self, compiled: bool, differentiable: bool) -> Ledger:
        T, n, lost = self.T, self.n, self.problem.lost_sales
        if self.unchecked:
            check_demand(self.inp.demand)
        state = self.initial_state()
        keys = ("on_hand", "order", "sales") if lost or differentiable else ("on_hand", "order")
        if differentiable:  # rows stacked at the end: in-place writes would break the graph
            rows: dict[str, Any] = {k: [] for k in keys}
        else:  # every row written once (no zero fill); under backorders the Ledger derives sales
            rows = {k: torch.empty(T, n, dtype=self.dtype, device=self.device) for k in keys}
        flags = self.flag_table() if compiled and T else None
        traced = type(self.policy) if self.fusable and flags is not None else None
        if traced is not None:
            self.act(state, 0, True)  # eagerly once: a clear error for a wrong shape, caches filled before tracing
        zero = torch.zeros(n, dtype=self.dtype, device=self.device)
        for t in range(T):
            f = self.timing.flags(t)
            order = None
            if traced is None or t == 0:
                order = self.act(state, t, f.review) if f.review is not False else None
            if flags is not None and t > 0:  # each period one compiled call writing its rows
                view = _Rows(rows["on_hand"], rows["order"], rows["sales"] if lost else None)
                call = lambda policy, order: _call_compiled(  # noqa: E731
                    _full_period, traced, policy, state, view, zero if order is None else order, t + _OFFSET, self.ctx, flags,
                    self.rules)
                out = call(self.policy if traced else None, order)
                if out is None and traced is not None:  # the policy could not be traced: it acts eagerly
                    traced = None
                    order = self.act(state, t, f.review) if f.review is not False else None
                    out = call(None, order)
                if out is not None:
                    state = out
                    continue
                flags = None
            state, entries = self.advance(state, order, t, f)
            for k in keys:
                value = getattr(entries, k)
                rows[k].append(value) if differentiable else rows[k][t].copy_(value)
        if differentiable:
            stacked = {k: torch.stack(v, 1) if T else self.inp.demand.T.clone() for k, v in rows.items()}
        else:
            stacked = {k: v.T for k, v in rows.items()}
        f = self.timing.rows(T, n, self.device)
        return Ledger(
            on_hand=stacked["on_hand"],
            sales=stacked.get("sales"),
            order=stacked["order"],
            demand=self.inp.demand.T,
            counted=f.counted.T,
            cycle_start=f.cycle_start.T,
            holding_cost_rate=self.rates.holding,
            shortage_cost_rate=self.rates.shortage,
            fixed_cost_rate=self.rates.fixed,
            lost_sales=lost,
        )
