r"""Stage two of predict-then-optimize: the scenario-based replenishment model (Pyomo + HiGHS).

On a review day ``t`` the model chooses the orders ``q_i`` of all SKUs at once, given each
SKU's state and ``S`` demand scenarios ``d_{i,s,k}`` for the periods ``t + k``,
``k = 0, ..., L_i + P_i - 1``. It minimises the sample-average holding plus shortage cost of
the periods the order influences, ``k = L_i, ..., L_i + P_i - 1`` (the order arrives at the
start of ``t + L_i``; the next one at ``t + L_i + P_i``). Solved again on every review day with
the new state and forecasts, it is a rolling-horizon policy. docs/twostage.md states the
formulation with equations; in short:

**Backorders.** Every outstanding order arrives by ``t + L_i``, so the end-of-period net
inventory of counted period ``k`` is the inventory balance

.. math:: y_{i,s,k} = x_i + q_i - D_{i,s,k}, \qquad D_{i,s,k} = \sum_{j \le k} d_{i,s,j}

with ``x_i`` the inventory position before ordering. The cost ``h y^+ + b y^-`` equals
``h y + (h + b) y^-``, so one variable ``backlog_{i,s,k} >= max(-y_{i,s,k}, 0)`` per counted
scenario period suffices (exact at the optimum because ``h + b > 0``). The model's parameter
is the *uncovered demand* ``U_{i,s,k} = D_{i,s,k} - x_i`` (so ``y = q - U``).

**Lost sales.** The periods before the order arrives do not depend on it, so
:func:`update_model_data` serves their demand greedily per scenario and passes the stock at
the start of ``t + L_i`` (pipeline included) as ``A_{i,s}``. On counted periods on-hand follows
``I_{i,s,L_i} = A_{i,s} + q_i - v_{i,s,L_i}`` and ``I_{i,s,k} = I_{i,s,k-1} - v_{i,s,k}``
with sales ``0 <= v <= d`` and ``I >= 0``; the cost is ``h I + b (d - v)``. (Modelling the
earlier periods with free sales variables would be wrong: their lost demand is not costed, so
the LP would hold stock back in them.) Selling is optimal whenever stock is there, as holding
a unit back costs ``h`` more than selling it.

**Optional constraints** (:class:`OrderConstraints`): a capacity or budget shared by all SKUs
ordering on the day, ``sum_i u_i q_i <= C``; integer pack sizes ``q_i = m_i n_i`` with
``n_i`` integer; a minimum order quantity ``q_i = 0`` or ``q_i >= Q_i`` (binary ``z_i``). The
last two make the model a MILP.

**Build once, update, re-solve.** :func:`build_replenishment_model` is a pure function of the
structure (SKUs, lead times, review periods, scenarios, cost rates, constraints). Everything
that changes between review days (state, scenarios, which SKUs may order, capacity) lives in
mutable ``Param`` components and is set by :func:`update_model_data`. :func:`solve` keeps a
persistent HiGHS instance (``pyomo.contrib.solver`` ``highs``) per model and only pushes the
changed parameter values to it; anything but an optimal termination raises
:class:`~orkit.core.errors.SolverError`.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from orkit.core.errors import SolverError, ValidationError
from orkit.core.validation import check_float, check_int, check_int_array

__all__ = [
    "OrderConstraints",
    "SolveResult",
    "build_replenishment_model",
    "model_size",
    "solve",
    "update_model_data",
]

_PERSISTENT_SOLVER = "_orkit_persistent_highs"


class _NoInterruptNoise(logging.Filter):
    """Pyomo logs an error ("evaluating object as numeric value ...") for any exception raised
    while it evaluates an expression, a Ctrl-C included; the interrupt is reported once by the
    caller, so that record is dropped (other errors are logged as before)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not isinstance(sys.exc_info()[1], KeyboardInterrupt)


_pyomo_values_log = logging.getLogger("pyomo.common.numeric_types")
if not any(isinstance(f, _NoInterruptNoise) for f in _pyomo_values_log.filters):
    _pyomo_values_log.addFilter(_NoInterruptNoise())


