r"""Average-cost dynamic programming for small single-item instances: relative value iteration.

:func:`solve_average_cost_dp` and :class:`DynamicProgrammingPolicy`.
Review period 1, lead time :math:`L \ge 0`, i.i.d. integer demand with pmf :math:`p` on
``0..K``, backorders or lost sales, costs :math:`h` per unit on hand and :math:`b` per unit
backlogged (or lost) at the end of each period, exactly as in :mod:`orkit.sim`. The state on a
review day, after the period's arrival and before ordering, is

.. math::

    s = (x_0, a_1, \dots, a_{L-1}),

with :math:`x_0` the on-hand inventory (negative = backlog) and :math:`a_k` the order arriving
in :math:`k` periods (for :math:`L \le 1` the state is :math:`x_0` alone). Ordering :math:`q`
and meeting demand :math:`d` gives

.. math::

    y = x_0 - d \;(L \ge 1) \text{ or } x_0 + q - d \;(L = 0),\qquad
    \text{lost sales: } y \leftarrow y^+,\qquad
    s' = (y + a_1, a_2, \dots, a_{L-1}, q),

and the period cost :math:`c(z) = h\,E[(z - d)^+] + b\,E[(d - z)^+]` with :math:`z = x_0`
(:math:`x_0 + q` when :math:`L = 0`). The long-run average cost :math:`g` and relative values
:math:`v` solve :math:`g + v(s) = \min_q \{ c + E\,v(s') \}`; relative value iteration
(Puterman 1994, *Markov Decision Processes*, sec. 8.5.5) with the aperiodicity transformation
finds them, vectorised over all (state, order) pairs as one sparse matrix-vector product per
iteration, and stops when the span of :math:`Tv - v` (the Odoni bounds on :math:`g`) is below
``tol``.

State space: :math:`x_0 \ge` ``min_on_hand`` (0 under lost sales; a backlog floor under
backorders, where deeper backlogs are lumped into the floor), orders and pipeline entries
:math:`\le` ``max_order``, and inventory position :math:`x_0 + \sum a_k + q \le`
``max_inventory_position`` :math:`U`. The default :math:`U` is the optimal backorder base-stock
level :math:`S^* = F_{L+1}^{-1}(b / (b + h))`: under backorders base-stock is optimal, and
under lost sales Morton (1969, *SIAM Review* 11(4)) bounds the optimal order by the backorder
base-stock order, :math:`x_0 + \sum a_k + q^* \le S^*` (see also Zipkin 2008b, *Oper. Res.*
56(4)), so a position above :math:`S^*` is never reached from one below it and the default
never binds. A warning is logged when the optimal policy reaches a smaller :math:`U` given by
the caller. The number of states and transitions is checked before anything is allocated;
beyond ``max_states`` or ``max_transitions`` a :class:`~orkit.core.StateSpaceError` names the
count and the value to set.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from orkit.core.errors import SolverError, StateSpaceError, ValidationError
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import Observation, check_is_fitted
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_float, check_int
from orkit.heuristics._params import checked_fields, dataclass_fields
from orkit.heuristics._training import pooled_lived_pmf, scalar_timing, shared_costs
from orkit.heuristics.distributions import DemandDistribution, Discrete
from orkit.heuristics.newsvendor import newsvendor_cost

__all__ = [
    "AverageCostSolution",
    "solve_average_cost_dp",
    "count_dp_states",
    "DynamicProgrammingPolicy",
]

logger = logging.getLogger(__name__)

_DENSE_TABLE_LIMIT = 1 << 25  # entries of the dense state -> order table a policy may allocate


def _pmf_array(demand_pmf: Any) -> np.ndarray:
    if isinstance(demand_pmf, DemandDistribution):
        if not hasattr(demand_pmf, "truncate"):
            raise ValidationError(f"demand_pmf must be a pmf array or a discrete distribution, got {type(demand_pmf).__name__}")
        demand_pmf = demand_pmf.truncate().pmf
    pmf = np.asarray(Discrete(demand_pmf).pmf, dtype=np.float64)
    if pmf.ndim != 1:
        raise ValidationError(f"demand_pmf must be one pmf (1-d), got shape {pmf.shape}")
    nz = np.flatnonzero(pmf > 0)
    return pmf[: nz[-1] + 1] if nz.size else pmf[:1]


def _period_cost(z: np.ndarray, pmf: np.ndarray, h: float, b: float) -> np.ndarray:
    """c(z) = h E[(z - d)^+] + b E[(d - z)^+] for integer z (any sign): the newsvendor cost."""
    return newsvendor_cost(z.astype(np.float64), h, b, Discrete(pmf))


# ----------------------------------------------------------------------------- state space
def _ip_histogram(low: int, high: int, pipeline_slots: int, max_order: int) -> np.ndarray:
    """Number of states per partial inventory position (index ip - low) after all slots."""
    width = high - low + 1
    hist = np.ones(width, dtype=np.float64)
    for _ in range(pipeline_slots):
        # a new slot adds a in [0, min(max_order, U - ip)]: a box convolution truncated at U
        cum = np.concatenate([[0.0], np.cumsum(hist)])
        idx = np.arange(width)
        hist = cum[idx + 1] - cum[np.maximum(idx - max_order, 0)]
    return hist


def count_dp_states(
    lead_time: int,
    min_on_hand: int,
    max_inventory_position: int,
    max_order: int | None = None,
    max_demand: int | None = None,
) -> tuple[int, int, int]:
    """``(states, state-order pairs, transitions)`` of :func:`solve_average_cost_dp`, allocation-free.

    ``transitions`` (the non-zeros of the sparse transition matrix, about 20 bytes each while it
    is built) is only counted when ``max_demand`` (the largest demand ``K``) is given; else 0.
    """
    U, low = int(max_inventory_position), int(min_on_hand)
    width = U - low + 1
    q_max = width if max_order is None else int(max_order)
    slots = max(lead_time - 1, 0)
    hist = _ip_histogram(low, U, slots, q_max)
    room = np.minimum(U - np.arange(low, U + 1), q_max) + 1
    states, pairs = int(round(hist.sum())), int(round((hist * room).sum()))
    if max_demand is None:
        return states, pairs, 0
    positions = np.arange(low, U + 1)
    if lead_time == 0:
        # outcomes depend on the stock before demand, x_0 + q
        z = positions[:, None] + np.arange(width)[None, :]
        valid = z <= U
        outcomes = np.minimum(z - low, max_demand) + 1
        return states, pairs, int((outcomes * valid)[room[:, None] > np.arange(width)[None, :]].sum())
    # joint count of (on-hand, position): start at position = on-hand, add the pipeline slots
    joint = np.eye(width)
    for _ in range(slots):
        cum = np.concatenate([np.zeros((width, 1)), np.cumsum(joint, axis=1)], axis=1)
        idx = np.arange(width)
        joint = cum[:, idx + 1] - cum[:, np.maximum(idx - q_max, 0)]
    outcomes = np.minimum(positions - low, max_demand) + 1
    return states, pairs, int(round(float(outcomes @ joint @ room)))


def _enumerate_states(low: int, high: int, pipeline_slots: int, max_order: int) -> tuple[np.ndarray, np.ndarray]:
    """All states in lexicographic order (last coordinate fastest) and their positions."""
    cols = [np.arange(low, high + 1, dtype=np.int64)]
    ip = cols[0].copy()
    for _ in range(pipeline_slots):
        rep, within = _ragged(np.minimum(high - ip, max_order) + 1)
        cols = [c[rep] for c in cols] + [within]
        ip = ip[rep] + within
    return np.stack(cols, axis=1), ip


def _keys(states: np.ndarray, low: int, base: int) -> np.ndarray:
    shifted = states.copy()
    shifted[:, 0] -= low
    key = np.zeros(states.shape[0], dtype=np.int64)
    for j in range(states.shape[1]):
        key = key * base + shifted[:, j]
    return key


def _ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, offset) for groups of the given sizes: owner[i] = group, offset[i] = index in group."""
    owner = np.repeat(np.arange(counts.size), counts)
    offset = np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, offset


