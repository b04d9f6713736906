"""Synthetic demand generators: the four DeepStock settings, IID demand and a contextual model.

Every generator is a pure function of its parameters and ``seed``: the same arguments give the
same arrays (``numpy.random.default_rng(seed)``). Each returns a :class:`~orkit.data.Dataset`
whose ``metadata`` records the generator name (``"generator"``), its parameters
(``"parameters"``) and the names of the primary features (``"primary_features"``, the
paper's one feature x_t), plus benchmark values where the generator has them. How each
feature is used is the dataset's :attr:`~orkit.data.Dataset.feature_roles`
(:mod:`orkit.data.schema`): the past means are ``quantity`` features, the forecast means
``forecast`` features, DeepStock setting 1's period index is ``categorical``, every other
feature ``numeric``.

Coeff features (paper section 3, synthetic code details), added by every generator:

- ``demand_mean_past_28``, ``demand_mean_past_7``: mean demand of the last 28 / 7 periods
  before ``t`` (fewer at the start; 0 with no history);
- ``forecast_mean_next_7``, ``forecast_mean_next_28``: the expected mean demand of periods
  ``t, ..., t + 6`` (``t + 27``), truncated at the horizon, plus noise, clipped at 0 — a
  stand-in for a forecast made at the start of period ``t``.

``generate(name, **parameters)`` looks generators up by name in :data:`GENERATORS`.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from orkit.core.errors import ValidationError
from orkit.core.validation import check_choice, check_float, check_int
from orkit.data.dataset import Dataset, _split_counts
from orkit.data.schema import FeatureRole

__all__ = [
    "COEFF_FEATURES",
    "COEFF_ROLES",
    "GENERATORS",
    "contextual",
    "deepstock_setting",
    "generate",
    "iid_normal",
    "iid_poisson",
]

#: Names of the four Coeff features, in the order the Coeff head multiplies them.
COEFF_FEATURES: tuple[str, str, str, str] = (
    "demand_mean_past_28",
    "demand_mean_past_7",
    "forecast_mean_next_7",
    "forecast_mean_next_28",
)

#: The roles of the Coeff features (:mod:`orkit.data.schema`): demand-unit features.
COEFF_ROLES: dict[str, str] = {
    "demand_mean_past_28": "quantity",
    "demand_mean_past_7": "quantity",
    "forecast_mean_next_7": "forecast",
    "forecast_mean_next_28": "forecast",
}

#: The inventory problem of the DeepStock synthetic experiments (paper.md section 5).
DEEPSTOCK_PROBLEM: dict[str, Any] = {
    "lead_time": 1,
    "review_period": 2,
    "holding_cost": 0.1,
    "shortage_cost": 0.9,
    "lost_sales": False,
    "max_order": 100.0,
}

_LEAD_TIME = DEEPSTOCK_PROBLEM["lead_time"]
_REVIEW_PERIOD = DEEPSTOCK_PROBLEM["review_period"]
_AR_BURN_IN = 4 * _REVIEW_PERIOD  # 8 days, as in the authors' code
_SETTING_4_MEAN = 100.0
_Z_90 = NormalDist().inv_cdf(0.9)  # z_{0.9} = 1.2816 for the critical ratio b / (b + h) = 0.9


# ---------------------------------------------------------------------------------- checks
def _check_seed(seed: Any) -> int:
    return check_int("seed", seed, minimum=0)


def _check_range(name: str, value: Any, *, minimum: float | None = None) -> tuple[float, float]:
    """A ``(low, high)`` pair of finite floats with ``low <= high``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) or len(value) != 2:
        raise ValidationError(f"{name} must be a pair (low, high), got {value!r}")
    low = check_float(f"{name}[0]", value[0], minimum=minimum)
    high = check_float(f"{name}[1]", value[1], minimum=minimum)
    if low > high:
        raise ValidationError(f"{name} must have low <= high, got ({low:g}, {high:g})")
    return low, high


def _per_sku(name: str, value: Any, n_skus: int, *, minimum: float) -> np.ndarray:
    """A scalar or one value per SKU as a float64 array of shape (n_skus,)."""
    if np.ndim(value) == 0:
        scalar = value.item() if isinstance(value, np.generic) else value
        return np.full(n_skus, check_float(name, scalar, minimum=minimum))
    array = np.asarray(value)
    if array.ndim != 1 or array.shape[0] != n_skus:
        raise ValidationError(f"{name} must be a scalar or have one value per SKU ({n_skus}), got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise ValidationError(f"{name} must hold numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array) | (array < minimum)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"{name} must be finite and >= {minimum:g}, got {array[i]:g} at sku index {i}")
    return array


def _check_split_sizes(split_sizes: Any, n_skus: int) -> tuple[int, int, int] | None:
    return None if split_sizes is None else _split_counts(split_sizes, n_skus, name="split_sizes")