# ---------------------------------------------------------------------------------- options
def _per_sku_float(name: str, value: Any, n_skus: int, *, minimum: float, strict: bool) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64) if not isinstance(value, (str, bytes)) else None
    if array is None or array.ndim > 1:
        raise ValidationError(f"{name} must be a number or one number per SKU, got {value!r}")
    array = np.broadcast_to(array, (n_skus,)) if array.ndim == 0 else array
    if array.shape != (n_skus,):
        raise ValidationError(f"{name} must have one value per SKU ({n_skus}), got {array.shape[0]}")
    bad = ~np.isfinite(array) | ((array <= minimum) if strict else (array < minimum))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rule = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ValidationError(f"{name} must be finite and {rule}, got {array[i]:g} at sku index {i}")
    return np.array(array, dtype=np.float64)


@dataclass(frozen=True)
class OrderConstraints:
    """Optional order constraints that couple SKUs or make the model a MILP.

    Parameters
    ----------
    capacity : float or None, default=None
        Shared capacity (or budget) per review day [C]: ``sum_i u_i q_i <= C`` over the SKUs
        ordering that day. ``None``: no such constraint.
    capacity_usage : float or array of shape (n_skus,), default=1.0
        Capacity used per unit ordered [u_i] (volume, or unit price for a budget); > 0.
    pack_size : float, array of shape (n_skus,) or None, default=None
        Orders are integer multiples of the pack size [m_i, units]; > 0. ``None``: any order.
    minimum_order_quantity : float, array of shape (n_skus,) or None, default=None
        An order is either 0 or at least this quantity [Q_i, units]; >= 0.

    Examples
    --------
    >>> OrderConstraints(capacity=-1.0)
    Traceback (most recent call last):
    ...
    orkit.core.errors.ValidationError: capacity must be >= 0, got -1
    """

    capacity: float | None = None
    capacity_usage: Any = 1.0
    pack_size: Any = None
    minimum_order_quantity: Any = None

    def __post_init__(self) -> None:
        if self.capacity is not None:
            object.__setattr__(self, "capacity", check_float("capacity", self.capacity, minimum=0))
        for name, strict in (("capacity_usage", True), ("pack_size", True), ("minimum_order_quantity", False)):
            value = getattr(self, name)
            if value is not None:
                _per_sku_float(name, value, int(np.size(value)) or 1, minimum=0.0, strict=strict)

    @property
    def is_mixed_integer(self) -> bool:
        """Whether the constraints need integer variables (pack sizes or a minimum order)."""
        return self.pack_size is not None or self.minimum_order_quantity is not None


@dataclass(frozen=True)
class SolveResult:
    """What :func:`solve` returns.

    Attributes
    ----------
    orders : array of shape (n_skus,)
        Optimal order per SKU [q, units].
    objective : float
        Optimal expected holding plus shortage cost over the counted periods (sum over SKUs).
    termination_condition : str
        The solver's termination condition (``"convergenceCriteriaSatisfied"``).
    seconds : float
        Wall time of the call, parameter transfer included [s].
    solver_seconds : float
        Time HiGHS itself spent in this solve [s].
    """

    orders: np.ndarray
    objective: float
    termination_condition: str
    seconds: float
    solver_seconds: float


