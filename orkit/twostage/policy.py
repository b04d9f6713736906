"""The predict-then-optimize policy: forecast with scikit-learn, order with a Pyomo model.

On every review day :meth:`TwoStagePolicy.act` (1) forecasts the demand of the next
``L + P`` periods of every SKU with a :class:`~orkit.twostage.forecast.DemandForecaster`,
(2) turns the forecasts into ``n_scenarios`` demand scenarios per SKU from the empirical
validation residuals, and (3) solves one scenario-based replenishment model for all SKUs at
once (:mod:`orkit.twostage.model`). The model is built once per set of SKUs and re-solved by a
persistent HiGHS instance with new parameter values on each review day.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import Observation, check_is_fitted
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_float, check_int
from orkit.core.persistence import load_skops, skops_file
from orkit.twostage.forecast import DemandForecaster
from orkit.twostage.model import OrderConstraints, build_replenishment_model, solve, update_model_data

__all__ = ["TwoStagePolicy"]


class TwoStagePolicy(SavablePolicy):
    """Predict-then-optimize: gradient-boosted forecasts feeding a scenario model solved by HiGHS.

    Parameters
    ----------
    regressor : scikit-learn regressor, default=None
        Forecasting model (cloned in ``fit``); ``None`` uses a ``HistGradientBoostingRegressor``
        (see :class:`~orkit.twostage.forecast.DemandForecaster`).
    n_scenarios : int, default=50
        Demand scenarios per SKU in the sample-average model [S].
    window : int, default=28
        Periods of past demand the forecaster reads [W] (at most the simulator's
        ``demand_window``).
    n_lags : int, default=7
        Most recent periods used as individual lags.
    seasonal_periods : sequence of int, default=(7,)
        Calendar cycles of the forecaster [periods].
    use_features : bool, default=True
        Let the forecaster use the exogenous features ``x_t``.
    capacity : float or None, default=None
        Capacity (or budget) shared by all SKUs ordering on a review day [C]:
        ``sum_i capacity_usage_i * q_i <= capacity``.
    capacity_usage : float or array of shape (n_skus,), default=1.0
        Capacity used per unit ordered [u_i].
    pack_size : float, array or None, default=None
        Orders are integer multiples of the pack size [m_i, units] (MILP).
    minimum_order_quantity : float, array or None, default=None
        An order is 0 or at least this many units [Q_i] (MILP).
    persistent_model : bool, default=True
        Build the Pyomo model once and re-solve it with a persistent HiGHS instance. ``False``
        rebuilds model and solver on every review day (only useful to measure the difference).
    time_limit : float or None, default=None
        Seconds HiGHS may spend per review day; reaching it raises ``SolverError``.
    mip_relative_gap : float or None, default=None
        Relative optimality gap at which HiGHS stops the MILP (pack sizes, minimum order
        quantities); ``None`` keeps HiGHS's 1e-4. A capacity shared by thousands of SKUs with
        integer packs is a hard MILP: 1e-3 or 1e-2 can cut the solve time by ten.
    random_state : int, default=0
        Seed of the forecaster and of scenario sampling (the scenarios of review day ``t`` are
        drawn from ``default_rng([random_state, t])``): the same seed gives the same orders.
    n_threads : int or None, default=None
        OpenMP threads of the forecaster (see
        :class:`~orkit.twostage.forecast.DemandForecaster`); ``None``: library default.
    calendar : {"auto", "features", "periods"}, default="auto"
        Where the forecaster takes the calendar of the periods it forecasts: the data's
        features of role ``calendar`` (real weekdays from dates), or the period index modulo
        ``seasonal_periods`` for data without dates (see
        :mod:`orkit.twostage.forecast`). Data with dates and no calendar feature is refused
        under ``"auto"``.
    forecast : str or None, default=None
        Use the data's feature ``forecast`` (demand per period, e.g. of role ``forecast``) as
        the point forecast instead of fitting a regressor; the scenarios come from that
        column's validation residuals. A ``DataError`` names the column when the training
        data or an observation lacks it.

    Attributes
    ----------
    forecaster_ : DemandForecaster
        Fitted on the training trajectories; residuals from the validation trajectories.
    problem_ : InventoryProblem
    constraints_ : OrderConstraints
    horizon_ : int
        Periods forecast per review day, ``max_i (L_i + P_i)`` [H].
    model_ : pyomo.environ.ConcreteModel or None
        The replenishment model of the last review day (built at the first ``act``; rebuilt
        only when the SKUs' lead times or review periods change, or without persistence).
    n_model_builds_ : int
        How many times a model was built since ``fit``.
    act_log_ : list of dict
        Per review day: ``period``, ``build_seconds``, ``forecast_seconds``, ``update_seconds``,
        ``solve_seconds``, ``solver_seconds``, ``objective``. A diagnostic: not saved.
    per_sku_ : bool
        True when ``capacity_usage``, ``pack_size`` or ``minimum_order_quantity`` is given one
        value per SKU (by row position: ``sku_ids_`` is then None; see :mod:`orkit.core.policy`).
    sku_ids_ : None

    Examples
    --------
    >>> from orkit.core import InventoryProblem
    >>> from orkit.data import generate
    >>> from orkit.sim import simulate
    >>> train, validation, test = generate("iid-poisson", n_skus=30, n_periods=30, rate=8.0,
    ...                                    split_sizes=(10, 10, 10), seed=0).splits()
    >>> problem = InventoryProblem(lead_time=1, review_period=2)
    >>> policy = TwoStagePolicy(n_scenarios=20).fit(train, validation, problem)
    >>> ledger = simulate(policy, test, problem)
    >>> bool((ledger.order >= 0).all())
    True
    """

    policy_name = "two-stage"
    _saved_attributes = ("forecaster_", "problem_", "horizon_")

    def __init__(
        self,
        regressor: Any = None,
        *,
        n_scenarios: int = 50,
        window: int = 28,
        n_lags: int = 7,
        seasonal_periods: Sequence[int] = (7,),
        use_features: bool = True,
        capacity: float | None = None,
        capacity_usage: Any = 1.0,
        pack_size: Any = None,
        minimum_order_quantity: Any = None,
        persistent_model: bool = True,
        time_limit: float | None = None,
        mip_relative_gap: float | None = None,
        random_state: int = 0,
        n_threads: int | None = None,
        calendar: str = "auto",
        forecast: str | None = None,
    ) -> None:
        self.regressor = regressor
        self.n_scenarios = n_scenarios
        self.window = window
        self.n_lags = n_lags
        self.seasonal_periods = seasonal_periods
        self.use_features = use_features
        self.capacity = capacity
        self.capacity_usage = capacity_usage
        self.pack_size = pack_size
        self.minimum_order_quantity = minimum_order_quantity
        self.persistent_model = persistent_model
        self.time_limit = time_limit
        self.mip_relative_gap = mip_relative_gap
        self.random_state = random_state
        self.n_threads = n_threads
        self.calendar = calendar
        self.forecast = forecast

    # ------------------------------------------------------------------ fit
    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "TwoStagePolicy":
        """Fit the forecaster on ``train`` and its residual distribution on ``validation``.

        Parameters
        ----------
        train : Dataset or array of shape (n_skus, n_periods)
            Training trajectories.
        validation : Dataset or array of shape (n_skus, n_periods)
            Validation trajectories; their forecast residuals define the demand scenarios.
        problem : InventoryProblem
            Lead time, review period, costs, lost sales or backorders, maximum order.

        Returns
        -------
        self
        """
        if not isinstance(problem, InventoryProblem):
            raise ValidationError(f"problem must be an InventoryProblem, got {type(problem).__name__}")
        if validation is None:
            raise ValidationError(
                "validation must be given: the scenario distribution comes from validation residuals, got None"
            )
        check_int("n_scenarios", self.n_scenarios, minimum=1)
        if not isinstance(self.persistent_model, (bool, np.bool_)):
            raise ValidationError(f"persistent_model must be True or False, got {self.persistent_model!r}")
        if self.time_limit is not None:
            check_float("time_limit", self.time_limit, minimum=0, strict_minimum=True)
        if self.mip_relative_gap is not None:
            check_float("mip_relative_gap", self.mip_relative_gap, minimum=0)
        problem = problem.for_data(train)
        if np.any(np.asarray(problem.holding_cost) + np.asarray(problem.shortage_cost) <= 0):
            raise ValidationError("problem.holding_cost + problem.shortage_cost must be > 0, got 0")
        self.constraints_ = OrderConstraints(
            capacity=self.capacity,
            capacity_usage=self.capacity_usage,
            pack_size=self.pack_size,
            minimum_order_quantity=self.minimum_order_quantity,
        )
        self.horizon_ = int(np.max(np.asarray(problem.lead_time) + np.asarray(problem.review_period)))
        forecaster = DemandForecaster(
            self.regressor,
            window=self.window,
            n_lags=self.n_lags,
            seasonal_periods=self.seasonal_periods,
            use_features=self.use_features,
            random_state=self.random_state,
            n_threads=self.n_threads,
            calendar=self.calendar,
            forecast=self.forecast,
        )
        self.forecaster_ = forecaster.fit(train, self.horizon_, validation=validation)
        self.problem_ = problem
        self._set_sku_state()
        self._reset_model()
        return self

    def _set_sku_state(self) -> None:
        # per-SKU constraint arrays belong to SKUs by row position only: no ids
        given = (self.capacity_usage, self.pack_size, self.minimum_order_quantity)
        self.per_sku_ = any(value is not None and np.ndim(value) >= 1 for value in given)
        self.sku_ids_ = None

    def _reset_model(self) -> None:
        self.act_log_: list[dict[str, float]] = []
        self.model_ = None
        self.n_model_builds_ = 0
        self._model_key: tuple | None = None

    # ------------------------------------------------------------------ save / load
    def _saved_parameters(self) -> dict[str, Any]:
        params = super()._saved_parameters()
        if params["regressor"] is not None:
            params["regressor"] = skops_file("regressor.skops", params["regressor"])
        return params

    @classmethod
    def _loaded_parameters(cls, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("regressor") is not None:
            from sklearn.base import BaseEstimator

            params = {**params, "regressor": load_skops(params["regressor"], (BaseEstimator,), "parameters.regressor")}
        return params

    def _saved_state(self) -> dict[str, Any]:
        # the Pyomo model, its solver and the timing log are rebuilt or restarted, not saved
        problem = self.problem_
        return {
            "forecaster_": self.forecaster_._saved("forecaster_."),
            "problem_": {f.name: getattr(problem, f.name) for f in fields(problem) if f.init},
            "horizon_": self.horizon_,
            "per_sku_": self.per_sku_,
            "sku_ids_": self.sku_ids_,
        }

    def _restore_state(self, state: dict[str, Any]) -> None:
        problem = state["problem_"]
        if not isinstance(problem, dict):
            raise ValidationError(f"problem_ must hold the fields of an InventoryProblem, got {problem!r}")
        self.problem_ = InventoryProblem(**problem)
        self.horizon_ = check_int("horizon_", state["horizon_"], minimum=1)
        self.forecaster_ = DemandForecaster._from_saved(state["forecaster_"], self.regressor)
        if self.forecaster_.horizon_ != self.horizon_:
            raise ValidationError(f"forecaster_.horizon_ must equal horizon_ ({self.horizon_}), got {self.forecaster_.horizon_}")
        self.constraints_ = OrderConstraints(
            capacity=self.capacity,
            capacity_usage=self.capacity_usage,
            pack_size=self.pack_size,
            minimum_order_quantity=self.minimum_order_quantity,
        )
        self.per_sku_, self.sku_ids_ = state["per_sku_"], state["sku_ids_"]
        self._reset_model()

    # ------------------------------------------------------------------ act
    def _replenishment_model(self, lead_time: np.ndarray, review_period: np.ndarray, costs: Any = None,
                             max_order: Any = None) -> Any:
        """The model for these SKUs: built on first use (or always, without persistence).

        ``costs``: each SKU's (h, b, K) from the observation where the problem gives costs per
        SKU; else the problem's. ``max_order``: each SKU's cap from the observation where the
        problem gives one per SKU; else the problem's."""
        problem = self.problem_
        if costs is None and problem.per_sku_costs:
            raise ValidationError(
                "TwoStagePolicy was fitted with per-SKU costs, but the observation does not give the SKUs' costs "
                "(obs.costs); simulate with the problem that holds them"
            )
        if max_order is None and np.ndim(problem.max_order) == 1:
            raise ValidationError(
                "TwoStagePolicy was fitted with a per-SKU max_order, but the observation does not give the SKUs' "
                "caps (obs.max_order); simulate with the problem that holds them"
            )
        cap = max_order if max_order is not None else problem.max_order
        h, b, K = costs if costs is not None else (problem.holding_cost, problem.shortage_cost, problem.fixed_cost)
        key = (lead_time.tobytes(), review_period.tobytes(),
               *(np.asarray(v, dtype=np.float64).tobytes() for v in (h, b, K, np.nan if cap is None else cap)))
        if self.model_ is None or key != self._model_key or not self.persistent_model:
            if int(np.max(lead_time + review_period, initial=0)) > self.horizon_:
                raise ValidationError(
                    f"lead_time + review_period must be <= {self.horizon_} (the horizon fitted from the problem), "
                    f"got {int(np.max(lead_time + review_period))}"
                )
            self.model_ = build_replenishment_model(
                lead_time,
                review_period,
                self.n_scenarios,
                holding_cost=h,
                shortage_cost=b,
                fixed_cost=K,
                lost_sales=problem.lost_sales,
                max_order=cap,
                constraints=self.constraints_,
            )
            self._model_key = key
            self.n_model_builds_ += 1
        return self.model_

    def act(self, obs: Observation) -> torch.Tensor:
        """Orders of every SKU on review day ``obs.period``, shape (n_skus,)."""
        check_is_fitted(self, ("forecaster_",))
        start = time.perf_counter()
        lead_time = obs.lead_time.detach().cpu().numpy().astype(np.int64)
        review_period = obs.review_period.detach().cpu().numpy().astype(np.int64)
        costs = None if obs.costs is None else tuple(c.detach().cpu().numpy().astype(np.float64) for c in obs.costs)
        cap = None if obs.max_order is None else obs.max_order.detach().cpu().numpy().astype(np.float64)
        model = self._replenishment_model(lead_time, review_period, costs, cap)
        built = time.perf_counter()

        features = obs.features.detach().cpu().numpy() if self.forecaster_.input_names_ else None
        point, spread = self.forecaster_.predict_with_spread(
            obs.recent_demand.detach().cpu().numpy(), obs.period, features, obs.feature_names,
            obs.first_period.detach().cpu().numpy()
        )
        rng = np.random.default_rng([self.random_state, obs.period])
        scenarios = self.forecaster_.sample_scenarios(point, spread, self.n_scenarios, rng)
        forecast = time.perf_counter()

        may_order = obs.is_review.detach().cpu().numpy() if obs.is_review is not None else None
        if self.problem_.lost_sales:
            update_model_data(
                model,
                demand=scenarios,
                on_hand=obs.on_hand.detach().cpu().numpy().clip(min=0),
                pipeline=obs.pipeline.detach().cpu().numpy(),
                may_order=may_order,
            )
        else:
            update_model_data(
                model,
                demand=scenarios,
                inventory_position=obs.inventory_position.detach().cpu().numpy(),
                may_order=may_order,
            )
        updated = time.perf_counter()
        result = solve(
            model,
            persistent=self.persistent_model,
            time_limit=self.time_limit,
            mip_relative_gap=self.mip_relative_gap,
        )
        self.act_log_.append(
            {
                "period": obs.period,
                "build_seconds": built - start,
                "forecast_seconds": forecast - built,
                "update_seconds": updated - forecast,
                "solve_seconds": result.seconds,
                "solver_seconds": result.solver_seconds,
                "objective": result.objective,
            }
        )
        return torch.as_tensor(result.orders, dtype=obs.on_hand.dtype, device=obs.on_hand.device)

    def __getstate__(self) -> dict[str, Any]:
        # The Pyomo model holds a live HiGHS instance, which cannot be pickled; it is rebuilt
        # at the next review day, so a saved policy keeps only what was learned.
        state = self.__dict__.copy()
        if "model_" in state:
            state["model_"] = None
            state["_model_key"] = None
        return state
