r"""Finite-horizon dynamic programming on the empirical demand law: the benchmark of DeepStock
setting 1 (paper.md section 5).

:func:`solve_empirical_dp` and :class:`EmpiricalDPPolicy`. Backorders, any :math:`L`,
:math:`P`, a finite horizon of :math:`T` periods and the DeepStock timing: orders on review days
:math:`r = P, 2P, \dots`, costs counted from period :math:`W = L + P` on. The demand of each
period :math:`t` follows its empirical distribution over the training trajectories,
independently across periods. Under backorders the inventory position :math:`x` before
ordering is a sufficient state, and an order raising it to :math:`y` fixes the end-of-period
on-hand :math:`y - D[r..t]` of every period :math:`t \in [r+L, r+L+P)` it covers, so

.. math::

    V_r(x) = \min_{x \le y \le x + q_{\max}} \Big\{ \sum_{t \in C_r} E\big[h\,(y - D[r..t])^+ +
    b\,(D[r..t] - y)^+\big] + E\,V_{r+P}\big(y - D[r..r+P-1]\big) \Big\},

with :math:`C_r` the counted periods of :math:`[r+L, r+L+P) \cap [W, T)`, solved backwards on
an integer grid of positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import Observation, check_is_fitted
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_float, check_int
from orkit.heuristics._params import checked_fields, dataclass_fields
from orkit.heuristics._training import demand_array, scalar_timing, shared_costs

#: why the empirical DP refuses SKUs that start or end inside the horizon (``Dataset.check_full_lives``)
EMPIRICAL_DP_LIVES = dict(
    doing="fitting the empirical DP on",
    why="its recursion runs over calendar periods, with review days P, 2P, ... from period 0 and each period's "
        "demand law taken across the SKUs, while a SKU launched or withdrawn inside the horizon keeps its own clock "
        "and has no demand outside its life",
    instead="fit it on the SKUs that live the whole horizon, or use the newsvendor, base-stock or DP-optimal "
            "policy, which fit on partial lives")
from orkit.heuristics.distributions import Discrete
from orkit.heuristics.newsvendor import newsvendor_cost
from orkit.sim import review_days

__all__ = ["FiniteHorizonSolution", "solve_empirical_dp", "EmpiricalDPPolicy"]


@dataclass(frozen=True)
class FiniteHorizonSolution:
    """Result of :func:`solve_empirical_dp`.

    Attributes
    ----------
    review_days : ndarray of shape (R,)
        Review days ``P, 2P, ...`` before the horizon ends.
    positions : ndarray of shape (X,)
        Integer inventory positions of the table.
    order_up_to : ndarray of shape (R, X)
        Optimal position after ordering, ``y*(r, x) >= x``.
    levels : ndarray of shape (R,)
        ``y*`` from the lowest position: the base-stock level of each review day.
    expected_loss : float
        The DP's own estimate of the DeepStock loss (expected cost per counted period) of the
        optimal policy on the training demand distribution.
    counted_periods : int
    """

    review_days: np.ndarray
    positions: np.ndarray
    order_up_to: np.ndarray
    levels: np.ndarray
    expected_loss: float
    counted_periods: int

    def order(self, period: int, inventory_position: Any) -> np.ndarray:
        """Orders on review day ``period`` for the given positions (see :class:`EmpiricalDPPolicy`)."""
        stage = self._stage(period)
        x = np.round(np.asarray(inventory_position, dtype=np.float64))
        idx = np.clip(x - self.positions[0], 0, self.positions.size - 1).astype(np.int64)
        return np.maximum(self.order_up_to[stage, idx] - np.asarray(inventory_position, dtype=np.float64), 0.0)

    def _stage(self, period: int) -> int:
        costed = np.flatnonzero(self.levels > -np.inf)
        stage = int(np.searchsorted(self.review_days, period))
        if stage >= self.review_days.size or self.review_days[stage] != period:
            stage = int(costed[-1]) if costed.size else 0
        return stage


def _window_argmin(values: np.ndarray, window: int) -> np.ndarray:
    """For every ``x``, the smallest ``y`` in ``[x, min(x + window, G - 1)]`` minimising ``values[y]``.

    A sparse table of doubling ranges: row ``j`` holds the smallest minimiser over ``[x, x + 2^j)``,
    and a window is the better of two such ranges that cover it (left one on ties), so the cost
    is ``G log(window)``, not ``G * window``.
    """
    G = values.size
    x = np.arange(G)
    table = [x]
    while 1 << len(table) <= window + 1:
        previous = table[-1]
        right = previous[np.minimum(x + (1 << (len(table) - 1)), G - 1)]
        table.append(np.where(values[right] < values[previous], right, previous))
    last = np.minimum(x + window, G - 1)
    level = np.frexp((last - x + 1).astype(np.float64))[1] - 1  # floor(log2(length)), exactly
    rows = np.stack(table)
    left, right = rows[level, x], rows[level, last - (1 << level) + 1]
    return np.where(values[right] < values[left], right, left)


def _convolve_all(pmfs: list[np.ndarray]) -> np.ndarray:
    out = np.array([1.0])
    for p in pmfs:
        out = np.convolve(out, p)
    return out


def solve_empirical_dp(
    demand: Any,
    *,
    lead_time: int,
    review_period: int,
    holding_cost: float,
    shortage_cost: float,
    warmup_periods: int | None = None,
    max_order: float | None = None,
    initial_on_hand: float = 0.0,
) -> FiniteHorizonSolution:
    r"""Finite-horizon backorder DP on the per-period empirical demand law (module docstring).

    Parameters
    ----------
    demand : Dataset or array of shape (n_skus, T)
        Training trajectories with integer demand; period ``t``'s law is the empirical
        distribution of ``demand[:, t]``, independent across periods.
    lead_time, review_period : int
        [L] >= 0 and [P] >= 1.
    holding_cost, shortage_cost : float
        [h] and [b].
    warmup_periods : int, optional
        First counted period [W]; default ``L + P``.
    max_order : float, optional
        Largest order [q_max].
    initial_on_hand : float, default=0.0

    Returns
    -------
    FiniteHorizonSolution
    """
    d = demand_array(demand)
    if d.size and np.any(d != np.round(d)):
        raise ValidationError("solve_empirical_dp needs integer demand; round it first")
    L = check_int("lead_time", lead_time, minimum=0)
    P = check_int("review_period", review_period, minimum=1)
    h = check_float("holding_cost", holding_cost, minimum=0)
    b = check_float("shortage_cost", shortage_cost, minimum=0)
    # the simulator's warm-up rule (L + P unless given), stated once in InventoryProblem
    W = int(InventoryProblem(lead_time=L, review_period=P, warmup_periods=warmup_periods).warmups(1)[0])
    x_start = int(round(check_float("initial_on_hand", initial_on_hand)))
    n, T = d.shape
    if n == 0 or T == 0:
        raise ValidationError("demand must hold at least one trajectory and one period")
    pmfs = list(Discrete.from_samples(d.T, axis=-1).pmf)  # one pmf per period, common support
    pmfs = [p[: np.flatnonzero(p > 0)[-1] + 1] for p in pmfs]
    days = review_days(T, P)
    R = days.size
    counted = max(T - W, 0)
    if R == 0 or counted == 0:
        raise ValidationError(f"the horizon T={T} has no review day that influences a counted period")

    d_max_cycle = max(sum(p.size - 1 for p in pmfs[r : r + P]) for r in list(days) + [0])
    top = max(sum(p.size - 1 for p in pmfs[r : r + L + P]) for r in days) + 1
    first_x = x_start - sum(p.size - 1 for p in pmfs[0:P])
    bottom = min(0, first_x) - 2 * d_max_cycle
    grid = np.arange(bottom, max(top, x_start) + 1, dtype=np.int64)
    G = grid.size
    q_cap = G if max_order is None else int(math.floor(max_order))

    V_next = np.zeros(G)
    order_up_to = np.zeros((R, G), dtype=np.int64)
    levels = np.full(R, -np.inf)
    for k in range(R - 1, -1, -1):
        r = int(days[k])
        H = np.zeros(G)
        covered = [t for t in range(r + L, r + L + P) if W <= t < T]
        for t in covered:
            H += newsvendor_cost(grid.astype(np.float64), h, b, Discrete(_convolve_all(pmfs[r : t + 1])))
        cycle = _convolve_all(pmfs[r : min(r + P, T)])
        # E V_{r+P}(y - D_cycle), clamped at the bottom of the grid
        idx = np.arange(G)[:, None] - np.arange(cycle.size)[None, :]
        H += (V_next[np.clip(idx, 0, G - 1)] * cycle[None, :]).sum(axis=1)
        # V_r(x) = min over y in [x, x + q_cap] of H(y); smallest minimiser
        best_y = _window_argmin(H, min(q_cap, G - 1))
        V = H[best_y]
        order_up_to[k] = grid[best_y]
        if covered:
            levels[k] = float(grid[int(np.argmin(H))])
        V_next = V
    first = _convolve_all(pmfs[0:P])
    x0 = x_start - np.arange(first.size)
    expected = float((V_next[np.clip(x0 - bottom, 0, G - 1)] * first).sum()) / counted
    return FiniteHorizonSolution(
        review_days=days,
        positions=grid,
        order_up_to=order_up_to,
        levels=levels,
        expected_loss=expected,
        counted_periods=counted,
    )


class EmpiricalDPPolicy(SavablePolicy):
    """The finite-horizon empirical DP of DeepStock setting 1 as a policy (module docstring).

    Fit on trajectories of the same horizon as the evaluation data. ``act`` rounds the
    inventory position to an integer and looks up the optimal post-order position of the review
    day; review days after the training horizon reuse the last review day that influences a
    counted period. Backorders and one lead time / review period for all SKUs only.

    Attributes
    ----------
    solution_ : FiniteHorizonSolution
    per_sku_ : bool
        False: one table serves every SKU.
    sku_ids_ : None
    """

    policy_name = "empirical-dp"
    _saved_attributes = ("solution_",)

    def __init__(self) -> None:
        pass

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "EmpiricalDPPolicy":
        problem = shared_costs(problem.for_data(train), "EmpiricalDPPolicy", "its law of each period is pooled over SKUs",
                               max_order=True)
        L, P = scalar_timing(problem, "EmpiricalDPPolicy")
        if problem.lost_sales:
            raise ValidationError("EmpiricalDPPolicy needs backorders (lost_sales=False)")
        if problem.fixed_cost > 0:
            raise ValidationError(
                f"EmpiricalDPPolicy has no fixed ordering cost in its recursion, got fixed_cost {problem.fixed_cost:g}; "
                "use DynamicProgrammingPolicy or the (s,S) policy, which model it"
            )
        self.solution_ = solve_empirical_dp(
            np.round(demand_array(train.check_full_lives(**EMPIRICAL_DP_LIVES) if hasattr(train, "check_full_lives")
                                  else train)),
            lead_time=L,
            review_period=P,
            holding_cost=problem.holding_cost,
            shortage_cost=problem.shortage_cost,
            warmup_periods=problem.warmup_periods,
            max_order=problem.max_order,
            initial_on_hand=problem.initial_on_hand,
        )
        self.per_sku_, self.sku_ids_ = False, None  # the law of each period is pooled over SKUs
        self._tables: dict[torch.device, torch.Tensor] = {}
        return self

    def _saved_state(self) -> dict[str, Any]:
        state = super()._saved_state()
        state["solution_"] = dataclass_fields(self.solution_)
        return state

    def _restore_state(self, state: dict[str, Any]) -> None:
        super()._restore_state(state)
        self.solution_ = _finite_horizon_solution(self.solution_)
        self._tables = {}

    def act(self, obs: Observation) -> torch.Tensor:
        check_is_fitted(self, ("solution_",))
        sol = self.solution_
        dev = obs.inventory_position.device
        if dev not in self._tables:
            self._tables[dev] = torch.as_tensor(sol.order_up_to, device=dev)
        table = self._tables[dev]
        stage = sol._stage(obs.period)
        ip = obs.inventory_position
        idx = torch.clamp(torch.round(ip).long() - int(sol.positions[0]), 0, sol.positions.size - 1)
        return torch.clamp(table[stage][idx].to(ip.dtype) - ip, min=0)


def _finite_horizon_solution(saved: Any) -> FiniteHorizonSolution:
    """A saved :class:`FiniteHorizonSolution`, with its tables checked against each other."""
    values = checked_fields(FiniteHorizonSolution, saved)
    values["expected_loss"] = check_float("solution_.expected_loss", values["expected_loss"])
    values["counted_periods"] = check_int("solution_.counted_periods", values["counted_periods"], minimum=0)
    for name in ("review_days", "positions", "order_up_to", "levels"):
        values[name] = np.asarray(values[name])
    R, X = values["review_days"].shape[0], values["positions"].shape[0]
    if values["order_up_to"].shape != (R, X) or values["levels"].shape != (R,) or X == 0:
        raise ValidationError(
            f"solution_.order_up_to must have shape (review days, positions) = ({R}, {X}) and levels ({R},), got "
            f"{values['order_up_to'].shape} and {values['levels'].shape}"
        )
    return FiniteHorizonSolution(**values)