# ---------------------------------------------------------------------------------- build
def build_replenishment_model(
    lead_time: Any,
    review_period: Any,
    n_scenarios: int,
    *,
    holding_cost: Any,
    shortage_cost: Any,
    lost_sales: bool = False,
    max_order: Any = None,
    constraints: OrderConstraints | None = None,
    fixed_cost: Any = 0.0,
) -> pyo.ConcreteModel:
    r"""Build the scenario-based replenishment model for one review day (values set later).

    Parameters
    ----------
    lead_time : array of int, shape (n_skus,)
        Lead time per SKU [L_i, periods], >= 0.
    review_period : array of int, shape (n_skus,)
        Review period per SKU [P_i, periods], >= 1.
    n_scenarios : int
        Demand scenarios per SKU [S].
    holding_cost : float or array of shape (n_skus,)
        Cost per unit on hand at the end of a period [h_i], >= 0.
    shortage_cost : float or array of shape (n_skus,)
        Cost per unit backlogged (backorders) or lost (lost sales) [b_i], >= 0; ``h_i + b_i > 0``.
    lost_sales : bool, default=False
        Model lost sales instead of backorders.
    max_order : float, array of shape (n_skus,) or None, default=None
        Upper bound on any order [q_max_i, units], > 0: one for every SKU or one per SKU.
    constraints : OrderConstraints or None, default=None
        Capacity, pack sizes, minimum order quantity.
    fixed_cost : float or array of shape (n_skus,), default=0.0
        Cost per order placed [K_i], >= 0. Where some ``K_i > 0`` the model is a MILP: a binary
        ``place_order[i]`` switches the order on (``order <= order_upper_bound * place_order``)
        and the objective adds ``sum_i K_i place_order[i]``.

    Returns
    -------
    pyomo.environ.ConcreteModel
        Components named by role. Sets ``skus``, ``scenarios``, ``cost_periods`` (pairs
        ``(i, k)``) and ``scenario_cost_periods`` (triples ``(i, k, s)``). Mutable parameters:
        ``order_upper_bound``, ``cost_offset`` (the decision-free part of the cost);
        backorders ``uncovered_demand``; lost sales ``stock_at_arrival``, ``demand``;
        ``capacity`` when there is one. Variables ``order``; backorders ``backlog``; lost
        sales ``on_hand``, ``sales``; ``packs``, ``place_order`` for the MILP options.
        Constraints ``backlog_floor`` or ``inventory_balance``, ``shared_capacity``,
        ``pack_size_multiple``, ``minimum_order``, ``order_switch``. Objective
        ``expected_cost`` (the sample-average cost summed over SKUs). All parameters start at
        0: call :func:`update_model_data` before :func:`solve`.

    Examples
    --------
    >>> model = build_replenishment_model([0], [1], 3, holding_cost=1.0, shortage_cost=3.0)
    >>> update_model_data(model, inventory_position=[0.0], demand=[[[1.0], [2.0], [5.0]]])
    >>> solve(model).orders   # the 3 / (1 + 3) = 0.75 sample quantile of {1, 2, 5}
    array([5.])
    """
    lead = check_int_array("lead_time", lead_time, minimum=0)
    review = check_int_array("review_period", review_period, n=lead.shape[0], minimum=1)
    n_skus = lead.shape[0]
    n_scenarios = check_int("n_scenarios", n_scenarios, minimum=1)
    h = _per_sku_float("holding_cost", holding_cost, n_skus, minimum=0.0, strict=False)
    b = _per_sku_float("shortage_cost", shortage_cost, n_skus, minimum=0.0, strict=False)
    K = _per_sku_float("fixed_cost", fixed_cost, n_skus, minimum=0.0, strict=False)
    if (h + b <= 0).any():
        raise ValidationError(f"holding_cost + shortage_cost must be > 0, got 0 at sku index {int(np.argmin(h + b))}")
    if not isinstance(lost_sales, (bool, np.bool_)):
        raise ValidationError(f"lost_sales must be True or False, got {lost_sales!r}")
    if max_order is not None:
        max_order = _per_sku_float("max_order", max_order, n_skus, minimum=0.0, strict=True)
    constraints = constraints if constraints is not None else OrderConstraints()
    if not isinstance(constraints, OrderConstraints):
        raise ValidationError(f"constraints must be an OrderConstraints, got {type(constraints).__name__}")

    m = pyo.ConcreteModel(name="replenishment")
    # structure kept for update_model_data and solve (plain attributes, not components)
    m.lead_time_values = lead
    m.review_period_values = review
    m.lost_sales = bool(lost_sales)
    m.max_order_value = max_order
    m.holding_cost_value, m.shortage_cost_value, m.fixed_cost_value = h, b, K
    m.horizon = int((lead + review).max()) if n_skus else 0

    m.skus = pyo.RangeSet(0, n_skus - 1)
    m.scenarios = pyo.RangeSet(0, n_scenarios - 1)
    cost_periods = [(i, k) for i in range(n_skus) for k in range(lead[i], lead[i] + review[i])]
    m.cost_periods = pyo.Set(dimen=2, initialize=cost_periods, ordered=True)
    weight = 1.0 / n_scenarios

    m.order_upper_bound = pyo.Param(m.skus, mutable=True, initialize=0.0, within=pyo.NonNegativeReals)
    m.order = pyo.Var(m.skus, bounds=lambda m, i: (0, m.order_upper_bound[i]))

    scenario_cost_periods = [(i, k, s) for (i, k) in cost_periods for s in range(n_scenarios)]
    m.scenario_cost_periods = pyo.Set(dimen=3, initialize=scenario_cost_periods, ordered=True)
    # index arrays kept so that update_model_data maps numpy arrays to parameters in one step
    m.scenario_cost_keys = scenario_cost_periods
    m.scenario_cost_index = np.array(scenario_cost_periods, dtype=np.int64).reshape(-1, 3)
    # The parts of the cost that do not depend on any decision sum to one number, set by
    # update_model_data: a single mutable constant is far cheaper to push to the solver than a
    # sum over every scenario parameter, and the objective still equals the expected cost.
    m.cost_offset = pyo.Param(mutable=True, initialize=0.0, within=pyo.Reals)
    if not lost_sales:
        m.uncovered_demand = pyo.Param(m.scenario_cost_periods, mutable=True, initialize=0.0)
        m.backlog = pyo.Var(m.scenario_cost_periods, within=pyo.NonNegativeReals)
        # net inventory y = q - U; backlog >= -y, written with the parameter alone on one side
        m.backlog_floor = pyo.Constraint(
            m.scenario_cost_periods,
            rule=lambda m, i, k, s: m.backlog[i, k, s] + m.order[i] >= m.uncovered_demand[i, k, s],
        )
        # (1/S) sum h y + (h + b) y^-  =  offset + sum_i h_i P_i q_i + (h_i + b_i) / S sum backlog
        cost = (m.cost_offset
                + sum(float(h[i]) * float(review[i]) * m.order[i] for i in m.skus)
                + weight * sum(float(h[idx[0]] + b[idx[0]]) * m.backlog[idx] for idx in m.scenario_cost_periods))
    else:
        m.scenario_skus = pyo.Set(dimen=2, initialize=[(i, s) for i in range(n_skus) for s in range(n_scenarios)])
        m.scenario_sku_keys = list(m.scenario_skus)
        m.stock_at_arrival = pyo.Param(m.scenario_skus, mutable=True, initialize=0.0)
        m.demand = pyo.Param(m.scenario_cost_periods, mutable=True, initialize=0.0)
        m.on_hand = pyo.Var(m.scenario_cost_periods, within=pyo.NonNegativeReals)
        m.sales = pyo.Var(m.scenario_cost_periods, bounds=lambda m, i, k, s: (0, m.demand[i, k, s]))

        def balance(m: pyo.ConcreteModel, i: int, k: int, s: int) -> Any:
            if k == lead[i]:  # the order arrives at the start of period t + L_i
                return m.on_hand[i, k, s] - m.order[i] + m.sales[i, k, s] == m.stock_at_arrival[i, s]
            return m.on_hand[i, k, s] - m.on_hand[i, k - 1, s] + m.sales[i, k, s] == 0

        m.inventory_balance = pyo.Constraint(m.scenario_cost_periods, rule=balance)
        # (1/S) sum h I + b (d - v)  =  offset + (1/S) sum (h_i I - b_i v)
        cost = (m.cost_offset
                + weight * sum(float(h[idx[0]]) * m.on_hand[idx] - float(b[idx[0]]) * m.sales[idx]
                               for idx in m.scenario_cost_periods))

    if constraints.capacity is not None:
        usage = _per_sku_float("capacity_usage", constraints.capacity_usage, n_skus, minimum=0.0, strict=True)
        m.capacity = pyo.Param(mutable=True, initialize=constraints.capacity, within=pyo.Reals)
        m.shared_capacity = pyo.Constraint(expr=sum(float(usage[i]) * m.order[i] for i in m.skus) <= m.capacity)
    if constraints.pack_size is not None:
        pack = _per_sku_float("pack_size", constraints.pack_size, n_skus, minimum=0.0, strict=True)
        m.pack_size_values = pack
        m.packs = pyo.Var(m.skus, within=pyo.NonNegativeIntegers)
        m.pack_size_multiple = pyo.Constraint(m.skus, rule=lambda m, i: m.order[i] == float(pack[i]) * m.packs[i])
    if constraints.minimum_order_quantity is not None:
        minimum = _per_sku_float(
            "minimum_order_quantity", constraints.minimum_order_quantity, n_skus, minimum=0.0, strict=False
        )
        m.minimum_order_quantity_values = minimum
        m.place_order = pyo.Var(m.skus, within=pyo.Binary)
        m.minimum_order = pyo.Constraint(m.skus, rule=lambda m, i: m.order[i] >= float(minimum[i]) * m.place_order[i])
        # order_upper_bound is a valid big-M: no optimal order exceeds it (see update_model_data)
        m.order_switch = pyo.Constraint(m.skus, rule=lambda m, i: m.order[i] <= m.order_upper_bound[i] * m.place_order[i])
    if (K > 0).any():
        if not hasattr(m, "place_order"):
            m.place_order = pyo.Var(m.skus, within=pyo.Binary)
            m.order_switch = pyo.Constraint(
                m.skus, rule=lambda m, i: m.order[i] <= m.order_upper_bound[i] * m.place_order[i])
        cost = cost + sum(float(K[i]) * m.place_order[i] for i in m.skus if K[i] > 0)
    m.expected_cost = pyo.Objective(expr=cost, sense=pyo.minimize)
    return m


