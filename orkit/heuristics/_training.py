"""Training samples from trajectories: demand arrays, review days, protection windows, features.

Timing follows :mod:`orkit.sim.simulator`: an order placed on review day ``r`` (``r >= P``,
``r % P == 0``) is on hand from period ``r + L`` until the next order arrives at ``r + P + L``.
Under backorders the end-of-period on-hand of period ``r + L + j`` (``j = 0..P-1``) is therefore
``S - D[r..r+L+j]`` for an order-up-to level ``S``: the demand over ``L + 1 + j`` periods starting
on the review day. These *window demands* are what every data-driven newsvendor fits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from orkit import sim
from orkit.core.errors import ValidationError
from orkit.core.policy import Observation
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_int

__all__ = [
    "demand_array",
    "review_days",
    "review_window_demand",
    "review_features",
    "scalar_timing",
    "training_samples",
    "observation_features",
]


def demand_array(data: Any) -> np.ndarray:
    """Demand of a Dataset, array or tensor as a float64 array of shape (n_skus, n_periods)."""
    if hasattr(data, "demand_time_major"):
        data.check_full_lives("fitting a heuristic on")  # zeros outside a life are not demand
        return np.asarray(data.demand, dtype=np.float64)
    if hasattr(data, "detach"):
        data = data.detach().cpu().numpy()
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 2:
        raise ValidationError(f"demand must have shape (n_skus, n_periods), got {arr.shape}")
    if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0):
        raise ValidationError("demand must be finite and >= 0")
    return arr


def scalar_timing(problem: InventoryProblem, who: str) -> tuple[int, int]:
    """``(L, P)`` as ints; per-SKU lead times or review periods are refused with a clear message."""
    if not isinstance(problem, InventoryProblem):
        raise ValidationError(f"problem must be an InventoryProblem, got {type(problem).__name__}")
    if problem.per_sku:
        raise ValidationError(
            f"{who} needs one lead_time and one review_period for all SKUs, got per-SKU values; "
            "fit one policy per group of SKUs"
        )
    return int(problem.lead_time), int(problem.review_period)


def shared_costs(problem: InventoryProblem, who: str, why: str = "its demand law is pooled over SKUs") -> InventoryProblem:
    """``problem`` with one holding, shortage and fixed cost for every SKU, or a clear error
    where they differ by SKU (a policy that solves one problem for all SKUs cannot serve them)."""
    changes: dict[str, float] = {}
    for name in ("holding_cost", "shortage_cost", "fixed_cost"):
        value = getattr(problem, name)
        if np.ndim(value) == 0:
            continue
        if value.size and np.all(value == value[0]):
            changes[name] = float(value[0])
            continue
        raise ValidationError(
            f"{who} solves one problem for every SKU ({why}), so it needs one {name}, got per-SKU values from "
            f"{value.min():g} to {value.max():g}; give one value, or fit one policy per group of SKUs with equal costs"
        )
    return problem.with_(**changes) if changes else problem


def shared_critical_ratio(problem: InventoryProblem, who: str) -> float:
    """The critical ratio ``b / (b + h)`` shared by every SKU, or a clear error where per-SKU
    costs give SKUs different ratios (a policy fitting one quantile model cannot serve them)."""
    q = problem.critical_ratio
    if np.ndim(q) == 0:
        return float(q)
    if q.size and np.all(q == q[0]):
        return float(q[0])
    raise ValidationError(
        f"{who} fits one quantile model at one critical ratio b / (b + h), but the per-SKU holding and shortage "
        f"costs give ratios from {q.min():.4g} to {q.max():.4g}; give costs with one ratio for every SKU, or use "
        "the newsvendor or base-stock policy, which take each SKU's own ratio"
    )


def review_days(n_periods: int, lead_time: int, review_period: int) -> np.ndarray:
    """Review days (:func:`orkit.sim.review_days`) whose whole window ``r .. r + L + P - 1`` is observed."""
    days = sim.review_days(n_periods, review_period)
    return days[days + lead_time + review_period <= n_periods]


def review_window_demand(demand: Any, lead_time: int, review_period: int) -> np.ndarray:
    r"""Demand over the periods each order covers, for every review day of every trajectory.

    ``out[i, k, j] = d[i, r_k] + ... + d[i, r_k + L + j]`` (``L + 1 + j`` periods) for review days
    ``r_k`` (see :func:`review_days`) and ``j = 0..P-1``: under backorders an order-up-to level
    ``S`` leaves ``S - out[i, k, j]`` on hand at the end of period ``r_k + L + j``.

    Parameters
    ----------
    demand : Dataset or array of shape (n_skus, n_periods)
    lead_time : int
        [L] >= 0.
    review_period : int
        [P] >= 1.

    Returns
    -------
    ndarray of shape (n_skus, n_reviews, review_period)

    Examples
    --------
    >>> review_window_demand([[1, 2, 3, 4, 5, 6, 7]], lead_time=1, review_period=2)[0]
    array([[ 7., 12.],
           [11., 18.]])
    """
    d = demand_array(demand)
    days = review_days(d.shape[1], lead_time, review_period)
    cum = np.concatenate([np.zeros((d.shape[0], 1)), np.cumsum(d, axis=1)], axis=1)
    ends = days[:, None] + lead_time + np.arange(review_period)[None, :] + 1  # exclusive end
    return cum[:, ends] - cum[:, days][:, :, None]


def review_features(
    data: Any, days: np.ndarray, feature_names: tuple[str, ...] | None, demand_lags: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Features seen on each review day, shape (n_skus, n_reviews, F), and their names.

    Columns: the named dataset features at period ``r`` (all of them for ``None``), then the
    demand of the ``demand_lags`` periods before ``r`` (most recent first; zero before the start),
    exactly what :class:`~orkit.core.Observation` offers on that day.
    """
    d = demand_array(data)
    available = tuple(getattr(data, "feature_names", ()))
    names = available if feature_names is None else tuple(feature_names)
    missing = [n for n in names if n not in available]
    if missing:
        raise ValidationError(f"features must be among the dataset features {list(available)}, got {missing}")
    columns = []
    if names:
        feats = np.asarray(data.features, dtype=np.float64)
        idx = [available.index(n) for n in names]
        columns.append(feats[:, days][:, :, idx])
    if demand_lags:
        padded = np.concatenate([np.zeros((d.shape[0], demand_lags)), d], axis=1)
        lags = np.stack([padded[:, days + demand_lags - k] for k in range(1, demand_lags + 1)], axis=2)
        columns.append(lags)
    if not columns:
        raise ValidationError("no features to fit on: the dataset has none and demand_lags = 0")
    lag_names = tuple(f"demand_lag{k}" for k in range(1, demand_lags + 1))
    return np.concatenate(columns, axis=2), names + lag_names