# ----------------------------------------------------------------------------- relative value iteration
@dataclass(frozen=True)
class AverageCostSolution:
    """Optimal average cost and policy of :func:`solve_average_cost_dp`.

    Attributes
    ----------
    average_cost : float
        Optimal long-run cost per period [g] (midpoint of the final Odoni bounds).
    lower_bound, upper_bound : float
        Odoni bounds on ``g`` at termination.
    states : ndarray of shape (n_states, max(L, 1))
        Columns ``on_hand, pipeline_1, ..., pipeline_{L-1}`` (``pipeline_k`` arrives in k periods).
    orders : ndarray of shape (n_states,)
        Optimal order in every state (the smallest one on ties).
    relative_values : ndarray of shape (n_states,)
        [v], normalised to 0 at the first state.
    lead_time, min_on_hand, max_inventory_position : int
    lost_sales : bool
    iterations : int
    n_state_actions : int
    n_transitions : int
        Non-zeros of the transition matrix.
    fallback_level : float
        Order-up-to level used for states outside the table (the median post-order position of
        states that order).
    """

    average_cost: float
    lower_bound: float
    upper_bound: float
    states: np.ndarray
    orders: np.ndarray
    relative_values: np.ndarray
    lead_time: int
    min_on_hand: int
    max_inventory_position: int
    lost_sales: bool
    iterations: int
    n_state_actions: int
    n_transitions: int
    fallback_level: float
    _keys: np.ndarray = field(repr=False)

    @property
    def n_states(self) -> int:
        return int(self.states.shape[0])

    def order(self, on_hand: Any, pipeline: Any = None) -> np.ndarray:
        """Optimal orders for states given as arrays (rounded; see :class:`DynamicProgrammingPolicy`)."""
        x0 = np.round(np.asarray(on_hand, dtype=np.float64)).astype(np.int64).reshape(-1)
        slots = max(self.lead_time - 1, 0)
        pipe = np.zeros((x0.size, slots), dtype=np.int64)
        if slots and pipeline is not None:
            given = np.round(np.asarray(pipeline, dtype=np.float64)).astype(np.int64).reshape(x0.size, -1)
            pipe[:, : min(slots, given.shape[1])] = given[:, :slots]
        x0c = np.maximum(x0, self.min_on_hand)
        state = np.concatenate([x0c[:, None], pipe], axis=1)
        key = _keys(state, self.min_on_hand, self.max_inventory_position - self.min_on_hand + 1)
        pos = np.clip(np.searchsorted(self._keys, key), 0, self._keys.size - 1)
        found = (self._keys[pos] == key) & np.all(pipe >= 0, axis=1) & (x0c + pipe.sum(1) <= self.max_inventory_position)
        ip = x0 + pipe.sum(1)
        return np.where(found, self.orders[pos], np.maximum(np.floor(self.fallback_level) - ip, 0)).astype(np.int64)