def _parameter_value(value: Any) -> Any:
    """A parameter as a JSON-like value for metadata."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_parameter_value(v) for v in value]
    return value


# ---------------------------------------------------------------------------------- features
def _trailing_mean(series: np.ndarray, window: int, start: int) -> np.ndarray:
    """Mean of the (up to) ``window`` values before each column ``start, ..., end-1`` of ``series``.

    ``series`` has shape (n_skus, history + T) where the first ``start`` columns are history
    (burn-in). Returns shape (n_skus, T); 0 where there is no earlier value.
    """
    n_skus, total = series.shape
    cumulative = np.zeros((n_skus, total + 1))
    np.cumsum(series, axis=1, out=cumulative[:, 1:])
    position = np.arange(start, total)
    lower = np.maximum(position - window, 0)
    count = position - lower
    sums = cumulative[:, position] - cumulative[:, lower]
    return np.divide(sums, count, out=np.zeros_like(sums), where=count > 0)


def _forward_mean(expected: np.ndarray, window: int) -> np.ndarray:
    """Mean of ``expected[:, t : t + window]`` (truncated at the horizon), shape (n_skus, T)."""
    n_skus, horizon = expected.shape
    cumulative = np.zeros((n_skus, horizon + 1))
    np.cumsum(expected, axis=1, out=cumulative[:, 1:])
    position = np.arange(horizon)
    upper = np.minimum(position + window, horizon)
    return (cumulative[:, upper] - cumulative[:, position]) / (upper - position)


def _coeff_features(
    series: np.ndarray,
    start: int,
    forward_7: np.ndarray,
    forward_28: np.ndarray,
    rng: np.random.Generator,
    *,
    noise_std: float = 0.0,
    relative_noise: float = 0.0,
) -> np.ndarray:
    """The four Coeff features, shape (n_skus, T, 4), in :data:`COEFF_FEATURES` order.

    Forecasts get additive N(0, noise_std^2) noise, or multiplicative (1 + N(0, relative_noise^2))
    noise, and are clipped at 0.
    """
    past_28 = _trailing_mean(series, 28, start)
    past_7 = _trailing_mean(series, 7, start)
    noise = rng.standard_normal((2, *forward_7.shape))
    if relative_noise:
        next_7 = forward_7 * (1.0 + relative_noise * noise[0])
        next_28 = forward_28 * (1.0 + relative_noise * noise[1])
    else:
        next_7 = forward_7 + noise_std * noise[0]
        next_28 = forward_28 + noise_std * noise[1]
    return np.stack([past_28, past_7, np.maximum(next_7, 0.0), np.maximum(next_28, 0.0)], axis=2)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF Phi(x), vectorised, absolute error < 1e-7.

    Abramowitz and Stegun 7.1.26 for erf; numpy has no erf and orkit.data avoids scipy.
    """
    z = np.abs(x) / math.sqrt(2.0)
    k = 1.0 / (1.0 + 0.3275911 * z)
    poly = k * (0.254829592 + k * (-0.284496736 + k * (1.421413741 + k * (-1.453152027 + k * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _censored_normal_mean(mean: Any, std: Any) -> np.ndarray:
    """E[max(0, X)] for X ~ N(mean, std^2), elementwise: mean Phi(mean/std) + std phi(mean/std).

    ``std = 0`` gives ``max(0, mean)``.
    """
    mean, std = np.broadcast_arrays(np.asarray(mean, dtype=float), np.asarray(std, dtype=float))
    out = np.maximum(mean, 0.0)
    positive = std > 0
    if positive.any():
        ratio = mean[positive] / std[positive]
        density = np.exp(-0.5 * ratio**2) / math.sqrt(2.0 * math.pi)
        out[positive] = mean[positive] * _normal_cdf(ratio) + std[positive] * density
    return out


# ---------------------------------------------------------------------------------- DeepStock
def deepstock_setting(
    setting: int,
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_validation: int | None = None,
    n_test: int = 100,
    horizon_cycles: int | None = None,
    sigma_range: tuple[float, float] | None = None,
    forecast_noise_std: float = 3.0,
    reuse_train_sigma: bool = False,
) -> Dataset:
    r"""One of the four synthetic settings of DeepStock (Xie et al., paper.md section 5).

    All settings: review period P = 2, lead time L = 1, backorders, holding cost h = 0.1,
    shortage cost b = 0.9 (``metadata["problem"]``); T = L + P + H P days with H review cycles
    (H = 14, T = 31 for settings 1-3), of which the first L + P are warm-up. Trajectories are
    labelled train / validation / test in that order. Each split draws from its own random
    stream, so the test set does not change when ``n_train`` changes.

    **Setting 1 (INDEP).** LOW[t] = int(clip(N(10, 4^2), 0, 100)), drawn once per day and shared
    by every trajectory of every split (``metadata["low"]``); each trajectory's demand
    d_t ~ uniform integer in {LOW[t], ..., LOW[t] + 4}. Feature ``period_index`` = t // P.
    Split 10 / 10 / 100. Benchmark: an empirical DP on the training demand distribution.

    **Settings 2 and 3 (AR(1)).** Per trajectory phi ~ U(0.3, 0.9), mu ~ U(5, 10),
    sigma ~ U(2, 8) (attributes ``phi``, ``mu``, ``sigma``);
    d_t = max(0, phi d_{t-1} + (1 - phi) mu + eps_t), eps_t ~ N(0, sigma^2), started from
    d_{-1} = mu, with 8 burn-in days generated and dropped. Feature ``demand_lag1`` = d_{t-1}
    (the last burn-in day for t = 0). Split 10 / 10 / 100 (setting 2) or 5 / 5 / 100
    (setting 3). Benchmark: DS trained on the test set (in-sample bound).

    **Setting 4 (IID).** Per trajectory sigma_i ~ U(5, 20); demand only on the day an order
    placed on a review day arrives, t = L + kP for k >= 1 (i.e. t >= L + P and (t - L) % P == 0),
    where d_t = max(0, N(100, sigma_i^2)), and 0 on the other days; T = L + P + H P with
    H in {2, 8, 16, 32, 64} (default 16). Feature ``sigma`` = sigma_i (constant over time);
    attributes ``demand_std`` = sigma_i and ``optimal_base_stock`` = 100 + z_0.9 sigma_i
    (z_0.9 = 1.2816), the optimal base-stock level. Split N / N / 100, N in {5, 10, 20}.

    Every setting also has the four Coeff features (module docstring). The forecast means use
    the expected demand given the generator: LOW[t] + 2 (setting 1); the AR(1) conditional mean
    path mu + phi^{k+1} (d_{t-1} - mu) for day t + k (settings 2-3, ignoring the clip at 0);
    E[max(0, N(100, sigma_i^2))] on demand days and 0 otherwise (setting 4). Noise N(0, 3^2).

    Parameters
    ----------
    setting : {1, 2, 3, 4}
    seed : int, default=0
        Seed of ``numpy.random.default_rng``.
    n_train : int, optional
        Training trajectories; default 10 (settings 1, 2, 4) or 5 (setting 3).
    n_validation : int, optional
        Validation trajectories; default ``n_train``.
    n_test : int, default=100
        Test trajectories.
    horizon_cycles : int, optional
        Review cycles after warm-up [H]; default 14 (settings 1-3, T = 31) or 16 (setting 4).
    sigma_range : (float, float), optional
        Range of the uniform sigma draw; default (2, 8) for settings 2-3, (5, 20) for setting 4.
    forecast_noise_std : float, default=3.0
        Standard deviation of the noise on the forecast features.
    reuse_train_sigma : bool, default=False
        Setting 4 only: as in the authors' code, validation trajectories reuse the training
        sigmas and test trajectories cycle through them in blocks (``n_test = 100 * n_train``
        reproduces the code's 100 test trajectories per training sigma).

    Returns
    -------
    Dataset
        ``n_train + n_validation + n_test`` trajectories with split labels.

    Examples
    --------
    >>> ds = deepstock_setting(1, seed=0)
    >>> ds.n_skus, ds.n_periods, ds.feature_names[0]
    (120, 31, 'period_index')
    """
    setting = check_int("setting", setting)
    if setting not in (1, 2, 3, 4):
        raise ValidationError(f"setting must be one of 1, 2, 3, 4, got {setting}")
    seed = _check_seed(seed)
    if n_train is None:
        n_train = 5 if setting == 3 else 10
    n_train = check_int("n_train", n_train, minimum=1)
    n_validation = check_int("n_validation", n_train if n_validation is None else n_validation, minimum=0)
    n_test = check_int("n_test", n_test, minimum=0)
    if horizon_cycles is None:
        horizon_cycles = 16 if setting == 4 else 14
    horizon_cycles = check_int("horizon_cycles", horizon_cycles, minimum=1)
    if setting == 1 and sigma_range is not None:
        raise ValidationError(f"sigma_range applies to settings 2, 3 and 4 only, got {sigma_range!r} for setting 1")
    if sigma_range is None:
        sigma_range = (5.0, 20.0) if setting == 4 else (2.0, 8.0)
    sigma_range = _check_range("sigma_range", sigma_range, minimum=0)
    forecast_noise_std = check_float("forecast_noise_std", forecast_noise_std, minimum=0)
    if not isinstance(reuse_train_sigma, (bool, np.bool_)):
        raise ValidationError(f"reuse_train_sigma must be True or False, got {reuse_train_sigma!r}")
    if reuse_train_sigma and setting != 4:
        raise ValidationError(f"reuse_train_sigma applies to setting 4 only, got setting {setting}")

    horizon = _LEAD_TIME + _REVIEW_PERIOD + horizon_cycles * _REVIEW_PERIOD
    sizes = (n_train, n_validation, n_test)
    shared_rng, *split_rngs = np.random.default_rng(seed).spawn(4)
    metadata: dict[str, Any] = {
        "generator": f"deepstock-{setting}",
        "parameters": {
            "setting": setting,
            "seed": seed,
            "n_train": n_train,
            "n_validation": n_validation,
            "n_test": n_test,
            "horizon_cycles": horizon_cycles,
            "forecast_noise_std": forecast_noise_std,
        },
        "problem": dict(DEEPSTOCK_PROBLEM),
    }
    roles: dict[str, Any] = dict(COEFF_ROLES)
    if setting == 4:
        # The authors size the order cap "based on lead time and max demand" (config/global.yaml:
        # max_replenish = 100 for settings 1-3, whose daily demand is below 30). Setting 4 needs
        # about 100 units per cycle, so a cap of 100 would bind and make the analytic optimum
        # 100 + 1.2816 sigma unreachable: no cap here.
        metadata["problem"]["max_order"] = None
    if setting != 1:
        metadata["parameters"]["sigma_range"] = list(sigma_range)
    if setting == 4:
        metadata["parameters"]["reuse_train_sigma"] = bool(reuse_train_sigma)

    blocks = []
    if setting == 1:
        low = np.clip(shared_rng.normal(10.0, 4.0, size=horizon), 0, 100).astype(np.int64)
        for rng, n in zip(split_rngs, sizes):
            blocks.append(_independent_block(rng, n, low, forecast_noise_std))
        # the period index names a day whose demand level is drawn at random: a category
        roles["period_index"] = FeatureRole("categorical", categories=tuple(range((horizon - 1) // _REVIEW_PERIOD + 1)))
        metadata.update(
            primary_features=["period_index"],
            low=low.tolist(),
            benchmark="empirical dynamic program on the training demand distribution (backorders)",
        )
    elif setting in (2, 3):
        for rng, n in zip(split_rngs, sizes):
            blocks.append(_autoregressive_block(rng, n, horizon, sigma_range, forecast_noise_std))
        metadata.update(
            primary_features=["demand_lag1"],
            burn_in_days=_AR_BURN_IN,
            benchmark="DS trained on the test set (in-sample bound)",
        )
    else:
        train_sigma = None
        for label, rng, n in zip(("train", "validation", "test"), split_rngs, sizes):
            sigma = None
            if reuse_train_sigma and label == "validation":
                sigma = np.resize(train_sigma, n)
            elif reuse_train_sigma and label == "test":
                sigma = np.repeat(train_sigma, -(-n // n_train))[:n]
            block = _iid_cycle_block(rng, n, horizon, sigma_range, forecast_noise_std, sigma)
            if label == "train":
                train_sigma = block[2]["demand_std"]
            blocks.append(block)
        demand_days = _setting_4_demand_days(horizon)
        metadata.update(
            primary_features=["sigma"],
            demand_mean=_SETTING_4_MEAN,
            z_90=_Z_90,
            demand_days=np.flatnonzero(demand_days).tolist(),
            benchmark="optimal base stock 100 + z_0.9 sigma (attribute optimal_base_stock) and its SAA version",
        )

    demand = np.concatenate([b[0] for b in blocks], axis=0)
    features = np.concatenate([b[1] for b in blocks], axis=0)
    attributes = {key: np.concatenate([b[2][key] for b in blocks]) for key in blocks[0][2]}
    primary = metadata["primary_features"]
    return Dataset(
        demand,
        features,
        (*primary, *COEFF_FEATURES),
        attributes=attributes,
        split=np.repeat(["train", "validation", "test"], sizes),
        name=f"deepstock-{setting}",
        metadata=metadata,
        feature_roles=roles,
    )


def _independent_block(
    rng: np.random.Generator, n_skus: int, low: np.ndarray, forecast_noise_std: float
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Setting 1: d_t uniform on {LOW[t], ..., LOW[t] + 4}."""
    horizon = low.shape[0]
    demand = (low + rng.integers(0, 5, size=(n_skus, horizon))).astype(np.float64)
    period_index = np.broadcast_to(np.arange(horizon) // _REVIEW_PERIOD, (n_skus, horizon))
    expected = np.broadcast_to(low + 2.0, (n_skus, horizon))
    coeff = _coeff_features(
        demand, 0, _forward_mean(expected, 7), _forward_mean(expected, 28), rng, noise_std=forecast_noise_std
    )
    return demand, np.concatenate([period_index[:, :, None], coeff], axis=2), {}


def _autoregressive_block(
    rng: np.random.Generator,
    n_skus: int,
    horizon: int,
    sigma_range: tuple[float, float],
    forecast_noise_std: float,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Settings 2-3: d_t = max(0, phi d_{t-1} + (1 - phi) mu + N(0, sigma^2)) from d_{-1} = mu."""
    phi = rng.uniform(0.3, 0.9, size=n_skus)
    mu = rng.uniform(5.0, 10.0, size=n_skus)
    sigma = rng.uniform(*sigma_range, size=n_skus)
    innovation = rng.standard_normal((n_skus, _AR_BURN_IN + horizon)) * sigma[:, None]
    series = np.empty((n_skus, _AR_BURN_IN + horizon))
    previous = mu.copy()
    drift = (1.0 - phi) * mu
    for day in range(_AR_BURN_IN + horizon):  # the recursion needs a loop over days (not SKUs)
        previous = np.maximum(0.0, phi * previous + drift + innovation[:, day])
        series[:, day] = previous
    demand = series[:, _AR_BURN_IN:]
    lag = series[:, _AR_BURN_IN - 1 : -1]

    def conditional_forward_mean(window: int) -> np.ndarray:
        # mean over k = 0..K-1 of E[d_{t+k} | d_{t-1}] = mu + phi^(k+1) (d_{t-1} - mu), K truncated at T
        days = np.minimum(window, horizon - np.arange(horizon))
        ratio = phi[:, None]
        geometric = ratio * (1.0 - ratio ** days) / ((1.0 - ratio) * days)
        return mu[:, None] + (lag - mu[:, None]) * geometric

    coeff = _coeff_features(
        series,
        _AR_BURN_IN,
        conditional_forward_mean(7),
        conditional_forward_mean(28),
        rng,
        noise_std=forecast_noise_std,
    )
    features = np.concatenate([lag[:, :, None], coeff], axis=2)
    return demand, features, {"phi": phi, "mu": mu, "sigma": sigma}


def _setting_4_demand_days(horizon: int) -> np.ndarray:
    day = np.arange(horizon)
    return (day >= _LEAD_TIME + _REVIEW_PERIOD) & ((day - _LEAD_TIME) % _REVIEW_PERIOD == 0)


def _iid_cycle_block(
    rng: np.random.Generator,
    n_skus: int,
    horizon: int,
    sigma_range: tuple[float, float],
    forecast_noise_std: float,
    sigma: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Setting 4: d_t = max(0, N(100, sigma_i^2)) on the arrival day of each cycle, else 0."""
    drawn = rng.uniform(*sigma_range, size=n_skus)  # drawn even when reused: the stream stays aligned
    sigma = drawn if sigma is None else np.asarray(sigma, dtype=float)
    demand_days = _setting_4_demand_days(horizon)
    demand = np.zeros((n_skus, horizon))
    draws = rng.standard_normal((n_skus, int(demand_days.sum())))
    demand[:, demand_days] = np.maximum(0.0, _SETTING_4_MEAN + sigma[:, None] * draws)
    expected = np.where(demand_days, _censored_normal_mean(_SETTING_4_MEAN, sigma)[:, None], 0.0)
    coeff = _coeff_features(
        demand, 0, _forward_mean(expected, 7), _forward_mean(expected, 28), rng, noise_std=forecast_noise_std
    )
    sigma_feature = np.broadcast_to(sigma[:, None, None], (n_skus, horizon, 1))
    attributes = {"demand_std": sigma, "optimal_base_stock": _SETTING_4_MEAN + _Z_90 * sigma}
    return demand, np.concatenate([sigma_feature, coeff], axis=2), attributes


# ---------------------------------------------------------------------------------- IID
def iid_normal(
    n_skus: int,
    n_periods: int,
    *,
    mean: float | Sequence[float] = 10.0,
    std: float | Sequence[float] = 3.0,
    seed: int = 0,
    split_sizes: Sequence[float] | None = None,
    forecast_relative_noise: float = 0.1,
) -> Dataset:
    r"""IID normal demand censored at 0: d_{i,t} = max(0, N(mean_i, std_i^2)).

    Parameters
    ----------
    n_skus, n_periods : int
        Number of trajectories and of periods [T].
    mean : float or array of shape (n_skus,), default=10.0
        Mean of the normal before censoring [mu_i], >= 0.
    std : float or array of shape (n_skus,), default=3.0
        Standard deviation [sigma_i], >= 0.
    seed : int, default=0
    split_sizes : three numbers, optional
        Train / validation / test counts or fractions, assigned by a seeded permutation
        (:meth:`Dataset.random_split`); ``None`` leaves the split unassigned.
    forecast_relative_noise : float, default=0.1
        Forecast features are the expected mean E[max(0, N(mu_i, sigma_i^2))] times
        (1 + N(0, forecast_relative_noise^2)).

    Returns
    -------
    Dataset
        Attributes ``demand_mean`` and ``demand_std``; the four Coeff features.
    """
    n_skus = check_int("n_skus", n_skus, minimum=1)
    n_periods = check_int("n_periods", n_periods, minimum=1)
    means = _per_sku("mean", mean, n_skus, minimum=0)
    stds = _per_sku("std", std, n_skus, minimum=0)
    seed = _check_seed(seed)
    counts = _check_split_sizes(split_sizes, n_skus)
    forecast_relative_noise = check_float("forecast_relative_noise", forecast_relative_noise, minimum=0)

    rng = np.random.default_rng(seed)
    demand = np.maximum(0.0, means[:, None] + stds[:, None] * rng.standard_normal((n_skus, n_periods)))
    expected = np.broadcast_to(_censored_normal_mean(means, stds)[:, None], (n_skus, n_periods))
    parameters = {"n_skus": n_skus, "n_periods": n_periods, "mean": mean, "std": std, "seed": seed,
                  "split_sizes": split_sizes, "forecast_relative_noise": forecast_relative_noise}
    return _iid_dataset("iid-normal", demand, expected, rng, parameters, counts, seed, forecast_relative_noise,
                        {"demand_mean": means, "demand_std": stds})


def iid_poisson(
    n_skus: int,
    n_periods: int,
    *,
    rate: float | Sequence[float],
    seed: int = 0,
    split_sizes: Sequence[float] | None = None,
    forecast_relative_noise: float = 0.1,
) -> Dataset:
    r"""IID Poisson demand: d_{i,t} ~ Poisson(rate_i).

    Parameters
    ----------
    n_skus, n_periods : int
        Number of trajectories and of periods [T].
    rate : float or array of shape (n_skus,)
        Mean demand per period [lambda_i], >= 0.
    seed : int, default=0
    split_sizes : three numbers, optional
        As in :func:`iid_normal`.
    forecast_relative_noise : float, default=0.1
        Forecast features are lambda_i times (1 + N(0, forecast_relative_noise^2)).

    Returns
    -------
    Dataset
        Attribute ``demand_rate``; the four Coeff features.
    """
    n_skus = check_int("n_skus", n_skus, minimum=1)
    n_periods = check_int("n_periods", n_periods, minimum=1)
    rates = _per_sku("rate", rate, n_skus, minimum=0)
    seed = _check_seed(seed)
    counts = _check_split_sizes(split_sizes, n_skus)
    forecast_relative_noise = check_float("forecast_relative_noise", forecast_relative_noise, minimum=0)

    rng = np.random.default_rng(seed)
    demand = rng.poisson(rates[:, None], size=(n_skus, n_periods)).astype(np.float64)
    expected = np.broadcast_to(rates[:, None], (n_skus, n_periods))
    parameters = {"n_skus": n_skus, "n_periods": n_periods, "rate": rate, "seed": seed,
                  "split_sizes": split_sizes, "forecast_relative_noise": forecast_relative_noise}
    return _iid_dataset("iid-poisson", demand, expected, rng, parameters, counts, seed, forecast_relative_noise,
                        {"demand_rate": rates})


def _iid_dataset(
    generator: str,
    demand: np.ndarray,
    expected: np.ndarray,
    rng: np.random.Generator,
    parameters: dict[str, Any],
    counts: tuple[int, int, int] | None,
    seed: int,
    forecast_relative_noise: float,
    attributes: dict[str, np.ndarray],
) -> Dataset:
    coeff = _coeff_features(
        demand, 0, _forward_mean(expected, 7), _forward_mean(expected, 28), rng,
        relative_noise=forecast_relative_noise,
    )
    metadata = {
        "generator": generator,
        "parameters": {k: _parameter_value(v) for k, v in parameters.items()},
        "primary_features": [],
    }
    dataset = Dataset(
        demand, coeff, COEFF_FEATURES, attributes=attributes,
        name=generator, metadata=metadata, feature_roles=COEFF_ROLES,
    )
    return dataset if counts is None else dataset.random_split(counts, seed=seed)


# ---------------------------------------------------------------------------------- contextual
CONTEXTUAL_FEATURES: tuple[str, ...] = (
    "day_of_week_sin",
    "day_of_week_cos",
    "promotion",
    "promotion_depth",
    "price",
    "demand_scale",
)


def contextual(
    n_skus: int,
    n_periods: int,
    *,
    seed: int = 0,
    base_level_median: float = 10.0,
    base_level_log_std: float = 1.0,
    seasonality_amplitude_range: tuple[float, float] = (0.1, 0.4),
    trend_range: tuple[float, float] = (-0.3, 0.3),
    promotion_probability: float = 0.04,
    promotion_length: int = 3,
    promotion_lift_range: tuple[float, float] = (1.5, 3.0),
    dispersion: float | None = None,
    split_sizes: Sequence[float] | None = (0.6, 0.2, 0.2),
    forecast_relative_noise: float = 0.1,
) -> Dataset:
    r"""Demand driven by known context: scale, weekly seasonality, trend and promotions.

    The mean demand of SKU i in period t is

    .. math:: \lambda_{i,t} = b_i \, s_{i,t} \, g_{i,t} \, \ell_{i,t}

    - base level b_i = base_level_median * exp(N(0, base_level_log_std^2)), log-normal so fast
      and slow movers coexist (feature ``demand_scale`` = b_i);
    - weekly seasonality s_{i,t} = 1 + a_i cos(2 pi (w_t - 5) / 7), peak on day 5 of the week,
      with w_t = t mod 7 and a_i ~ U(seasonality_amplitude_range) (features
      ``day_of_week_sin`` / ``day_of_week_cos`` = sin / cos(2 pi w_t / 7));
    - trend g_{i,t} = exp(tau_i (t / (T - 1) - 1/2)), tau_i ~ U(trend_range);
    - promotions: a promotion starts with probability ``promotion_probability`` per period and
      lasts ``promotion_length`` periods with a lift ell ~ U(promotion_lift_range) (overlaps
      take the larger lift), ell = 1 otherwise. Known features: ``promotion`` (0 / 1),
      ``promotion_depth`` = (ell - 1) / 4 (the price discount, so a 25% discount doubles demand)
      and ``price`` = p_i (1 - promotion_depth) with base price p_i = 10 exp(N(0, 0.5^2)).

    Demand d_{i,t} ~ Poisson(lambda_{i,t}), or negative binomial with mean lambda and variance
    lambda + lambda^2 / dispersion when ``dispersion`` is given (a gamma-Poisson mixture). The
    four Coeff features are added; the forecasts are the mean of lambda over the next 7 / 28
    periods (promotions are planned, hence known) times (1 + N(0, forecast_relative_noise^2)).

    Parameters
    ----------
    n_skus, n_periods : int
        Number of trajectories and of periods [T].
    seed : int, default=0
    base_level_median : float, default=10.0
        Median base demand per period over SKUs, > 0.
    base_level_log_std : float, default=1.0
        Standard deviation of log b_i.
    seasonality_amplitude_range : (float, float), default=(0.1, 0.4)
        Range of the weekly amplitude a_i, within [0, 1).
    trend_range : (float, float), default=(-0.3, 0.3)
        Range of the log growth tau_i over the horizon.
    promotion_probability : float, default=0.04
        Probability that a promotion starts in a given period, in [0, 1].
    promotion_length : int, default=3
        Periods a promotion lasts.
    promotion_lift_range : (float, float), default=(1.5, 3.0)
        Range of the multiplicative lift during a promotion, >= 1.
    dispersion : float, optional
        Negative-binomial shape k > 0; ``None`` gives Poisson noise.
    split_sizes : three numbers or None, default=(0.6, 0.2, 0.2)
        Train / validation / test counts or fractions, assigned by a permutation seeded with
        ``seed``; ``None`` leaves the split unassigned.
    forecast_relative_noise : float, default=0.1

    Returns
    -------
    Dataset
        Features :data:`CONTEXTUAL_FEATURES` then the Coeff features; attributes
        ``base_level``, ``seasonality_amplitude``, ``trend``, ``base_price``.
    """
    n_skus = check_int("n_skus", n_skus, minimum=1)
    n_periods = check_int("n_periods", n_periods, minimum=1)
    seed = _check_seed(seed)
    base_level_median = check_float("base_level_median", base_level_median, minimum=0, strict_minimum=True)
    base_level_log_std = check_float("base_level_log_std", base_level_log_std, minimum=0)
    amplitude_range = _check_range("seasonality_amplitude_range", seasonality_amplitude_range, minimum=0)
    if amplitude_range[1] >= 1:
        raise ValidationError(f"seasonality_amplitude_range must lie in [0, 1), got {seasonality_amplitude_range!r}")
    trend_range = _check_range("trend_range", trend_range)
    promotion_probability = check_float("promotion_probability", promotion_probability, minimum=0, maximum=1)
    promotion_length = check_int("promotion_length", promotion_length, minimum=1)
    lift_range = _check_range("promotion_lift_range", promotion_lift_range, minimum=1)
    if dispersion is not None:
        dispersion = check_float("dispersion", dispersion, minimum=0, strict_minimum=True)
    counts = _check_split_sizes(split_sizes, n_skus)
    forecast_relative_noise = check_float("forecast_relative_noise", forecast_relative_noise, minimum=0)

    rng = np.random.default_rng(seed)
    base_level = base_level_median * np.exp(base_level_log_std * rng.standard_normal(n_skus))
    amplitude = rng.uniform(*amplitude_range, size=n_skus)
    trend = rng.uniform(*trend_range, size=n_skus)
    base_price = 10.0 * np.exp(0.5 * rng.standard_normal(n_skus))

    period = np.arange(n_periods)
    weekday = period % 7
    angle = 2.0 * np.pi * weekday / 7.0
    seasonality = 1.0 + amplitude[:, None] * np.cos(2.0 * np.pi * (weekday - 5) / 7.0)
    growth = np.exp(trend[:, None] * (period / max(n_periods - 1, 1) - 0.5))

    starts = rng.random((n_skus, n_periods)) < promotion_probability
    start_lift = np.where(starts, rng.uniform(*lift_range, size=(n_skus, n_periods)), 1.0)
    padded = np.concatenate([np.ones((n_skus, promotion_length - 1)), start_lift], axis=1)
    lift = sliding_window_view(padded, promotion_length, axis=1).max(axis=2)
    promotion = lift > 1.0
    depth = (lift - 1.0) / 4.0
    price = base_price[:, None] * (1.0 - depth)

    mean = base_level[:, None] * seasonality * growth * lift
    if dispersion is None:
        demand = rng.poisson(mean).astype(np.float64)
    else:
        demand = rng.poisson(rng.gamma(dispersion, mean / dispersion)).astype(np.float64)

    context = np.stack(
        [
            np.broadcast_to(np.sin(angle), (n_skus, n_periods)),
            np.broadcast_to(np.cos(angle), (n_skus, n_periods)),
            promotion.astype(np.float64),
            depth,
            price,
            np.broadcast_to(base_level[:, None], (n_skus, n_periods)),
        ],
        axis=2,
    )
    coeff = _coeff_features(
        demand, 0, _forward_mean(mean, 7), _forward_mean(mean, 28), rng, relative_noise=forecast_relative_noise
    )
    metadata = {
        "generator": "contextual",
        "parameters": {
            "n_skus": n_skus,
            "n_periods": n_periods,
            "seed": seed,
            "base_level_median": base_level_median,
            "base_level_log_std": base_level_log_std,
            "seasonality_amplitude_range": list(amplitude_range),
            "trend_range": list(trend_range),
            "promotion_probability": promotion_probability,
            "promotion_length": promotion_length,
            "promotion_lift_range": list(lift_range),
            "dispersion": dispersion,
            "split_sizes": _parameter_value(split_sizes),
            "forecast_relative_noise": forecast_relative_noise,
        },
        "primary_features": list(CONTEXTUAL_FEATURES),
    }
    dataset = Dataset(
        demand,
        np.concatenate([context, coeff], axis=2),
        (*CONTEXTUAL_FEATURES, *COEFF_FEATURES),
        attributes={
            "base_level": base_level,
            "seasonality_amplitude": amplitude,
            "trend": trend,
            "base_price": base_price,
        },
        name="contextual",
        metadata=metadata,
        feature_roles=COEFF_ROLES,
    )
    return dataset if counts is None else dataset.random_split(counts, seed=seed)


# ---------------------------------------------------------------------------------- registry
#: Generators by name; ``generate(name, **parameters)`` calls them.
GENERATORS: dict[str, Callable[..., Dataset]] = {
    "deepstock-1": functools.partial(deepstock_setting, 1),
    "deepstock-2": functools.partial(deepstock_setting, 2),
    "deepstock-3": functools.partial(deepstock_setting, 3),
    "deepstock-4": functools.partial(deepstock_setting, 4),
    "iid-normal": iid_normal,
    "iid-poisson": iid_poisson,
    "contextual": contextual,
}


def generate(name: str, /, **parameters: Any) -> Dataset:
    """Run the generator registered as ``name`` in :data:`GENERATORS` with ``parameters``.

    Raises
    ------
    ValidationError
        Unknown generator name (the message lists the known ones), an unknown or missing
        parameter, or a parameter value that breaks the generator's rules.

    Examples
    --------
    >>> generate("iid-poisson", n_skus=3, n_periods=5, rate=2.0).demand.shape
    (3, 5)
    >>> generate("deepstock-9")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    orkit.core.errors.ValidationError: name must be one of 'deepstock-1', ..., 'contextual', got 'deepstock-9'
    """
    check_choice("name", name, tuple(GENERATORS))
    generator = GENERATORS[name]
    signature = inspect.signature(generator)
    accepted = [
        p.name for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    unknown = [key for key in parameters if key not in accepted]
    if unknown:
        raise ValidationError(
            f"generator {name!r} has no parameter {unknown[0]!r}; it accepts {', '.join(accepted)}"
        )
    missing = [
        p.name for p in signature.parameters.values()
        if p.default is inspect.Parameter.empty and p.name in accepted and p.name not in parameters
    ]
    if missing:
        raise ValidationError(f"generator {name!r} needs parameter(s) {', '.join(map(repr, missing))}")
    return generator(**parameters)