def observation_features(obs: Observation, names: tuple[str, ...], demand_lags: int) -> torch.Tensor:
    """The features :func:`review_features` builds, read from an observation (same columns, same order)."""
    columns = []
    if names:
        index = [obs.feature_names.index(n) if n in obs.feature_names else -1 for n in names]
        if -1 in index:
            missing = names[index.index(-1)]
            raise ValidationError(f"feature {missing!r} is not in the observation; it has {list(obs.feature_names)}")
        columns.append(obs.features[:, index])
    if demand_lags:
        recent = obs.recent_demand
        if recent.shape[1] < demand_lags:
            raise ValidationError(
                f"demand_lags={demand_lags} needs a demand window of at least {demand_lags} periods, got {recent.shape[1]}"
            )
        columns.append(recent[:, -demand_lags:].flip(1).to(obs.on_hand.dtype))
    return torch.cat(columns, dim=1)


def training_samples(
    train: Any, problem: InventoryProblem, features: Any, demand_lags: int, who: str
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Rows (review day x window length) for data-driven newsvendors: X (N, F), y (N,), names.

    Every review day contributes ``P`` rows with the same features and the demand over
    ``L + 1 + j`` periods as target, ``j = 0..P-1``: one row per counted period the order covers.
    """
    L, P = scalar_timing(problem, who)
    demand_lags = check_int("demand_lags", demand_lags, minimum=0)
    days = review_days(demand_array(train).shape[1], L, P)
    if days.size == 0:
        raise ValidationError(f"{who}: the training trajectories are too short for one complete review window")
    names = None if features is None else ((features,) if isinstance(features, str) else tuple(features))
    X, names = review_features(train, days, names, demand_lags)
    windows = review_window_demand(train, L, P)  # (n, R, P)
    X = np.repeat(X[:, :, None, :], P, axis=2).reshape(-1, X.shape[-1])
    return X, windows.reshape(-1), names