def _chain_arguments(demand_pmf: Any, holding_cost: float, shortage_cost: float, lead_time: int,
                     aperiodicity: float, tol: float, max_states: int, max_iterations: int) -> tuple:
    """The checked arguments shared by the relative value iteration and the Markov-chain
    evaluator: (pmf, h, b, L, aperiodicity, tol, max_states, max_iterations)."""
    h = check_float("holding_cost", holding_cost, minimum=0)
    b = check_float("shortage_cost", shortage_cost, minimum=0)
    if h + b <= 0:
        raise ValidationError("holding_cost + shortage_cost must be > 0")
    return (_pmf_array(demand_pmf), h, b, check_int("lead_time", lead_time, minimum=0),
            check_float("aperiodicity", aperiodicity, minimum=0, strict_minimum=True, maximum=1),
            check_float("tol", tol, minimum=0, strict_minimum=True), check_int("max_states", max_states, minimum=1),
            check_int("max_iterations", max_iterations, minimum=1))


def _default_bounds(pmf: np.ndarray, h: float, b: float, L: int, lost_sales: bool, fixed_cost: float = 0.0) -> tuple[int, int]:
    law = Discrete(pmf).sum_of(L + 1)
    level = int(law.ppf(b / (b + h)))
    U = level  # Morton's bound (module docstring): the optimal post-order position is <= S*
    lowest = level
    if fixed_cost > 0 and h > 0 and b > 0 and pmf[0] < 1:
        # with a fixed cost the optimal backorder policy is (s, S): no S with G(S) above the cost
        # of the Zheng-Federgruen optimum can be optimal (the upper bound on S* of Zheng & Federgruen 1991)
        from orkit.heuristics.fixed_cost import zheng_federgruen

        s, S, cost = zheng_federgruen(h, b, fixed_cost, Discrete(pmf), L)
        y = np.arange(int(S), int(S) + 2 * (int(S) - int(s)) + pmf.size + 2)
        g = newsvendor_cost(y.astype(np.float64), h, b, law)
        U = int(y[np.flatnonzero(g <= cost + 1e-12).max()])
        lowest = int(s)
    # backorders: the recurrent class reaches s - (L + 1) K (s = S* - 1 without a fixed cost);
    # one more K of margin keeps the floor (where deeper backlogs are lumped) out of reach of the
    # decisions that matter
    low = 0 if lost_sales else min(0, lowest - (L + 2) * (pmf.size - 1))
    return U, low