# ---------------------------------------------------------------------------------- update
def _store(param: pyo.Param, keys: list, values: np.ndarray) -> None:
    param.store_values(dict(zip(keys, values.tolist())))


def update_model_data(
    model: pyo.ConcreteModel,
    *,
    demand: Any,
    inventory_position: Any = None,
    on_hand: Any = None,
    pipeline: Any = None,
    may_order: Any = None,
    capacity: float | None = None,
) -> None:
    """Set the mutable parameters of a model built by :func:`build_replenishment_model`.

    Parameters
    ----------
    model : ConcreteModel
    demand : array of shape (n_skus, n_scenarios, H)
        Demand scenarios for periods ``t, ..., t + H - 1`` [d_{i,s,k}, units], ``H >= L_i + P_i``
        (extra periods are ignored).
    inventory_position : array of shape (n_skus,), optional
        On-hand plus pipeline before ordering [x_i = tot(I)]. Required under backorders.
    on_hand : array of shape (n_skus,), optional
        On-hand after today's arrivals [I^0], >= 0. Required under lost sales.
    pipeline : array of shape (n_skus, n), optional
        ``pipeline[:, j]`` arrives in ``j + 1`` periods [I^{j+1}] (lost sales; default empty).
    may_order : array of bool, shape (n_skus,), optional
        Which SKUs may order today (the others get ``q_i = 0``); default all.
    capacity : float, optional
        New value of the shared capacity [C] (the model must have one).

    Notes
    -----
    Each order also gets a data-driven upper bound ``qbar_i`` that no optimal order exceeds:
    the largest scenario demand still to be covered (cumulative demand net of the position
    under backorders; the demand of the counted periods under lost sales), at least the
    minimum order quantity, plus one pack; capped by ``max_order``; 0 where ``may_order`` is
    False. It keeps the MILP's big-M tight and the LP bounded.

    Under lost sales the periods before the order arrives are served here, greedily per
    scenario, and only the stock left at the start of ``t + L_i`` enters the model.
    """
    lead, review = model.lead_time_values, model.review_period_values
    n_skus, horizon = lead.shape[0], model.horizon
    n_scenarios = len(model.scenarios)
    scenarios = np.asarray(demand, dtype=np.float64)
    if scenarios.ndim != 3 or scenarios.shape[0] != n_skus or scenarios.shape[1] != n_scenarios or scenarios.shape[2] < horizon:
        raise ValidationError(
            f"demand must have shape (n_skus, n_scenarios, >= horizon) = ({n_skus}, {n_scenarios}, >= {horizon}), "
            f"got {scenarios.shape}"
        )
    if not np.all(np.isfinite(scenarios)) or (scenarios.size and scenarios.min() < 0):
        raise ValidationError("demand scenarios must be finite and >= 0")
    scenarios = scenarios[:, :, :horizon]
    sku = np.arange(n_skus)
    last = lead + review - 1  # last counted period per SKU

    if not model.lost_sales:
        if inventory_position is None:
            raise ValidationError("inventory_position is required under backorders, got None")
        position = np.asarray(inventory_position, dtype=np.float64).reshape(n_skus)
        uncovered = np.cumsum(scenarios, axis=2) - position[:, None, None]  # U = D - x
        index = model.scenario_cost_index  # rows (i, k, s)
        values = uncovered[index[:, 0], index[:, 2], index[:, 1]]
        _store(model.uncovered_demand, model.scenario_cost_keys, values)
        model.cost_offset.set_value(-float((model.holding_cost_value[index[:, 0]] * values).sum()) / n_scenarios)
        needed = np.maximum(uncovered[sku, :, last].max(axis=1), 0.0) if n_skus else np.zeros(0)
    else:
        if on_hand is None:
            raise ValidationError("on_hand is required under lost sales, got None")
        stock = np.asarray(on_hand, dtype=np.float64).reshape(n_skus).copy()
        if stock.size and stock.min() < 0:
            raise ValidationError(f"on_hand must be >= 0 under lost sales, got {stock.min():g}")
        arrivals = np.zeros((n_skus, horizon + 1))
        if pipeline is not None:
            pipe = np.asarray(pipeline, dtype=np.float64).reshape(n_skus, -1)
            width = min(pipe.shape[1], horizon)
            arrivals[:, 1 : 1 + width] = pipe[:, :width]  # pipeline[:, j] arrives at k = j + 1
        # Periods before the order arrives do not depend on it: serve their demand greedily
        # here (sales = min(stock, demand)) so that the model cannot hold stock back in them.
        at_arrival = np.repeat(stock[:, None], n_scenarios, axis=1)  # (n_skus, S)
        for k in range(int(lead.max(initial=0))):  # a loop over lead-time periods, not SKUs
            before = k < lead
            at_arrival = np.where(before[:, None], np.maximum(at_arrival - scenarios[:, :, k], 0.0), at_arrival)
            at_arrival = at_arrival + np.where(before, arrivals[:, k + 1], 0.0)[:, None]
        _store(model.stock_at_arrival, model.scenario_sku_keys, at_arrival.reshape(-1))  # (i, s) rows
        index = model.scenario_cost_index  # rows (i, k, s)
        values = scenarios[index[:, 0], index[:, 2], index[:, 1]]
        _store(model.demand, model.scenario_cost_keys, values)
        model.cost_offset.set_value(float((model.shortage_cost_value[index[:, 0]] * values).sum()) / n_scenarios)
        period = np.arange(horizon)[None, :]
        counted = (period >= lead[:, None]) & (period <= last[:, None])
        needed = (scenarios * counted[:, None, :]).sum(axis=2).max(axis=1) if n_skus else np.zeros(0)

    bound = needed
    if hasattr(model, "minimum_order_quantity_values"):
        bound = np.maximum(bound, model.minimum_order_quantity_values)
    if hasattr(model, "pack_size_values"):
        bound = bound + model.pack_size_values
    if model.max_order_value is not None:
        bound = np.minimum(bound, model.max_order_value)
    if may_order is not None:
        allowed = np.asarray(may_order, dtype=bool).reshape(n_skus)
        bound = np.where(allowed, bound, 0.0)
    _store(model.order_upper_bound, list(range(n_skus)), bound)

    if capacity is not None:
        if not hasattr(model, "capacity"):
            raise ValidationError("capacity was given but the model has no shared capacity; build it with OrderConstraints(capacity=...)")
        model.capacity.set_value(check_float("capacity", capacity, minimum=0))


