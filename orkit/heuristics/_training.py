"""Training samples from trajectories: demand arrays, review days, protection windows, features.

Timing follows :mod:`orkit.sim.simulator`: an order placed on review day ``r`` (``r >= P``,
``r % P == 0``) is on hand from period ``r + L`` until the next order arrives at ``r + P + L``.
Under backorders the end-of-period on-hand of period ``r + L + j`` (``j = 0..P-1``) is therefore
``S - D[r..r+L+j]`` for an order-up-to level ``S``: the demand over ``L + 1 + j`` periods starting
on the review day. These *window demands* are what every data-driven newsvendor fits.

SKUs that start or end inside the horizon (``Dataset.life``): a SKU's clock starts at its first
period, as in the simulator (:meth:`orkit.sim.dynamics.Timing.flags`), so its review days are
``first + P, first + 2P, ...``, and a review window counts only when it ends by the SKU's last
period. :func:`lived_review_windows` and :func:`training_samples` keep exactly those windows
(a mask, never zeros read as demand); demand lags before a SKU's first period read 0, as before
period 0 of a SKU that lives the whole horizon and as the policy's observation shows them.
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
    "lived_demand",
    "lived_review_windows",
    "pooled_lived_pmf",
    "sku_review_days",
    "review_days",
    "review_window_demand",
    "review_features",
    "scalar_timing",
    "training_samples",
    "observation_features",
]


def demand_array(data: Any, doing: str = "fitting a heuristic on") -> np.ndarray:
    """Demand of a Dataset, array or tensor as a float64 array of shape (n_skus, n_periods).

    For code that reads every period as demand: a Dataset with SKUs that start or end inside
    the horizon is refused (``Dataset.check_full_lives(doing)``); :func:`lived_demand` gives
    the demand with the mask of lived periods instead."""
    if hasattr(data, "demand_time_major"):
        data.check_full_lives(doing)  # zeros outside a life are not demand
        return np.asarray(data.demand, dtype=np.float64)
    return _array_demand(data)


def lived_demand(data: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Demand as :func:`demand_array` and the (n_skus, n_periods) bool mask of the periods each
    SKU lives (``None`` when every SKU lives the whole horizon, and for a bare array)."""
    if hasattr(data, "demand_time_major"):
        demand = np.asarray(data.demand, dtype=np.float64)
        return demand, (None if data.full_lives else data.alive().T.copy())
    return _array_demand(data), None


def sku_lives(data: Any, n_skus: int, n_periods: int) -> tuple[np.ndarray, np.ndarray]:
    """``(first, last)`` per SKU: the dataset's lives, or the whole horizon for a bare array."""
    if hasattr(data, "life"):
        first, last = data.life
        return np.asarray(first, dtype=np.int64), np.asarray(last, dtype=np.int64)
    return np.zeros(n_skus, dtype=np.int64), np.full(n_skus, n_periods - 1, dtype=np.int64)


def pooled_lived_pmf(data: Any) -> np.ndarray:
    """The empirical pmf of the rounded demand pooled over every SKU's lived periods (a mask:
    periods outside a life are left out, not read as zero demand), shape (K + 1,)."""
    from orkit.heuristics.distributions import Discrete

    demand, alive = lived_demand(data)
    samples = np.round(demand).reshape(1, -1)
    if alive is None:
        return Discrete.from_samples(samples).pmf[0]
    return Discrete.from_samples(samples, weights=alive.reshape(1, -1).astype(np.float64)).pmf[0]


def _array_demand(data: Any) -> np.ndarray:
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


