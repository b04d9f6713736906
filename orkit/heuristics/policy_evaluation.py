r"""Exact long-run average cost of a given stationary policy on small instances (Markov chain).

:func:`evaluate_stationary_policy` takes a policy (any :class:`~orkit.core.Policy`, or a
function of on-hand and pipeline) and the model of :mod:`orkit.heuristics.average_cost_dp`:
review period 1, lead time :math:`L \ge 0`, i.i.d. integer demand with pmf :math:`p` on
``0..K``, backorders or lost sales, cost :math:`h` per unit on hand and :math:`b` per unit
backlogged or lost at the end of a period, exactly as in :mod:`orkit.sim`. The state on a
review day is :math:`s = (x_0, a_1, \dots, a_{L-1})` (on-hand after the arrival, then the units
arriving in :math:`k` periods); the policy's order :math:`q(s)` (a non-negative integer on
integer states) and the demand give the next state as in the DP.

The states reachable from ``start`` (by default an empty system) are enumerated breadth-first,
asking the policy for all the states of one layer in one call (so the policy is vectorised and
its orders are read exactly as the simulator would). The average cost :math:`g` of the chain
solves :math:`g + v(s) = c(s) + E\,v(s')`; relative value iteration for the fixed policy, with
the aperiodicity transformation, stops when the Odoni bounds on :math:`g` are within ``tol``.
Under backorders a backlog deeper than ``min_on_hand`` is lumped at that floor, as in the DP.

Use it to score a heuristic without sampling error (the lost-sales test bed,
``benchmarks/lost_sales_testbed.py``) or to check the simulator: on the same instance the
simulated mean cost converges to :math:`g`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
import torch

from orkit.core.errors import SolverError, StateSpaceError, ValidationError
from orkit.core.policy import Observation
from orkit.core.validation import check_int
from orkit.heuristics.average_cost_dp import _chain_arguments, _default_bounds, _keys, _period_cost, _ragged

__all__ = ["PolicyEvaluation", "evaluate_stationary_policy"]


@dataclass(frozen=True)
class PolicyEvaluation:
    """Result of :func:`evaluate_stationary_policy`.

    Attributes
    ----------
    average_cost : float
        Long-run cost per period [g] (midpoint of the final Odoni bounds).
    lower_bound, upper_bound : float
    states : ndarray of shape (n_states, max(L, 1))
        The reachable states (columns ``on_hand, pipeline_1, ..., pipeline_{L-1}``).
    orders : ndarray of shape (n_states,)
        The policy's order in each state.
    iterations : int
    """

    average_cost: float
    lower_bound: float
    upper_bound: float
    states: np.ndarray
    orders: np.ndarray
    iterations: int

    @property
    def n_states(self) -> int:
        return int(self.states.shape[0])


def _order_function(policy: Any, lead_time: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``f(on_hand (m,), pipeline (m, L)) -> orders (m,)`` from a Policy or a function."""

    def call(x0: np.ndarray, pipe: np.ndarray) -> Any:
        on_hand = torch.as_tensor(x0, dtype=torch.float64)
        pipeline = torch.as_tensor(pipe, dtype=torch.float64)
        if hasattr(policy, "act"):
            m = on_hand.shape[0]
            obs = Observation(
                period=1,
                on_hand=on_hand,
                inventory_position=on_hand + pipeline.sum(1),
                pipeline=pipeline,
                lead_time=torch.full((m,), lead_time, dtype=torch.long),
                review_period=torch.ones(m, dtype=torch.long),
                is_review=torch.ones(m, dtype=torch.bool),
            )
            return policy.act(obs)
        if callable(policy):
            return policy(on_hand, pipeline)
        raise ValidationError(f"policy must be a Policy (with act) or a function of (on_hand, pipeline), got {type(policy).__name__}")

    def orders(x0: np.ndarray, pipe: np.ndarray) -> np.ndarray:
        q = call(x0, pipe)
        q = (q.detach().cpu().numpy() if isinstance(q, torch.Tensor) else np.asarray(q)).astype(np.float64).reshape(-1)
        if q.shape[0] != x0.shape[0]:
            raise ValidationError(f"the policy must return one order per state, got {q.shape[0]} for {x0.shape[0]}")
        bad = ~np.isfinite(q) | (q < 0) | (np.abs(q - np.round(q)) > 1e-6)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValidationError(
                "the Markov-chain evaluator needs finite integer orders >= 0 on integer states, got "
                f"{q[i]!r} in state on_hand={x0[i]}, pipeline={pipe[i].tolist()}; round the policy's orders"
            )
        return np.round(q).astype(np.int64)

    return orders