def solve_average_cost_dp(
    demand_pmf: Any,
    *,
    holding_cost: float,
    shortage_cost: float,
    lead_time: int,
    lost_sales: bool = True,
    fixed_cost: float = 0.0,
    max_order: int | None = None,
    max_inventory_position: int | None = None,
    min_on_hand: int | None = None,
    max_states: int = 1_000_000,
    max_transitions: int = 50_000_000,
    tol: float = 1e-9,
    max_iterations: int = 100_000,
    aperiodicity: float = 0.9,
) -> AverageCostSolution:
    r"""Optimal long-run average cost and policy by relative value iteration (module docstring).

    Parameters
    ----------
    demand_pmf : array of shape (K + 1,) or a discrete DemandDistribution
        Per-period demand pmf on ``0..K`` [p]; a Poisson or negative binomial law is truncated
        at tail mass 1e-12 (lumped into the last value).
    holding_cost, shortage_cost : float
        [h] per unit on hand and [b] per unit backlogged or lost, at the end of a period.
    lead_time : int
        [L] >= 0.
    lost_sales : bool, default=True
    fixed_cost : float, default=0.0
        [K] per order placed (added to the period cost of every state-order pair with
        ``q > 0``). With ``K > 0`` the default ``max_inventory_position`` is the largest level
        whose period cost :math:`G` does not exceed the optimal (s, S) cost under backorders
        (Zheng & Federgruen 1991: no larger order-up-to level can be optimal under backorders; a
        heuristic bound under lost sales), and the default backlog floor starts from the optimal
        reorder point.
    max_order : int, optional
        Largest order [q_max]; default unbounded (limited by ``max_inventory_position``).
    max_inventory_position : int, optional
        [U]; default: the backorder base-stock level ``S* = F_{L+1}^{-1}(b/(b+h))``, Morton's
        bound on the optimal post-order position (module docstring).
    min_on_hand : int, optional
        Backlog floor under backorders (deeper backlogs are lumped); default
        ``min(0, S* - (L + 2) K)`` with ``K`` the largest demand. Must be 0 under lost sales.
    max_states : int, default=1_000_000
        Refuse (``StateSpaceError``) instances with more states.
    max_transitions : int, default=50_000_000
        Refuse instances whose sparse transition matrix has more non-zeros (memory: about 20
        bytes each while it is built).
    tol : float, default=1e-9
        Stop when the Odoni bounds on ``g`` are closer than ``tol * max(1, g)``.
    max_iterations : int, default=100_000
    aperiodicity : float, default=0.9
        Weight tau of the aperiodicity transformation ``v <- v + tau (Tv - v)`` (1 = plain RVI;
        < 1 guarantees convergence for periodic chains).

    Returns
    -------
    AverageCostSolution

    Raises
    ------
    StateSpaceError
        More than ``max_states`` states or ``max_transitions`` transitions (both counted in
        closed form before any allocation).
    SolverError
        No convergence within ``max_iterations``.

    Examples
    --------
    Backorders, L = 1, Poisson(2) demand, h = 1, b = 4: the optimum is base-stock, with the cost
    of :func:`~orkit.heuristics.base_stock_cost` at the 0.8-quantile of Poisson(4).

    >>> from orkit.heuristics import Poisson, base_stock_cost
    >>> sol = solve_average_cost_dp(Poisson(2.0), holding_cost=1.0, shortage_cost=4.0, lead_time=1, lost_sales=False)
    >>> round(sol.average_cost, 6), round(float(base_stock_cost(6, 1.0, 4.0, Poisson(2.0), lead_time=1)), 6)
    (2.977173, 2.977173)
    """
    pmf, h, b, L, tau, tol, max_states, max_iterations = _chain_arguments(
        demand_pmf, holding_cost, shortage_cost, lead_time, aperiodicity, tol, max_states, max_iterations)
    max_transitions = check_int("max_transitions", max_transitions, minimum=1)
    fixed = check_float("fixed_cost", fixed_cost, minimum=0)
    default_U, default_low = _default_bounds(pmf, h, b, L, lost_sales, fixed)
    U = default_U if max_inventory_position is None else check_int("max_inventory_position", max_inventory_position, minimum=0)
    low = default_low if min_on_hand is None else check_int("min_on_hand", min_on_hand)
    if lost_sales and low != 0:
        raise ValidationError(f"min_on_hand must be 0 under lost sales, got {low}")
    if low > min(U, 0):
        raise ValidationError(f"min_on_hand must be <= min(0, max_inventory_position), got {low}")
    width = U - low + 1
    q_max = width if max_order is None else check_int("max_order", int(math.floor(max_order)), minimum=1)
    slots = max(L - 1, 0)

    n_states, n_pairs = count_dp_states(L, low, U, q_max)[:2]
    if n_states > max_states:
        raise StateSpaceError(
            f"the dynamic program needs {n_states:,} states (lead time {L}, on-hand {low}..{U}, "
            f"{slots} pipeline slots), more than max_states={max_states:,}; set max_states={n_states:,} "
            "or more, or lower max_inventory_position (below Morton's bound S* the optimum may be cut off)"
        )
    n_transitions = count_dp_states(L, low, U, q_max, pmf.size - 1)[2]
    if n_transitions > max_transitions:
        raise StateSpaceError(
            f"the dynamic program needs {n_transitions:,} transitions for its {n_states:,} states "
            f"(about {20 * n_transitions / 2**30:.1f} GiB while built), more than max_transitions="
            f"{max_transitions:,}; set max_transitions={n_transitions:,} or more, or lower max_inventory_position "
            "or max_order"
        )
    if width ** max(L, 1) >= 2**62:
        raise StateSpaceError(f"the state keys of {width}^{max(L, 1)} overflow int64; the instance is too large for the exact DP")
    K = pmf.size - 1
    tail = np.flip(np.cumsum(np.flip(pmf)))  # tail[d] = P(D >= d)

    states, ip = _enumerate_states(low, U, slots, q_max)
    keys = _keys(states, low, width)
    x0 = states[:, 0]
    room = np.minimum(U - ip, q_max)  # orders 0..room
    sa_state, sa_q = _ragged(room + 1)
    sa_start = np.concatenate([[0], np.cumsum(room + 1)[:-1]])

    # outcomes: demand j = 0..n_out-1; the last outcome lumps P(D >= j) (deep backlog / stock-out)
    if L == 0:
        z = x0[sa_state] + sa_q  # on hand before demand, per (state, order)
        owner_z = np.arange(z.size)
    else:
        z = x0
        owner_z = None
    n_out = np.minimum(z - low, K) + 1
    own, j = _ragged(n_out)
    prob = np.where(j == n_out[own] - 1, tail[j], pmf[j])
    y = z[own] - j
    if L == 0:
        # next state: on-hand y; index y - low; row = (state, order) pair
        rows = owner_z[own]
        cols = y - low
        cost_sa = _period_cost(z, pmf, h, b) + fixed * (sa_q > 0)
    else:
        # next state (y + a_1, a_2, ..., a_{L-1}, q): prefix with q = 0, then + q (contiguous block)
        if L == 1:
            prefix = (y + 0)[:, None]
        else:
            prefix = np.concatenate([(y + states[own, 1])[:, None], states[own, 2:], np.zeros((own.size, 1), np.int64)], axis=1)
        base_key = _keys(prefix, low, width)
        base = np.searchsorted(keys, base_key)
        if np.any(keys[np.minimum(base, keys.size - 1)] != base_key):
            raise SolverError("internal error: a successor state is missing from the state space")
        # expand every (state, outcome) over the state's orders
        reps = room[own] + 1
        e_owner, q = _ragged(reps)
        rows = sa_start[own[e_owner]] + q
        cols = base[e_owner] + q
        prob = prob[e_owner]
        cost_sa = _period_cost(x0, pmf, h, b)[sa_state] + fixed * (sa_q > 0)
    index_dtype = np.int32 if max(n_pairs, n_states) < 2**31 - 1 else np.int64
    transition = sp.csr_matrix(
        (prob, (rows.astype(index_dtype), cols.astype(index_dtype))), shape=(n_pairs, n_states)
    )
    del rows, cols, prob, own, j, y

    V = np.zeros(n_states)
    lower = upper = np.nan
    for iteration in range(1, max_iterations + 1):
        Q = cost_sa + transition @ V
        TV = np.minimum.reduceat(Q, sa_start)
        diff = TV - V
        lower, upper = float(diff.min()), float(diff.max())
        if upper - lower <= tol * max(1.0, abs(upper)):
            break
        V = V + tau * diff
        V -= V[0]
    else:
        raise SolverError(
            f"relative value iteration did not converge in {max_iterations} iterations "
            f"(bounds on g: {lower:.6g}..{upper:.6g}); raise max_iterations or lower aperiodicity"
        )
    mins = np.repeat(TV, room + 1)
    ties = Q <= mins + 1e-9 * (1.0 + np.abs(mins))
    orders = np.minimum.reduceat(np.where(ties, sa_q, np.iinfo(np.int64).max), sa_start)
    post = ip + orders
    ordering = orders > 0
    fallback = float(np.median(post[ordering])) if ordering.any() else float(U)
    if max_inventory_position is not None and U < default_U and np.any(ordering & (post == U)):
        logger.warning(
            "the optimal policy orders up to max_inventory_position=%d in some states; raise it (Morton's bound: %d)",
            U, default_U,
        )
    return AverageCostSolution(
        average_cost=0.5 * (lower + upper),
        lower_bound=lower,
        upper_bound=upper,
        states=states,
        orders=orders.astype(np.int64),
        relative_values=V - V[0],
        lead_time=L,
        min_on_hand=low,
        max_inventory_position=U,
        lost_sales=bool(lost_sales),
        iterations=iteration,
        n_state_actions=n_pairs,
        n_transitions=int(transition.nnz),
        fallback_level=fallback,
        _keys=keys,
    )


