r"""Stage one of predict-then-optimize: demand forecasts and their uncertainty.

A :class:`DemandForecaster` wraps any scikit-learn regressor (default: a histogram
gradient-boosted tree model) and forecasts the demand of each of the next ``H`` periods
(``H = L + P``, the protection interval of an order) from what a policy sees on a review day
``t``:

- the recent demand ``d_{t-W}, ..., d_{t-1}`` (zero-padded before the first period, exactly
  as :attr:`orkit.core.Observation.recent_demand`), summarised as lags, rolling means and a
  rolling standard deviation;
- the calendar of the target period ``t + k`` (see **Calendar** below);
- the exogenous features ``x_t`` of the review day (promotions, prices, ...).

**Calendar.** With ``calendar="auto"`` (default) the forecaster takes the calendar from the
data's features of role ``calendar`` (:mod:`orkit.data.schema`; derived from real dates by
:meth:`Dataset.with_calendar_features <orkit.data.Dataset.with_calendar_features>`): for each,
the target period's value, its sine and its cosine are features. The weekday of ``t + k`` is
the review day's weekday advanced by ``k`` days (daily data; weekly data keeps the weekday);
the other parts (month, week of year, ...) are the review day's, ``k`` being an input too
(the horizon ``L + P`` is a few periods). So a training window that starts on another day, a
test window later in the year or a state read from today's sales keep the weekday of every
date. Data **without dates** (a bare array, a generated dataset) has no weekday: the
forecaster then uses ``(t + k) mod c`` for each ``c`` in ``seasonal_periods``, where ``t``
counts periods from the first period of the data it is given; this is right only when every
dataset it sees starts on the same day of the cycle (``calendar="periods"`` asks for it
explicitly). Data with dates but no calendar feature is refused under ``"auto"`` (a
``DataError`` saying how to add them), rather than silently counting weekdays from the
start of each window.

**A forecast column instead of the regressor.** ``forecast="name"`` uses the data's feature
``name`` (in demand units per period, e.g. a forecast of role ``forecast`` from your own
planning system) as the point forecast of every step: no regressor is fitted; the spread and
the validation residuals are computed as below, so the scenarios carry that forecast's own
error.

**Direct multi-horizon strategy.** One regressor serves every step ``k = 0, ..., H - 1``: each
training row is a (SKU, origin ``t``, step ``k``) triple whose target is ``d_{t+k}`` and whose
features include ``k`` and the calendar of ``t + k``. The forecast is therefore a vector of
per-period demands ``\hat d_{t}, ..., \hat d_{t+H-1}``, which the optimisation model turns
into inventory levels.

**Per-SKU normalisation.** Fast and slow movers share one model: demand-valued inputs and the
target are divided by the SKU's *level* ``\ell_{i,t}``, the mean observed demand of the window
(floored at ``level_floor_``, a tenth of the mean training demand), and the forecast is
multiplied back. ``log \ell`` is an input, so effects may still depend on the scale.

**Uncertainty from validation residuals.** After fitting on the training trajectories, the
forecaster predicts every origin of the validation trajectories and stores the standardised
residual vectors ``e = (d - \hat d) / \sigma_{i,t}``, one row of ``H`` steps per (SKU,
origin). The *spread* ``\sigma_{i,t}`` is the SKU's recent demand standard deviation shrunk
toward the pooled coefficient of variation (few observations lean on the pool):

.. math:: \sigma_{i,t}^2 = \frac{m \, s_{i,t}^2 + m_0 \, (c \, \ell_{i,t})^2}{m + m_0}

with ``m`` observed periods, ``s^2`` their variance, ``c`` the median coefficient of
variation of the training trajectories and ``m_0`` = ``prior_periods``. Empirical residual
quantiles give prediction intervals (:meth:`DemandForecaster.predict_quantiles`); demand
scenarios are the forecast plus whole residual vectors drawn by stratified sampling, which
keeps the correlation between steps (:meth:`DemandForecaster.sample_scenarios`).

Feature construction is vectorised with numpy over SKUs and origins (no Python loop over SKUs).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from orkit.core.errors import DataError, ValidationError
from orkit.core.estimator import Estimator
from orkit.core.policy import check_is_fitted
from orkit.core.validation import check_float, check_int
from orkit.core.persistence import load_skops, skops_file
from orkit.data.schema import CALENDAR_PARTS

__all__ = ["DemandForecaster", "forecast_accuracy", "history_features"]

logger = logging.getLogger(__name__)

#: where the forecaster's calendar comes from (:class:`DemandForecaster` ``calendar``)
CALENDAR_MODES = ("auto", "features", "periods")


# ---------------------------------------------------------------------------------- inputs
def _as_demand_and_features(
    data: Any, name: str
) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """Demand (n_skus, T) float64, features (n_skus, T, F) or None, and feature names."""
    if hasattr(data, "demand") and hasattr(data, "feature_names"):  # a Dataset (lives: see _lived_rows)
        demand = np.asarray(data.demand, dtype=np.float64)
        features = np.asarray(data.features, dtype=np.float64) if data.n_features else None
        names = tuple(data.feature_names) if features is not None else ()
    else:
        try:
            demand = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValidationError(
                f"{name} must be a Dataset or an array of shape (n_skus, n_periods), got {type(data).__name__}"
            ) from None
        features, names = None, ()
    if demand.ndim != 2:
        raise ValidationError(f"{name} demand must have shape (n_skus, n_periods), got {demand.shape}")
    if not np.all(np.isfinite(demand)) or (demand.size and demand.min() < 0):
        raise DataError(f"{name} demand must be finite and >= 0")
    return demand, features, names


def _lived_rows(data: Any, origins: np.ndarray, horizon: int) -> np.ndarray | None:
    """(n_skus, len(origins)) bool: the (SKU, origin) rows inside each SKU's life, or ``None``
    when every SKU lives the whole horizon. Origin ``t`` of a SKU living ``first..last`` is a
    training row when ``first + 1 <= t`` and ``t + H - 1 <= last``: at least one lived period
    before it and every forecast target inside the life. Its lags before ``first`` read 0, as
    before period 0 of any SKU and as the policy's observation shows them (Dataset demand is 0
    outside a life); targets never leave the life."""
    if not hasattr(data, "full_lives") or data.full_lives:
        return None
    first, last = (np.asarray(v)[:, None] for v in data.life)
    return (origins[None, :] >= first + 1) & (origins[None, :] + horizon - 1 <= last)


# ---------------------------------------------------------------------------------- features
def history_features(
    recent_demand: np.ndarray,
    history_length: np.ndarray,
    *,
    n_lags: int,
    level_floor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Level, lags and rolling statistics of recent demand, for many (SKU, origin) rows at once.

    Parameters
    ----------
    recent_demand : array of shape (m, W)
        Demand of the ``W`` periods before each origin, oldest first; entries before the first
        period are zero (as in :attr:`orkit.core.Observation.recent_demand`).
    history_length : array of shape (m,)
        Periods actually observed in each window: ``min(t - first, W)`` for origin ``t`` of a
        SKU whose first period is ``first`` (0 for a SKU that lives from the start).
    n_lags : int
        Number of most recent periods kept as individual lags.
    level_floor : float
        Lower bound on the level [units per period], so that normalised values stay finite.

    Returns
    -------
    level : array of shape (m,)
        Mean observed demand of the window, floored [\\ell, units per period].
    variance : array of shape (m,)
        Variance of the observed demand of the window [s^2, units^2] (0 with < 2 observations).
    lags : array of shape (m, n_lags)
        ``d_{t-1}, ..., d_{t-n_lags}`` divided by the level (0 where not observed).
    statistics : array of shape (m, 5)
        Columns ``log_level, history_length, mean_7, mean_14, relative_std`` (the means and the
        standard deviation divided by the level).

    Examples
    --------
    >>> import numpy as np
    >>> level, variance, lags, stats = history_features(np.array([[0.0, 2.0, 4.0]]), np.array([2]),
    ...                                                 n_lags=2, level_floor=0.1)
    >>> level, variance, lags
    (array([3.]), array([2.]), array([[1.33333333, 0.66666667]]))
    """
    recent = np.asarray(recent_demand, dtype=np.float64)
    width = recent.shape[1]
    observed = np.minimum(np.asarray(history_length, dtype=np.int64), width)
    count = np.maximum(observed, 1).astype(np.float64)
    # recent is zero before the first period, so plain sums over the window are sums over the
    # observed part; dividing by the observed count gives means over observed periods only.
    mean = recent.sum(axis=1) / count
    level = np.maximum(mean, level_floor)
    mask = np.arange(width)[None, :] >= (width - observed)[:, None]
    squared = np.where(mask, (recent - mean[:, None]) ** 2, 0.0).sum(axis=1)
    variance = np.where(observed >= 2, squared / np.maximum(observed - 1, 1), 0.0)

    lags = recent[:, ::-1][:, :n_lags] / level[:, None]
    if lags.shape[1] < n_lags:
        lags = np.pad(lags, ((0, 0), (0, n_lags - lags.shape[1])))

    def trailing_mean(span: int) -> np.ndarray:
        span_count = np.maximum(np.minimum(observed, span), 1)
        return recent[:, max(width - span, 0):].sum(axis=1) / span_count / level

    statistics = np.column_stack(
        [np.log(level), observed, trailing_mean(7), trailing_mean(14), np.sqrt(variance) / level]
    )
    return level, variance, lags, statistics


