"""Predict-then-optimize: scikit-learn demand forecasts feeding a Pyomo model solved by HiGHS.

- :mod:`orkit.twostage.forecast`: :class:`DemandForecaster` (any scikit-learn regressor over
  lags, rolling means, calendar and exogenous features; uncertainty from validation residuals)
  and :func:`forecast_accuracy`.
- :mod:`orkit.twostage.model`: the scenario-based replenishment model,
  :func:`build_replenishment_model`, :func:`update_model_data` and :func:`solve`.
- :mod:`orkit.twostage.policy`: :class:`TwoStagePolicy`, the two stages behind the common
  :class:`~orkit.core.Policy` interface.

docs/twostage.md gives the formulation; docs/tutorials/predict-then-optimize.md a walk-through.
"""

from orkit.twostage.forecast import DemandForecaster, forecast_accuracy, history_features
from orkit.twostage.model import (
    OrderConstraints,
    SolveResult,
    build_replenishment_model,
    model_size,
    solve,
    update_model_data,
)
from orkit.twostage.policy import TwoStagePolicy

__all__ = [
    "DemandForecaster",
    "OrderConstraints",
    "SolveResult",
    "TwoStagePolicy",
    "build_replenishment_model",
    "forecast_accuracy",
    "history_features",
    "model_size",
    "solve",
    "update_model_data",
]