class DynamicProgrammingPolicy(SavablePolicy):
    """The optimal policy of :func:`solve_average_cost_dp` as a lookup table.

    Restrictions: review period 1, one lead time for all SKUs, i.i.d. integer demand (the pmf is
    given, or estimated from the rounded training demand pooled over SKUs). ``act`` rounds
    on-hand and pipeline to integers and looks the state up; states outside the table (position
    above ``max_inventory_position``, backlog below ``min_on_hand``) order up to
    ``solution_.fallback_level``.

    Parameters
    ----------
    demand_pmf : array of shape (K + 1,), discrete DemandDistribution, or None
    max_inventory_position, min_on_hand, max_states, max_transitions, tol, aperiodicity
        Passed to :func:`solve_average_cost_dp`.

    Attributes
    ----------
    solution_ : AverageCostSolution
    per_sku_ : bool
        False: one table serves every SKU.
    sku_ids_ : None
    """

    policy_name = "dp-optimal"
    _saved_attributes = ("solution_",)

    def __init__(
        self,
        demand_pmf: Any = None,
        *,
        max_inventory_position: int | None = None,
        min_on_hand: int | None = None,
        max_states: int = 1_000_000,
        max_transitions: int = 50_000_000,
        tol: float = 1e-9,
        aperiodicity: float = 0.9,
    ) -> None:
        self.demand_pmf = demand_pmf
        self.max_inventory_position = max_inventory_position
        self.min_on_hand = min_on_hand
        self.max_states = max_states
        self.max_transitions = max_transitions
        self.tol = tol
        self.aperiodicity = aperiodicity

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "DynamicProgrammingPolicy":
        problem = shared_costs(problem.for_data(train), "DynamicProgrammingPolicy", max_order=True)
        L, P = scalar_timing(problem, "DynamicProgrammingPolicy")
        if P != 1:
            raise ValidationError(f"DynamicProgrammingPolicy needs review_period 1, got {P}")
        if self.demand_pmf is not None:
            pmf = self.demand_pmf
        else:
            pmf = pooled_lived_pmf(train)  # pooled over the periods each SKU lives
        self.solution_ = solve_average_cost_dp(
            pmf,
            holding_cost=problem.holding_cost,
            shortage_cost=problem.shortage_cost,
            lead_time=L,
            lost_sales=problem.lost_sales,
            fixed_cost=problem.fixed_cost,
            max_order=problem.max_order,
            max_inventory_position=self.max_inventory_position,
            min_on_hand=self.min_on_hand,
            max_states=self.max_states,
            max_transitions=self.max_transitions,
            tol=self.tol,
            aperiodicity=self.aperiodicity,
        )
        self.per_sku_, self.sku_ids_ = False, None  # the pmf is pooled over SKUs
        self._prepare_tables()
        return self

    def _prepare_tables(self) -> None:
        sol = self.solution_
        self._tables: dict[torch.device, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._width = sol.max_inventory_position - sol.min_on_hand + 1

    def _saved_parameters(self) -> dict[str, Any]:
        params = super()._saved_parameters()
        if isinstance(params["demand_pmf"], DemandDistribution):  # saved as the pmf it stands for
            params["demand_pmf"] = _pmf_array(params["demand_pmf"])
        return params

    def _saved_state(self) -> dict[str, Any]:
        state = super()._saved_state()
        state["solution_"] = dataclass_fields(self.solution_)
        return state

    def _restore_state(self, state: dict[str, Any]) -> None:
        super()._restore_state(state)
        self.solution_ = _average_cost_solution(self.solution_)
        self._prepare_tables()

    def _table(self, device: torch.device) -> torch.Tensor:
        """Dense lookup ``key -> order`` (-1 outside the state space), or the sorted keys when too large."""
        if device not in self._tables:
            sol = self.solution_
            size = self._width ** max(sol.lead_time - 1, 0) * self._width
            if size <= _DENSE_TABLE_LIMIT:
                dense = torch.full((size,), -1, dtype=torch.long)
                dense[torch.as_tensor(sol._keys)] = torch.as_tensor(sol.orders)
                self._tables[device] = (dense.to(device), None)
            else:
                self._tables[device] = (torch.as_tensor(sol._keys, device=device), torch.as_tensor(sol.orders, device=device))
        return self._tables[device]

    def act(self, obs: Observation) -> torch.Tensor:
        check_is_fitted(self, ("solution_",))
        sol = self.solution_
        first, second = self._table(obs.on_hand.device)
        x0 = torch.round(obs.on_hand).long()
        slots = max(sol.lead_time - 1, 0)
        pipe = torch.round(obs.pipeline[:, :slots]).long() if slots else x0.new_zeros(x0.shape[0], 0)
        ip = x0 + pipe.sum(1)
        x0c = torch.clamp(x0, min=sol.min_on_hand)
        inside = (x0c + pipe.sum(1) <= sol.max_inventory_position) & (pipe >= 0).all(1)
        key = torch.clamp(x0c - sol.min_on_hand, max=self._width - 1)
        for k in range(slots):
            key = key * self._width + torch.clamp(pipe[:, k], 0, self._width - 1)
        if second is None:
            order = first[key]
            found = inside & (order >= 0)
        else:
            pos = torch.clamp(torch.searchsorted(first, key), max=first.numel() - 1)
            found = inside & (first[pos] == key)
            order = second[pos]
        fallback = torch.clamp(math.floor(sol.fallback_level) - ip, min=0)
        return torch.where(found, order, fallback).to(obs.on_hand.dtype)


def _average_cost_solution(saved: Any) -> AverageCostSolution:
    """A saved :class:`AverageCostSolution`, with its tables checked against each other."""
    values = checked_fields(AverageCostSolution, saved)
    for name in ("lead_time", "min_on_hand", "max_inventory_position", "iterations", "n_state_actions", "n_transitions"):
        values[name] = check_int(f"solution_.{name}", values[name])
    for name in ("average_cost", "lower_bound", "upper_bound", "fallback_level"):
        values[name] = check_float(f"solution_.{name}", values[name])
    if not isinstance(values["lost_sales"], bool):
        raise ValidationError(f"solution_.lost_sales must be True or False, got {values['lost_sales']!r}")
    for name in ("states", "orders", "relative_values", "_keys"):
        values[name] = np.asarray(values[name])
    n = values["orders"].shape[0]
    width = max(values["lead_time"], 1)
    if values["states"].shape != (n, width) or values["relative_values"].shape != (n,) or values["_keys"].shape != (n,):
        raise ValidationError(
            f"solution_ tables must have {n} states (states of shape ({n}, {width})), got states "
            f"{values['states'].shape}, relative_values {values['relative_values'].shape}, keys {values['_keys'].shape}"
        )
    if values["max_inventory_position"] < values["min_on_hand"]:
        raise ValidationError(
            f"solution_.max_inventory_position must be >= min_on_hand ({values['min_on_hand']}), "
            f"got {values['max_inventory_position']}"
        )
    if n and (values["_keys"].dtype.kind != "i" or np.any(np.diff(values["_keys"]) <= 0)):
        raise ValidationError("solution_ keys must be strictly increasing integers (they are searched)")
    return AverageCostSolution(**values)