# ---------------------------------------------------------------------------------- solve
def _new_solver() -> Highs:
    solver = Highs()
    updates = solver.config.auto_updates
    # the structure never changes after the build: only mutable parameters are pushed
    updates.check_for_new_or_removed_constraints = False
    updates.check_for_new_or_removed_vars = False
    updates.check_for_new_or_removed_params = False
    updates.check_for_new_objective = False
    updates.update_constraints = False
    updates.update_vars = False
    updates.update_named_expressions = False
    updates.update_objective = False
    updates.update_parameters = True
    return solver


def solve(
    model: pyo.ConcreteModel,
    *,
    persistent: bool = True,
    time_limit: float | None = None,
    mip_relative_gap: float | None = None,
) -> SolveResult:
    """Solve the model with HiGHS and return the optimal orders.

    The single place where orkit calls a solver. With ``persistent=True`` the model is loaded
    into a HiGHS instance on the first call and kept with the model; later calls push only the
    mutable parameter values and re-solve (warm-started).

    Parameters
    ----------
    model : ConcreteModel
        Built by :func:`build_replenishment_model`, data set by :func:`update_model_data`.
    persistent : bool, default=True
        ``False`` loads the model into a fresh HiGHS instance (for comparisons).
    time_limit : float, optional
        Seconds HiGHS may use; reaching it raises :class:`SolverError`.
    mip_relative_gap : float, optional
        Relative optimality gap at which HiGHS stops a MILP (HiGHS default 1e-4).

    Returns
    -------
    SolveResult

    Raises
    ------
    SolverError
        HiGHS ended with any termination condition but optimal (infeasible, unbounded, time
        limit, ...). The message names the condition; so does the exception's
        ``termination_condition`` attribute.
    """
    start = time.perf_counter()
    solver = getattr(model, _PERSISTENT_SOLVER, None) if persistent else None
    if solver is None:
        solver = _new_solver()
        if persistent:
            setattr(model, _PERSISTENT_SOLVER, solver)
    # HiGHS keeps options between runs of a persistent instance: always set both, so that a
    # limit given to one call does not leak into the next
    highs_options = {
        "time_limit": float("inf")
        if time_limit is None
        else check_float("time_limit", time_limit, minimum=0, strict_minimum=True),
        "mip_rel_gap": 1e-4 if mip_relative_gap is None else check_float("mip_relative_gap", mip_relative_gap, minimum=0),
    }
    results = solver.solve(
        model, load_solutions=False, raise_exception_on_nonoptimal_result=False, solver_options=highs_options
    )
    condition = results.termination_condition
    if condition != TerminationCondition.convergenceCriteriaSatisfied:
        error = SolverError(
            f"HiGHS did not solve model {model.name!r} to optimality: termination condition {condition.name} "
            f"(solution status {results.solution_status.name})"
        )
        error.termination_condition = condition.name
        raise error
    order_vars = [model.order[i] for i in model.skus]
    values = results.solution_loader.get_vars(order_vars)
    orders = np.maximum(np.array([values[v] for v in order_vars], dtype=np.float64), 0.0)
    objective = float(results.incumbent_objective) if results.incumbent_objective is not None else float("nan")
    return SolveResult(
        orders=orders,
        objective=objective,
        termination_condition=condition.name,
        seconds=time.perf_counter() - start,
        solver_seconds=float(results.timing_info.timer.get_total_time("optimize")),
    )


def model_size(model: pyo.ConcreteModel) -> dict[str, int]:
    """Number of variables, constraints and integer variables of ``model``.

    Returns
    -------
    dict
        ``variables``, ``constraints``, ``integer_variables``.
    """
    variables = list(model.component_data_objects(pyo.Var, active=True, descend_into=True))
    return {
        "variables": len(variables),
        "constraints": sum(1 for _ in model.component_data_objects(pyo.Constraint, active=True, descend_into=True)),
        "integer_variables": sum(1 for v in variables if v.is_integer() or v.is_binary()),
    }