def shared_costs(problem: InventoryProblem, who: str, why: str = "its demand law is pooled over SKUs", *,
                 max_order: bool = False) -> InventoryProblem:
    """``problem`` with one holding, shortage and fixed cost for every SKU (and one
    ``max_order`` with ``max_order=True``: a policy whose model bounds the order by it), or a
    clear error where they differ by SKU (a policy that solves one problem for all SKUs cannot
    serve them)."""
    changes: dict[str, float] = {}
    for name in ("holding_cost", "shortage_cost", "fixed_cost", *(("max_order",) if max_order else ())):
        value = getattr(problem, name)
        if np.ndim(value) == 0:
            continue
        if value.size and np.all(value == value[0]):
            changes[name] = float(value[0])
            continue
        raise ValidationError(
            f"{who} solves one problem for every SKU ({why}), so it needs one {name}, got per-SKU values from "
            f"{value.min():g} to {value.max():g}; give one value, or fit one policy per group of SKUs with equal "
            f"{'caps' if name == 'max_order' else 'costs'}"
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


def sku_review_days(first: np.ndarray, last: np.ndarray, lead_time: int, review_period: int,
                    n_periods: int) -> tuple[np.ndarray, np.ndarray]:
    """Each SKU's review days whose whole window ``r .. r + L + P - 1`` lies in its life.

    A SKU's clock starts at its first period (the simulator's rule): its review days are
    ``first + P, first + 2P, ...``. Returns ``days`` of shape (n_skus, R), left-aligned (row
    ``i`` holds SKU ``i``'s days in order, padded with its last valid day or 0), and ``valid``
    (n_skus, R) bool. With every SKU living the whole horizon, every row is :func:`review_days`.
    """
    span = (last - first + 1).astype(np.int64)  # periods lived
    counts = np.maximum((span - lead_time - review_period) // review_period, 0)  # k = 1..count: kP + L + P <= span
    R = int(counts.max()) if counts.size else 0
    k = np.arange(1, R + 1)
    days = first[:, None] + review_period * k[None, :]
    valid = k[None, :] <= counts[:, None]
    days = np.where(valid, days, 0)
    return days.astype(np.int64), valid


def lived_review_windows(data: Any, lead_time: int, review_period: int) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`review_window_demand` for SKUs that start or end inside the horizon.

    A SKU's clock starts at its first period (the simulator's rule): its review days are
    ``first + P, first + 2P, ...``, and a window counts when it ends by the SKU's last period.

    Parameters
    ----------
    data : Dataset or array of shape (n_skus, n_periods)
    lead_time : int
        [L] >= 0.
    review_period : int
        [P] >= 1.

    Returns
    -------
    windows : ndarray of shape (n_skus, R, P)
        Row ``i`` holds the windows of SKU ``i``'s own review days (:func:`sku_review_days`),
        left-aligned; padding entries are 0 and must be left out by ``valid``.
    valid : ndarray of bool, shape (n_skus, R), or None
        The real windows; ``None`` when every SKU lives the whole horizon (``windows`` is then
        exactly :func:`review_window_demand`).

    Examples
    --------
    >>> from orkit.data import Dataset
    >>> ds = Dataset([[0, 0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6, 7]], life=([2, 0], [6, 6]))
    >>> windows, valid = lived_review_windows(ds, lead_time=1, review_period=1)
    >>> windows[:, :, 0].tolist(), valid.tolist()
    ([[5.0, 7.0, 9.0, 0.0, 0.0], [5.0, 7.0, 9.0, 11.0, 13.0]], [[True, True, True, False, False], [True, True, True, True, True]])
    """
    d, alive = lived_demand(data)
    if alive is None:
        return review_window_demand(d, lead_time, review_period), None
    first, last = sku_lives(data, *d.shape)
    days, valid = sku_review_days(first, last, lead_time, review_period, d.shape[1])
    cum = np.concatenate([np.zeros((d.shape[0], 1)), np.cumsum(d, axis=1)], axis=1)
    ends = days[:, :, None] + lead_time + np.arange(review_period)[None, None, :] + 1  # exclusive end
    ends = np.where(valid[:, :, None], ends, days[:, :, None])  # padding: an empty window
    rows = np.arange(d.shape[0])[:, None, None]
    windows = cum[rows, ends] - cum[rows, days[:, :, None]]
    return windows, valid


def check_lived_windows(valid: np.ndarray | None, data: Any, who: str) -> None:
    """A clear error naming the SKUs without one complete review window in their life (a
    per-SKU fit has nothing to fit them on)."""
    if valid is None:
        return
    empty = np.flatnonzero(~valid.any(axis=1))
    if empty.size:
        ids = [str(i) for i in np.asarray(getattr(data, "sku_ids", np.arange(valid.shape[0])))[empty[:5]]]
        more = f" and {empty.size - 5} more" if empty.size > 5 else ""
        raise ValidationError(
            f"{who}: {empty.size} SKU(s) live too briefly in the training data for one complete review window "
            f"(L + P periods after their first review day): {ids}{more}; a per-SKU fit has nothing to fit them on: "
            "fit a pooled policy (per_sku=False), or drop them from the training data"
        )


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
    d = demand_array(demand, "review_window_demand (use lived_review_windows) on")
    days = review_days(d.shape[1], lead_time, review_period)
    cum = np.concatenate([np.zeros((d.shape[0], 1)), np.cumsum(d, axis=1)], axis=1)
    ends = days[:, None] + lead_time + np.arange(review_period)[None, :] + 1  # exclusive end
    return cum[:, ends] - cum[:, days][:, :, None]


def review_features(
    data: Any, days: np.ndarray, feature_names: tuple[str, ...] | None, demand_lags: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Features seen on each review day, shape (n_skus, n_reviews, F), and their names.

    ``days``: review days shared by every SKU (n_reviews,), or each SKU's own (n_skus, n_reviews).

    Columns: the named dataset features at period ``r`` (all of them for ``None``), then the
    demand of the ``demand_lags`` periods before ``r`` (most recent first; zero before the start),
    exactly what :class:`~orkit.core.Observation` offers on that day.
    """
    d, _ = lived_demand(data)  # demand outside a life is 0: a lag before a SKU's first period reads 0
    days = np.asarray(days)
    rows = np.arange(d.shape[0])[:, None]
    if days.ndim == 1:  # one set of review days for every SKU
        days = np.broadcast_to(days, (d.shape[0], days.size))
    available = tuple(getattr(data, "feature_names", ()))
    names = available if feature_names is None else tuple(feature_names)
    missing = [n for n in names if n not in available]
    if missing:
        raise ValidationError(f"features must be among the dataset features {list(available)}, got {missing}")
    columns = []
    if names:
        feats = np.asarray(data.features, dtype=np.float64)
        idx = [available.index(n) for n in names]
        columns.append(feats[rows, days][:, :, idx])
    if demand_lags:
        padded = np.concatenate([np.zeros((d.shape[0], demand_lags)), d], axis=1)
        lags = np.stack([padded[rows, days + demand_lags - k] for k in range(1, demand_lags + 1)], axis=2)
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
    d, alive = lived_demand(train)
    if alive is None:
        days, valid = review_days(d.shape[1], L, P), None
    else:  # each SKU's own review days (its clock starts at its first period), windows inside its life
        days, valid = sku_review_days(*sku_lives(train, *d.shape), L, P, d.shape[1])
    if days.size == 0 or (valid is not None and not valid.any()):
        raise ValidationError(f"{who}: the training trajectories are too short for one complete review window")
    names = None if features is None else ((features,) if isinstance(features, str) else tuple(features))
    X, names = review_features(train, days, names, demand_lags)
    windows, _ = lived_review_windows(train, L, P)  # (n, R, P)
    if valid is not None:  # only the lived windows: (m, F) and (m, P)
        X, windows = X[valid], windows[valid]
    X = np.repeat(X[..., None, :], P, axis=-2).reshape(-1, X.shape[-1])
    return X, windows.reshape(-1), names
