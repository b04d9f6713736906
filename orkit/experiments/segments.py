"""Movers: fast, slow and intermittent SKUs, from their demand alone.

A SKU's profile is its mean demand per period and its share of periods without demand, both
over the whole trajectory it is scored on (the test split's horizon in a study). Segments:

- **intermittent**: at least :data:`INTERMITTENT_ZERO_SHARE` (30%) of its periods have no
  demand;
- **fast**: the others whose mean demand is at or above the median mean demand of the others;
- **slow**: the rest (below that median).

The report's per-segment table and the runner's sample paths (one SKU of each segment) read
the same rule, so the SKUs drawn are the segments' typical members, the same for every method.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["INTERMITTENT_ZERO_SHARE", "SEGMENTS", "demand_profile", "assign_segments", "sample_skus"]

#: Share of zero-demand periods from which a SKU is an intermittent mover.
INTERMITTENT_ZERO_SHARE = 0.3

#: The segments, in the order tables and plots show them.
SEGMENTS = ("fast", "slow", "intermittent")


def demand_profile(demand: Any) -> pd.DataFrame:
    """Mean demand and share of zero-demand periods of each SKU.

    Parameters
    ----------
    demand : array of shape (n_skus, n_periods)
        Demand [d_{i,t}] in units per period.

    Returns
    -------
    DataFrame
        Columns ``demand_mean`` (units per period) and ``zero_share`` (0 to 1), one row per SKU
        in the order given (a SKU without periods has NaN for both).

    Examples
    --------
    >>> demand_profile([[0, 2, 0, 2], [5, 5, 5, 5]])
       demand_mean  zero_share
    0          1.0         0.5
    1          5.0         0.0
    """
    demand = np.asarray(demand, dtype=np.float64)
    if demand.ndim != 2:
        raise ValueError(f"demand must have shape (n_skus, n_periods), got shape {demand.shape}")
    if demand.shape[1] == 0:
        nan = np.full(demand.shape[0], np.nan)
        return pd.DataFrame({"demand_mean": nan, "zero_share": nan.copy()})
    return pd.DataFrame({"demand_mean": demand.mean(axis=1), "zero_share": (demand == 0).mean(axis=1)})


def assign_segments(demand_mean: Any, zero_share: Any, *,
                    intermittent_zero_share: float = INTERMITTENT_ZERO_SHARE) -> np.ndarray:
    """The segment of each SKU (see the module docstring): ``"fast"``, ``"slow"`` or ``"intermittent"``.

    Parameters
    ----------
    demand_mean, zero_share : arrays of shape (n_skus,)
        As :func:`demand_profile` returns them.
    intermittent_zero_share : float, default=0.3
        Share of zero-demand periods from which a SKU is intermittent.

    Examples
    --------
    >>> assign_segments([8.0, 1.0, 0.4, 5.0], [0.0, 0.1, 0.6, 0.0]).tolist()
    ['fast', 'slow', 'intermittent', 'fast']
    """
    demand_mean = np.asarray(demand_mean, dtype=np.float64)
    zero_share = np.asarray(zero_share, dtype=np.float64)
    if demand_mean.shape != zero_share.shape or demand_mean.ndim != 1:
        raise ValueError(f"demand_mean and zero_share must be two arrays of shape (n_skus,), got shapes "
                         f"{demand_mean.shape} and {zero_share.shape}")
    intermittent = zero_share >= intermittent_zero_share
    rest = demand_mean[~intermittent]
    median = float(np.median(rest)) if rest.size else np.inf
    segment = np.where(demand_mean >= median, "fast", "slow").astype(object)
    segment[intermittent] = "intermittent"
    return segment


def sample_skus(demand: Any, k: int = 3) -> list[tuple[int, str]]:
    """``k`` SKUs to draw, as ``(row, segment)``: a fast, a slow and an intermittent mover first.

    Each segment's representative is its typical member: the SKU whose mean demand (zero share,
    for intermittent movers) is nearest the segment's median, the first row on ties. Segments
    without SKUs are skipped; beyond one per segment, the next nearest of each segment in turn.

    Examples
    --------
    >>> sample_skus([[9, 11, 10, 10], [1, 2, 1, 2], [0, 0, 0, 3], [20, 20, 19, 21], [2, 1, 1, 1]])
    [(0, 'fast'), (1, 'slow'), (2, 'intermittent')]
    """
    profile = demand_profile(demand)
    segment = assign_segments(profile.demand_mean, profile.zero_share)
    queues = []
    for name in SEGMENTS:
        rows = np.flatnonzero(segment == name)
        key = (profile.zero_share if name == "intermittent" else profile.demand_mean).to_numpy()[rows]
        distance = np.abs(key - np.median(key)) if rows.size else key
        queues.append([(int(rows[i]), name) for i in np.argsort(distance, kind="stable")])
    chosen: list[tuple[int, str]] = []
    while len(chosen) < k and any(queues):
        for queue in queues:
            if queue and len(chosen) < k:
                chosen.append(queue.pop(0))
    return chosen