def _windows(demand: np.ndarray, window: int, origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Recent-demand windows (n, len(origins), W) and targets (n, len(origins), H) per origin."""
    n_skus, _ = demand.shape
    padded = np.concatenate([np.zeros((n_skus, window)), demand], axis=1)
    # windows[:, t] = demand[t - W : t] (zero-padded): the window a policy sees at origin t
    recent = sliding_window_view(padded, window, axis=1)[:, origins]
    targets = sliding_window_view(demand, horizon, axis=1)[:, origins]
    return recent, targets


# ---------------------------------------------------------------------------------- forecaster
class DemandForecaster(Estimator):
    """Per-period demand forecasts over the protection interval, with empirical uncertainty.

    Parameters
    ----------
    regressor : scikit-learn regressor, default=None
        Any estimator with ``fit(X, y)`` and ``predict(X)``; cloned before fitting. ``None``
        uses ``HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05,
        min_samples_leaf=40, random_state=random_state)``.
    window : int, default=28
        Periods of past demand the forecaster reads [W]; must not exceed the simulator's
        ``demand_window`` (28 by default).
    n_lags : int, default=7
        Most recent periods used as individual (level-normalised) lags.
    seasonal_periods : sequence of int, default=(7,)
        Calendar cycles [periods]: for each ``c`` the target period's ``(t + k) mod c`` and its
        sine and cosine are features.
    use_features : bool, default=True
        Use the dataset's exogenous features ``x_t`` of the review day (raw and divided by the
        level).
    prior_periods : float, default=7.0
        Weight [m_0, periods] of the pooled coefficient of variation in the spread estimate
        (module docstring).
    random_state : int, default=0
        Seed of the default regressor and of scenario sampling.
    n_threads : int or None, default=None
        OpenMP threads the regressor may use in ``fit`` and ``predict`` (set with
        threadpoolctl); ``None`` keeps the library default (all cores). On a small machine
        shared with other jobs, ``1`` avoids OpenMP threads stalling each other.
    calendar : {"auto", "features", "periods"}, default="auto"
        Where the target period's calendar comes from (module docstring): ``"features"`` the
        data's features of role ``calendar``, ``"periods"`` the period index modulo
        ``seasonal_periods``, ``"auto"`` the former when the data has calendar features, the
        latter when it has no dates (data with dates and no calendar feature is refused).
    forecast : str or None, default=None
        Name of a feature to use as the point forecast instead of fitting the regressor
        (module docstring).

    Attributes
    ----------
    horizon_ : int
        Periods forecast per origin [H].
    regressor_ : fitted regressor, or None with ``forecast``
    feature_names_ : tuple of str
        Exogenous feature names seen in ``fit`` (read by name at prediction time; calendar
        features are read as ``calendar_``).
    calendar_ : tuple of (str, str)
        The calendar features used, as (feature name, calendar part); empty when the calendar
        is ``seasonal_periods`` of the period index.
    freq_ : str or None
        ``"D"`` or ``"W"``: the periods of the training data (weekdays advance by one a day).
    forecast_column_ : str or None
        The feature used as the point forecast (``forecast``).
    level_floor_ : float
        Lower bound on the level, a tenth of the mean training demand [units per period].
    pooled_variation_ : float
        Median coefficient of variation of the training trajectories [c].
    residuals_ : array of shape (n_residuals, horizon_)
        Standardised validation residuals ``(d - \\hat d) / \\sigma``, one row per (SKU, origin).
        ``None`` until :meth:`fit_residuals` (called by :meth:`fit` when given validation data).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> demand = rng.poisson(10.0, size=(20, 40)).astype(float)
    >>> forecaster = DemandForecaster(n_lags=3).fit(demand[:10], horizon=2, validation=demand[10:])
    >>> point = forecaster.predict(demand[10:, -28:], period=40)
    >>> point.shape, bool(abs(point.mean() - 10.0) < 1.5)
    ((10, 2), True)
    """

    def __init__(
        self,
        regressor: Any = None,
        *,
        window: int = 28,
        n_lags: int = 7,
        seasonal_periods: Sequence[int] = (7,),
        use_features: bool = True,
        prior_periods: float = 7.0,
        random_state: int = 0,
        n_threads: int | None = None,
        calendar: str = "auto",
        forecast: str | None = None,
    ) -> None:
        self.regressor = regressor
        self.window = window
        self.n_lags = n_lags
        self.seasonal_periods = seasonal_periods
        self.use_features = use_features
        self.prior_periods = prior_periods
        self.random_state = random_state
        self.n_threads = n_threads
        self.calendar = calendar
        self.forecast = forecast

    # ------------------------------------------------------------------ parameters
    def _check_parameters(self) -> None:
        check_int("window", self.window, minimum=1)
        check_int("n_lags", self.n_lags, minimum=0)
        if isinstance(self.seasonal_periods, (str, bytes)) or not isinstance(self.seasonal_periods, Sequence):
            raise ValidationError(f"seasonal_periods must be a sequence of integers, got {self.seasonal_periods!r}")
        for period in self.seasonal_periods:
            check_int("seasonal_periods", period, minimum=2)
        if not isinstance(self.use_features, (bool, np.bool_)):
            raise ValidationError(f"use_features must be True or False, got {self.use_features!r}")
        check_float("prior_periods", self.prior_periods, minimum=0)
        check_int("random_state", self.random_state, minimum=0)
        if self.n_threads is not None:
            check_int("n_threads", self.n_threads, minimum=1)
        if self.calendar not in CALENDAR_MODES:
            raise ValidationError(f"calendar must be one of {', '.join(map(repr, CALENDAR_MODES))}, got {self.calendar!r}")
        if self.forecast is not None and (not isinstance(self.forecast, str) or not self.forecast):
            raise ValidationError(f"forecast must be a feature name (str) or None, got {self.forecast!r}")
        if self.regressor is not None and not (hasattr(self.regressor, "fit") and hasattr(self.regressor, "predict")):
            raise ValidationError(
                f"regressor must be a scikit-learn regressor with fit and predict, got {type(self.regressor).__name__}"
            )

    def _thread_limit(self) -> contextlib.AbstractContextManager:
        if self.n_threads is None:
            return contextlib.nullcontext()
        return threadpool_limits(limits=int(self.n_threads), user_api="openmp")

    def _default_regressor(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.05, min_samples_leaf=40, random_state=self.random_state
        )

    # ------------------------------------------------------------------ design matrix
    def _design(
        self,
        recent: np.ndarray,
        periods: np.ndarray,
        ages: np.ndarray,
        exogenous: np.ndarray | None,
        calendar: np.ndarray | None = None,
        column: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Design matrix (m, H, C), level (m,) and spread (m,) for m (SKU, origin) rows at
        ``periods``, each ``ages`` periods after its SKU's first period; ``calendar`` (m,
        len(calendar_)) holds the origins' calendar features; with a forecast column the design
        is that column's value (m, H, 1)."""
        window = self.window
        recent = recent[:, -window:]
        if recent.shape[1] < window:
            recent = np.pad(recent, ((0, 0), (window - recent.shape[1], 0)))
        history_length = np.clip(ages, 0, window)
        level, variance, lags, statistics = history_features(
            recent, history_length, n_lags=self.n_lags, level_floor=self.level_floor_
        )
        m0 = float(self.prior_periods)
        prior = (self.pooled_variation_ * level) ** 2
        spread = np.sqrt((history_length * variance + m0 * prior) / np.maximum(history_length + m0, 1e-12))
        spread = np.maximum(spread, self.level_floor_ * max(self.pooled_variation_, 1e-3))
        if self.forecast_column_ is not None:
            return np.repeat(np.asarray(column, dtype=np.float64)[:, None, None], self.horizon_, axis=1), level, spread

        columns = [statistics, lags]
        if exogenous is not None:
            columns += [exogenous, exogenous / level[:, None]]
        origin = np.concatenate(columns, axis=1)  # (m, B): the same for every step

        steps = np.arange(self.horizon_)
        target_period = periods[:, None] + steps[None, :]  # (m, H)
        per_step = [np.broadcast_to(steps, target_period.shape)]
        if self.calendar_:
            for j, (_, part) in enumerate(self.calendar_):
                values = np.asarray(calendar[:, j], dtype=np.int64)[:, None]
                if part == "weekday" and self.freq_ == "D":
                    values = (values + steps[None, :]) % 7  # the weekday of t + k
                values = np.broadcast_to(values, target_period.shape)
                low, n_values = CALENDAR_PARTS[part][0], len(CALENDAR_PARTS[part])
                angle = 2.0 * np.pi * (values - low) / n_values
                per_step += [values, np.sin(angle), np.cos(angle)]
        else:
            for cycle in self.seasonal_periods:
                phase = target_period % cycle
                angle = 2.0 * np.pi * phase / cycle
                per_step += [phase, np.sin(angle), np.cos(angle)]
        per_step = np.stack(per_step, axis=2).astype(np.float64)  # (m, H, S)
        m, horizon = target_period.shape
        design = np.concatenate([np.broadcast_to(origin[:, None, :], (m, horizon, origin.shape[1])), per_step], axis=2)
        return design, level, spread

    @property
    def input_names_(self) -> tuple[str, ...]:
        """Every feature the fitted forecaster reads: exogenous, calendar, forecast column."""
        column = (self.forecast_column_,) if self.forecast_column_ is not None else ()
        return tuple(self.feature_names_) + tuple(n for n, _ in self.calendar_) + column

    def _select(self, features: np.ndarray | None, names: Sequence[str], wanted: Sequence[str],
                where: str) -> np.ndarray | None:
        """The columns ``wanted`` (by name) of ``features`` (..., F); None when none is wanted."""
        if not wanted:
            return None
        names = tuple(names)
        missing = [n for n in wanted if n not in names]
        if features is None or missing:
            raise DataError(
                f"{where} lacks feature(s) {missing or list(wanted)} the forecaster was fitted with; "
                f"it has {list(names)}"
            )
        index = [names.index(n) for n in wanted]
        return np.asarray(features, dtype=np.float64)[..., index]

    def _inputs(self, features: np.ndarray | None, names: Sequence[str],
                where: str) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """Exogenous, calendar and forecast-column values of ``features`` (..., F)."""
        exogenous = self._select(features, names, self.feature_names_, where)
        calendar = self._select(features, names, [n for n, _ in self.calendar_], where)
        column = self._select(features, names, [self.forecast_column_] if self.forecast_column_ else [], where)
        return exogenous, calendar, None if column is None else column[..., 0]

    def _origins(self, n_periods: int) -> np.ndarray:
        """Origins with a full horizon of targets: ``t = 1, ..., T - H``."""
        return np.arange(1, n_periods - self.horizon_ + 1)

    def _rows(self, data: Any, name: str, lived_only: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Design (m, H, C), level, spread and targets (m, H) for every origin of ``data`` (of
        its window after the history, for a backtest window).

        Rows are SKU-major: row ``i * n_origins + j`` is SKU ``i`` at origin ``j + 1``. With
        SKUs that start or end inside the horizon, only the rows inside their lives
        (:func:`_lived_rows`) are kept, unless ``lived_only`` is False.
        """
        demand, features, names = _as_demand_and_features(data, name)
        n_skus, n_periods = demand.shape
        origins = self._origins(n_periods)
        # a backtest window (Dataset.history_periods): its history gives the first origins' lags
        # but no origin of its own (those periods were fitted on)
        origins = origins[origins >= getattr(data, "history_periods", 0)]
        if origins.size == 0:
            raise DataError(
                f"{name} must have more than horizon = {self.horizon_} periods to give a training origin, "
                f"got {n_periods}"
            )
        recent, targets = _windows(demand, self.window, origins, self.horizon_)
        selected = [None if x is None else x[:, origins].reshape(n_skus * origins.size, *x.shape[2:])
                    for x in self._inputs(features, names, name)]
        periods = np.broadcast_to(origins, (n_skus, origins.size)).reshape(-1)
        first = np.zeros(n_skus, dtype=np.int64) if getattr(data, "full_lives", True) else np.asarray(data.life[0])
        ages = (np.asarray(origins)[None, :] - first[:, None]).reshape(-1)
        recent, targets = recent.reshape(-1, self.window), targets.reshape(-1, self.horizon_)
        lived = None if not lived_only else _lived_rows(data, origins, self.horizon_)
        if lived is not None:  # SKUs that start or end inside the horizon: rows inside their lives only
            keep = lived.reshape(-1)
            if not keep.any():
                raise DataError(f"{name} has no origin inside a SKU's life with a full horizon of {self.horizon_} "
                                "periods after it")
            recent, targets, periods, ages = recent[keep], targets[keep], periods[keep], ages[keep]
            selected = [None if x is None else x[keep] for x in selected]
        design, level, spread = self._design(recent, periods, ages, *selected)
        return design, level, spread, targets

    # ------------------------------------------------------------------ fit
    def fit(self, train: Any, horizon: int, validation: Any = None) -> "DemandForecaster":
        """Fit the regressor on every origin of the training trajectories.

        Parameters
        ----------
        train : Dataset or array of shape (n_skus, n_periods)
            Training trajectories (demand and, for a Dataset, exogenous features).
        horizon : int
            Periods to forecast per origin [H], usually ``L + P``.
        validation : Dataset or array, optional
            When given, :meth:`fit_residuals` is called on it.

        Returns
        -------
        self
        """
        self._check_parameters()
        self.horizon_ = check_int("horizon", horizon, minimum=1)
        demand, features, names = _as_demand_and_features(train, "train")
        self._resolve_inputs(train, names)
        if getattr(train, "full_lives", True):
            mean_demand = float(demand.mean()) if demand.size else 0.0
            sku_mean = demand.mean(axis=1)
            sku_std = demand.std(axis=1)
        else:  # statistics over the periods each SKU lives (a mask: no zeros outside a life)
            alive = train.alive().T
            mean_demand = float(demand[alive].mean()) if alive.any() else 0.0
            sku_mean = np.array([row[keep].mean() if keep.any() else 0.0 for row, keep in zip(demand, alive)])
            sku_std = np.array([row[keep].std() if keep.any() else 0.0 for row, keep in zip(demand, alive)])
        self.level_floor_ = max(0.1 * mean_demand, 1e-6)
        moving = sku_mean > 0
        self.pooled_variation_ = float(np.median(sku_std[moving] / sku_mean[moving])) if moving.any() else 1.0

        design, level, _, targets = self._rows(train, "train")
        self.residuals_ = None
        if self.forecast_column_ is not None:
            self.regressor_ = None
            logger.debug("point forecasts from the column %r: no regressor fitted", self.forecast_column_)
        else:
            X = design.reshape(-1, design.shape[2])
            y = (targets / level[:, None]).reshape(-1)
            self.regressor_ = clone(self.regressor) if self.regressor is not None else self._default_regressor()
            with self._thread_limit():
                self.regressor_.fit(X, y)
            logger.debug("fitted %s on %d rows x %d columns", type(self.regressor_).__name__, *X.shape)
        if validation is not None:
            self.fit_residuals(validation)
        return self

    def _resolve_inputs(self, train: Any, names: tuple[str, ...]) -> None:
        """``feature_names_``, ``calendar_``, ``freq_`` and ``forecast_column_`` from the
        training data's features and their roles (module docstring)."""
        roles = dict(getattr(train, "feature_roles", {}) or {})
        freq = getattr(train, "freq", None)
        calendar = tuple((n, roles[n].part) for n in names if n in roles and roles[n].role == "calendar")
        if self.forecast is not None and self.forecast not in names:
            raise DataError(f"forecast column {self.forecast!r} is not a feature of the training data; it has "
                            f"{list(names)} (declare your forecast as a feature, e.g. with role 'forecast')")
        self.forecast_column_ = self.forecast
        mode = self.calendar
        if mode == "auto":
            if calendar:
                mode = "features"
            elif freq is not None and self.forecast is None:
                raise DataError(
                    f"the training data has dates ({'daily' if freq == 'D' else 'weekly'} periods) but no calendar "
                    "feature, so the forecaster's weekday would be the period index modulo 7 counted from the start of "
                    "each dataset it sees (a window starting on another day shifts every weekday): add calendar "
                    "features with dataset.with_calendar_features(['weekday']) (orkit: --calendar weekday), or "
                    "pass calendar='periods' to use the period index knowingly")
            else:
                mode = "periods"
        if mode == "features" and not calendar:
            raise DataError(f"calendar='features' needs features of role 'calendar' in the training data; it has "
                            f"{list(names) or 'no features'} (add them with dataset.with_calendar_features(...))")
        self.calendar_ = calendar if mode == "features" else ()
        self.freq_ = freq
        used = {n for n, _ in self.calendar_}
        self.feature_names_ = tuple(n for n in names if n not in used) \
            if (self.use_features and names and self.forecast is None) else ()

    def fit_residuals(self, validation: Any) -> "DemandForecaster":
        """Store the standardised forecast residuals of every origin of ``validation``.

        Parameters
        ----------
        validation : Dataset or array of shape (n_skus, n_periods)
            Trajectories not used to fit the regressor.

        Returns
        -------
        self
        """
        check_is_fitted(self, ("horizon_",))
        design, level, spread, targets = self._rows(validation, "validation")
        point = self._predict_design(design, level)
        self.residuals_ = (targets - point) / spread[:, None]
        # rows sorted by their total: stratified sampling then spreads scenarios over the range
        self._residual_order = np.argsort(self.residuals_.sum(axis=1), kind="stable")
        return self

    # ------------------------------------------------------------------ predict
    def _predict_design(self, design: np.ndarray, level: np.ndarray) -> np.ndarray:
        m, horizon, n_columns = design.shape
        if m == 0:
            return np.zeros((0, horizon))
        if self.forecast_column_ is not None:
            return np.maximum(design[:, :, 0], 0.0)
        with self._thread_limit():
            relative = self.regressor_.predict(design.reshape(-1, n_columns)).reshape(m, horizon)
        return np.maximum(relative, 0.0) * level[:, None]

    def predict_with_spread(
        self,
        recent_demand: np.ndarray,
        period: int | np.ndarray,
        features: np.ndarray | None = None,
        feature_names: Sequence[str] = (),
        first_period: int | np.ndarray = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Point forecasts and the spread used to scale residuals.

        Parameters
        ----------
        recent_demand : array of shape (n_skus, window)
            Demand before the origin, oldest first, zero-padded before the first period (the
            layout of :attr:`orkit.core.Observation.recent_demand`).
        period : int or array of shape (n_skus,)
            Origin ``t`` (the review day), used for the history length and the calendar.
        features : array of shape (n_skus, n_features), optional
            Exogenous features ``x_t`` of the origin, named by ``feature_names``.
        feature_names : sequence of str
        first_period : int or array of shape (n_skus,), default=0
            Each SKU's first period (:attr:`orkit.core.Observation.first_period`): its history
            is ``t - first_period`` periods long, not ``t``.

        Returns
        -------
        point : array of shape (n_skus, horizon_)
            Forecast demand of periods ``t, ..., t + H - 1`` [units].
        spread : array of shape (n_skus,)
            Residual scale [sigma, units].
        """
        check_is_fitted(self, ("horizon_",))
        recent = np.asarray(recent_demand, dtype=np.float64)
        if recent.ndim != 2:
            raise ValidationError(f"recent_demand must have shape (n_skus, window), got {recent.shape}")
        if recent.shape[1] < min(self.window, int(np.max(period)) if np.size(period) else 0):
            raise ValidationError(
                f"recent_demand must hold at least window = {self.window} periods of history, got {recent.shape[1]}; "
                f"raise the simulator's demand_window or lower window"
            )
        periods = np.broadcast_to(np.asarray(period, dtype=np.int64), (recent.shape[0],))
        ages = periods - np.broadcast_to(np.asarray(first_period, dtype=np.int64), periods.shape)
        design, level, spread = self._design(recent, periods, ages,
                                             *self._inputs(features, feature_names, "the observation"))
        return self._predict_design(design, level), spread

    def predict(
        self,
        recent_demand: np.ndarray,
        period: int | np.ndarray,
        features: np.ndarray | None = None,
        feature_names: Sequence[str] = (),
        first_period: int | np.ndarray = 0,
    ) -> np.ndarray:
        """Point forecasts of the next ``horizon_`` periods, shape (n_skus, horizon_) [units].

        Parameters are those of :meth:`predict_with_spread`.
        """
        return self.predict_with_spread(recent_demand, period, features, feature_names, first_period)[0]

    def predict_origins(self, data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Backtest: forecasts from every origin of ``data`` (vectorised over SKUs and origins).

        The forecast from origin ``t`` uses only demand before ``t`` and the features of ``t``,
        exactly what :meth:`predict` gets from an observation on review day ``t``.

        Parameters
        ----------
        data : Dataset or array of shape (n_skus, n_periods)

        Returns
        -------
        forecasts : array of shape (n_skus, n_origins, horizon_)
            ``forecasts[i, j, k]`` forecasts ``d_{i, t_j + k}`` [units].
        actuals : array of shape (n_skus, n_origins, horizon_)
            The demand forecast.
        origins : array of shape (n_origins,)
            The origins ``t_j = 1, ..., T - H``.
        """
        check_is_fitted(self, ("horizon_",))
        if hasattr(data, "check_full_lives"):  # one forecast per SKU and origin: a rectangle
            data.check_full_lives("forecasting every origin (predict_origins) of")
        design, level, _, targets = self._rows(data, "data")
        origins = self._origins(int(np.shape(getattr(data, "demand", data))[1]))
        shape = (-1, origins.size, self.horizon_)
        return self._predict_design(design, level).reshape(shape), targets.reshape(shape), origins

    def predict_quantiles(
        self,
        quantiles: Sequence[float],
        recent_demand: np.ndarray,
        period: int | np.ndarray,
        features: np.ndarray | None = None,
        feature_names: Sequence[str] = (),
        first_period: int | np.ndarray = 0,
    ) -> np.ndarray:
        """Empirical quantiles of the demand of each future period (the other parameters are
        those of :meth:`predict_with_spread`).

        ``\\hat d_{t+k} + \\sigma \\, Q_k(q)``, where ``Q_k`` is the empirical quantile of the
        step-``k`` validation residuals; clipped at 0.

        Returns
        -------
        array of shape (len(quantiles), n_skus, horizon_)
        """
        self._check_residuals()
        levels = np.asarray(quantiles, dtype=np.float64)
        if levels.ndim != 1 or np.any((levels < 0) | (levels > 1)):
            raise ValidationError(f"quantiles must be a 1-d sequence in [0, 1], got {quantiles!r}")
        point, spread = self.predict_with_spread(recent_demand, period, features, feature_names, first_period)
        residual_quantiles = np.quantile(self.residuals_, levels, axis=0)  # (Q, H)
        return np.maximum(point[None] + spread[None, :, None] * residual_quantiles[:, None, :], 0.0)

    def sample_scenarios(
        self,
        point: np.ndarray,
        spread: np.ndarray,
        n_scenarios: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Demand scenarios: the forecast plus whole validation residual vectors.

        Each SKU draws ``n_scenarios`` residual vectors independently by stratified sampling:
        the residual rows are sorted by their total over the horizon and split into
        ``n_scenarios`` equal strata, and one row is drawn uniformly from each stratum. This
        keeps the correlation between steps and represents the tails far better than plain
        resampling with the same number of scenarios. Scenarios are clipped at 0.

        Parameters
        ----------
        point : array of shape (n_skus, horizon_)
            Point forecasts [units].
        spread : array of shape (n_skus,)
            Residual scale per SKU [sigma, units].
        n_scenarios : int
            Scenarios per SKU [S].
        rng : numpy.random.Generator

        Returns
        -------
        array of shape (n_skus, n_scenarios, horizon_)
        """
        self._check_residuals()
        n_scenarios = check_int("n_scenarios", n_scenarios, minimum=1)
        n_rows = self.residuals_.shape[0]
        n_skus = point.shape[0]
        strata = (np.arange(n_scenarios)[None, :] + rng.random((n_skus, n_scenarios))) / n_scenarios
        rows = self._residual_order[np.minimum((strata * n_rows).astype(np.int64), n_rows - 1)]
        draws = self.residuals_[rows]  # (n_skus, S, H)
        return np.maximum(point[:, None, :] + spread[:, None, None] * draws, 0.0)

    def _check_residuals(self) -> None:
        check_is_fitted(self, ("horizon_", "residuals_"))
        if self.residuals_.shape[0] == 0:
            raise DataError("the validation data gave no residuals; it needs more than horizon periods")

    # ------------------------------------------------------------------ saving (orkit.core.persistence)
    def _saved(self, prefix: str) -> dict[str, Any]:
        """Parameters (the regressor aside: its owner saves it) and fitted state, for saving.

        The fitted regressor becomes the skops file ``{prefix}regressor_.skops``.
        """
        check_is_fitted(self, ("horizon_",))
        return {
            "parameters": {k: v for k, v in self._params().items() if k != "regressor"},
            "state": {
                "horizon_": self.horizon_,
                "feature_names_": self.feature_names_,
                "level_floor_": self.level_floor_,
                "pooled_variation_": self.pooled_variation_,
                "regressor_": None if self.regressor_ is None else skops_file(f"{prefix}regressor_.skops",
                                                                              self.regressor_),
                "calendar_": [list(pair) for pair in self.calendar_],
                "freq_": self.freq_,
                "forecast_column_": self.forecast_column_,
                "residuals_": self.residuals_,
                "residual_order_": getattr(self, "_residual_order", None),
            },
        }

    @classmethod
    def _from_saved(cls, saved: Any, regressor: Any) -> "DemandForecaster":
        """Inverse of :meth:`_saved`; ``regressor`` is the (unfitted) parameter its owner loaded."""
        if not isinstance(saved, dict) or set(saved) != {"parameters", "state"}:
            raise ValidationError(f"forecaster_ must hold parameters and state, got {saved!r}")
        names = {"horizon_", "feature_names_", "level_floor_", "pooled_variation_", "regressor_", "residuals_",
                 "residual_order_"}
        calendar_names = {"calendar_", "freq_", "forecast_column_"}  # absent from policies saved before them
        state = saved["state"]
        if not isinstance(state, dict) or set(state) not in (names, names | calendar_names):
            raise ValidationError(f"forecaster_ state must hold {', '.join(sorted(names | calendar_names))}, got {state!r}")
        forecaster = cls(regressor, **saved["parameters"])
        forecaster._check_parameters()
        from sklearn.base import BaseEstimator

        calendar = state.get("calendar_", [])
        if not isinstance(calendar, list) or not all(
                isinstance(p, (list, tuple)) and len(p) == 2 and p[1] in CALENDAR_PARTS for p in calendar):
            raise ValidationError(f"forecaster_.calendar_ must hold (feature, calendar part) pairs, got {calendar!r}")
        forecaster.calendar_ = tuple((str(n), str(p)) for n, p in calendar)
        forecaster.freq_ = state.get("freq_")
        if forecaster.freq_ not in (None, "D", "W"):
            raise ValidationError(f"forecaster_.freq_ must be 'D', 'W' or None, got {forecaster.freq_!r}")
        column = state.get("forecast_column_")
        if column is not None and not isinstance(column, str):
            raise ValidationError(f"forecaster_.forecast_column_ must be a feature name or None, got {column!r}")
        forecaster.forecast_column_ = column
        if column is None:
            forecaster.regressor_ = load_skops(state["regressor_"], (BaseEstimator,), "state.forecaster_.regressor_")
            if not hasattr(forecaster.regressor_, "predict"):
                raise ValidationError(f"forecaster_ regressor_ must have predict, got "
                                      f"{type(forecaster.regressor_).__name__}")
        elif state["regressor_"] is not None:
            raise ValidationError("forecaster_.regressor_ must be None with a forecast column")
        else:
            forecaster.regressor_ = None
        forecaster.horizon_ = check_int("forecaster_.horizon_", state["horizon_"], minimum=1)
        names = state["feature_names_"]
        if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
            raise ValidationError(f"forecaster_.feature_names_ must be a tuple of str, got {names!r}")
        forecaster.feature_names_ = names
        forecaster.level_floor_ = check_float("forecaster_.level_floor_", state["level_floor_"], minimum=0,
                                              strict_minimum=True)
        forecaster.pooled_variation_ = check_float("forecaster_.pooled_variation_", state["pooled_variation_"],
                                                   minimum=0)
        residuals, order = state["residuals_"], state["residual_order_"]
        if residuals is None:
            forecaster.residuals_ = None
        else:
            residuals, order = np.asarray(residuals, dtype=np.float64), np.asarray(order)
            if residuals.ndim != 2 or residuals.shape[1] != forecaster.horizon_ or order.shape != (residuals.shape[0],):
                raise ValidationError(
                    f"forecaster_.residuals_ must have shape (n, horizon_ = {forecaster.horizon_}) and residual_order_ "
                    f"shape (n,), got {residuals.shape} and {order.shape}"
                )
            if order.dtype.kind != "i" or (order.size and (order.min() < 0 or order.max() >= residuals.shape[0])):
                raise ValidationError(f"forecaster_.residual_order_ must index the {residuals.shape[0]} residual rows")
            forecaster.residuals_, forecaster._residual_order = residuals, order
        return forecaster


# ---------------------------------------------------------------------------------- accuracy
def forecast_accuracy(forecaster: DemandForecaster, data: Any) -> pd.DataFrame:
    """Accuracy of the point forecasts on every origin of ``data``.

    Parameters
    ----------
    forecaster : DemandForecaster
        A fitted forecaster.
    data : Dataset or array of shape (n_skus, n_periods)
        Trajectories to forecast (usually the test set).

    Returns
    -------
    DataFrame
        One row per step ``k`` (``"step 0"``, ...) and one row ``"all"``; columns ``mae`` (mean
        absolute error [units]), ``bias`` (mean of forecast minus demand [units]; positive means
        over-forecast), ``rmse`` [units], ``mean_demand`` [units] and ``relative_mae``
        (``mae / mean_demand``).

    Examples
    --------
    >>> import numpy as np
    >>> demand = np.random.default_rng(1).poisson(5.0, size=(30, 30)).astype(float)
    >>> forecaster = DemandForecaster(n_lags=2).fit(demand[:20], horizon=2)
    >>> list(forecast_accuracy(forecaster, demand[20:]).index)
    ['step 0', 'step 1', 'all']
    """
    forecasts, actuals, _ = forecaster.predict_origins(data)
    error = (forecasts - actuals).reshape(-1, forecaster.horizon_)
    targets = actuals.reshape(-1, forecaster.horizon_)

    def summary(err: np.ndarray, actual: np.ndarray) -> dict[str, float]:
        mae = float(np.abs(err).mean())
        mean_demand = float(actual.mean())
        return {
            "mae": mae,
            "bias": float(err.mean()),
            "rmse": float(np.sqrt((err**2).mean())),
            "mean_demand": mean_demand,
            "relative_mae": mae / mean_demand if mean_demand > 0 else float("nan"),
        }

    rows = {f"step {k}": summary(error[:, k], targets[:, k]) for k in range(error.shape[1])}
    rows["all"] = summary(error, targets)
    return pd.DataFrame.from_dict(rows, orient="index")