def evaluate_stationary_policy(
    policy: Any,
    demand_pmf: Any,
    *,
    holding_cost: float,
    shortage_cost: float,
    lead_time: int,
    lost_sales: bool = True,
    max_inventory_position: int | None = None,
    min_on_hand: int | None = None,
    start: Any = None,
    max_states: int = 1_000_000,
    tol: float = 1e-9,
    max_iterations: int = 100_000,
    aperiodicity: float = 0.9,
) -> PolicyEvaluation:
    r"""Long-run average cost of ``policy`` by its Markov chain (module docstring).

    Parameters
    ----------
    policy : Policy or callable
        A fitted policy (``act(obs)`` is called with review-day observations of many states at
        once, period 1), or ``f(on_hand, pipeline) -> orders`` on float64 tensors of shapes
        (m,) and (m, L). Orders must be integers >= 0 on integer states.
    demand_pmf : array of shape (K + 1,) or a discrete DemandDistribution
        Per-period demand pmf [p] (Poisson and negative binomial laws are truncated at tail
        mass 1e-12).
    holding_cost, shortage_cost : float
        [h] and [b].
    lead_time : int
        [L] >= 0.
    lost_sales : bool, default=True
    max_inventory_position : int, optional
        Largest post-order inventory position the chain may reach [U]; a reachable state whose
        order goes above it is refused, naming the state and the position. Default:
        ``S* + (L + 1) K`` (``S*`` the backorder base-stock level, ``K`` the largest demand).
    min_on_hand : int, optional
        Backlog floor under backorders (deeper backlogs lumped), as in
        :func:`~orkit.heuristics.solve_average_cost_dp`; 0 under lost sales.
    start : sequence of int, optional
        The first state ``(on_hand, pipeline_1, ..., pipeline_{L-1})``; default all zeros.
    max_states : int, default=1_000_000
    tol, max_iterations, aperiodicity
        As in :func:`~orkit.heuristics.solve_average_cost_dp`.

    Returns
    -------
    PolicyEvaluation

    Examples
    --------
    Base-stock under backorders has the closed-form cost of :func:`~orkit.heuristics.base_stock_cost`:

    >>> import torch
    >>> from orkit.heuristics import Poisson, base_stock_cost
    >>> def order_up_to_6(on_hand, pipeline):
    ...     return torch.clamp(6 - on_hand - pipeline.sum(1), min=0)
    >>> ev = evaluate_stationary_policy(order_up_to_6, Poisson(2.0), holding_cost=1.0, shortage_cost=4.0,
    ...                                 lead_time=1, lost_sales=False)
    >>> round(ev.average_cost, 6), round(float(base_stock_cost(6, 1.0, 4.0, Poisson(2.0), lead_time=1)), 6)
    (2.977173, 2.977173)
    """
    pmf, h, b, L, tau, tol, max_states, max_iterations = _chain_arguments(
        demand_pmf, holding_cost, shortage_cost, lead_time, aperiodicity, tol, max_states, max_iterations)
    K = pmf.size - 1
    level, default_low = _default_bounds(pmf, h, b, L, lost_sales)
    U = level + (L + 1) * K if max_inventory_position is None else check_int(
        "max_inventory_position", max_inventory_position, minimum=0)
    low = default_low if min_on_hand is None else check_int("min_on_hand", min_on_hand)
    if lost_sales and low != 0:
        raise ValidationError(f"min_on_hand must be 0 under lost sales, got {low}")
    if not lost_sales and low > 0:
        raise ValidationError(f"min_on_hand must be <= 0, got {low}")
    width = U - low + 1
    dims = max(L, 1)
    if width ** dims >= 2**62:
        raise StateSpaceError(f"the state keys of {width}^{dims} overflow int64; lower max_inventory_position")
    tail = np.flip(np.cumsum(np.flip(pmf)))  # tail[d] = P(D >= d)
    orders_of = _order_function(policy, L)

    first = np.zeros((1, dims), dtype=np.int64)
    if start is not None:
        given = np.asarray(start, dtype=np.int64).reshape(-1)
        if given.size != dims or np.any(given[1:] < 0) or (lost_sales and given[0] < 0) or given[0] < low or given.sum() > U:
            raise ValidationError(
                f"start must be {dims} integers (on-hand >= {low}, pipeline >= 0, total <= {U}), got {list(given)}"
            )
        first[0] = given
    # breadth-first enumeration: one policy call per layer
    layers_states, layers_orders = [], []
    edges_from, edges_to, edges_prob = [], [], []
    known = _keys(first, low, width)
    frontier = first
    count = 1
    while frontier.shape[0]:
        x0, pipe_rest = frontier[:, 0], frontier[:, 1:]
        pipeline = np.concatenate([pipe_rest, np.zeros((frontier.shape[0], 1 if L >= 1 else 0), np.int64)], axis=1)
        q = orders_of(x0, pipeline)
        post = x0 + pipe_rest.sum(1) + q
        if np.any(post > U):
            i = int(np.flatnonzero(post > U)[0])
            raise StateSpaceError(
                f"the policy orders {q[i]} in state on_hand={x0[i]}, pipeline={pipe_rest[i].tolist()}, a position of "
                f"{post[i]} above max_inventory_position={U}; set max_inventory_position={int(post.max())} or more"
            )
        z = x0 + q if L == 0 else x0
        n_out = np.minimum(z - low, K) + 1
        own, j = _ragged(n_out)
        prob = np.where(j == n_out[own] - 1, tail[j], pmf[j])
        y = z[own] - j
        if L == 0:
            nxt = y[:, None]
        elif L == 1:
            nxt = (y + q[own])[:, None]
        else:
            nxt = np.concatenate([(y + pipe_rest[own, 0])[:, None], pipe_rest[own, 1:], q[own][:, None]], axis=1)
        keys = _keys(frontier, low, width)
        nkeys = _keys(nxt, low, width)
        edges_from.append(keys[own])
        edges_to.append(nkeys)
        edges_prob.append(prob)
        layers_states.append(frontier)
        layers_orders.append(q)
        uniq, first_at = np.unique(nkeys, return_index=True)
        new = ~np.isin(uniq, known)
        frontier = nxt[first_at[new]]
        known = np.concatenate([known, uniq[new]])
        count += int(new.sum())
        if count > max_states:
            raise StateSpaceError(
                f"the policy reaches more than max_states={max_states:,} states (lead time {L}); set max_states "
                "higher, or evaluate by simulation"
            )
    states = np.concatenate(layers_states)
    orders = np.concatenate(layers_orders)
    keys = _keys(states, low, width)
    order = np.argsort(keys)
    keys, states, orders = keys[order], states[order], orders[order]
    rows = np.searchsorted(keys, np.concatenate(edges_from))
    cols = np.searchsorted(keys, np.concatenate(edges_to))
    n = keys.size
    P = sp.csr_matrix((np.concatenate(edges_prob), (rows, cols)), shape=(n, n))
    z = states[:, 0] + (orders if L == 0 else 0)
    cost = _period_cost(z, pmf, h, b)

    v = np.zeros(n)
    lower = upper = math.nan
    for iteration in range(1, max_iterations + 1):
        diff = cost + P @ v - v
        lower, upper = float(diff.min()), float(diff.max())
        if upper - lower <= tol * max(1.0, abs(upper)):
            break
        v = v + tau * diff
        v -= v[0]
    else:
        raise SolverError(
            f"the policy's value iteration did not converge in {max_iterations} iterations (bounds on g: "
            f"{lower:.6g}..{upper:.6g}); the chain may have several recurrent classes or no steady state"
        )
    return PolicyEvaluation(
        average_cost=0.5 * (lower + upper),
        lower_bound=lower,
        upper_bound=upper,
        states=states,
        orders=orders,
        iterations=iteration,
    )
