"""Recommendation mode: today's state per SKU in, order quantities (and their reasons) out.

This is how a replenishment system uses a policy: no simulation, one decision for every SKU.
The state table has one row per SKU:

===================  ==================================================================
column               meaning
===================  ==================================================================
``sku``              SKU id
``on_hand``          on-hand stock now, after today's arrivals (negative: backlog)
``pipeline_1`` ...   units arriving in 1, 2, ... periods (optional; 0 when absent)
``demand_lag_1`` ... demand 1, 2, ... periods ago (optional; ``recent_demand``)
``period``           today's period index (optional, default 0)
any other number     a feature, passed by name
===================  ==================================================================

The output has ``sku`` and ``order`` and, when the policy can explain itself (an
``explain(obs)`` method), its reasons: e.g. ``target_level`` for base-stock-like (Base/Both)
policies, ``coefficient_*`` for Coeff/Both policies.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from orkit.core.errors import DataError
from orkit.core.policy import Observation, Policy
from orkit.core.problem import InventoryProblem

__all__ = ["read_state", "recommend", "state_observation"]

_PIPE = re.compile(r"^pipeline_(\d+)$")
_LAG = re.compile(r"^demand_lag_(\d+)$")


def read_state(path: str | Path) -> pd.DataFrame:
    """Read a state table (CSV or Parquet) and check it."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"state file {str(path)!r} does not exist")
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, comment="#")
    return check_state(frame)


def check_state(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("sku", "on_hand") if c not in frame.columns]
    if missing:
        raise DataError(f"state table is missing column(s) {missing}; it has {list(frame.columns)}")
    if frame["sku"].duplicated().any():
        raise DataError(f"state table has duplicate sku {frame['sku'][frame['sku'].duplicated()].iloc[0]!r}")
    for col in frame.columns:
        if col == "sku":
            continue
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise DataError(f"state column {col!r} must be numeric, got {frame[col].dtype}")
        if frame[col].isna().any():
            sku = frame["sku"][frame[col].isna()].iloc[0]
            raise DataError(f"state column {col!r} is missing a value for sku {sku!r}")
    bad = [c for c in frame.columns if (_PIPE.match(c) or _LAG.match(c)) and (frame[c] < 0).any()]
    if bad:
        raise DataError(f"state column {bad[0]!r} must be >= 0, got {frame[bad[0]].min()}")
    return frame


def state_observation(frame: pd.DataFrame, problem: InventoryProblem) -> Observation:
    """The :class:`Observation` a policy would see for this state."""
    n = len(frame)
    as_t = lambda values: torch.as_tensor(np.asarray(values, dtype=np.float32))  # noqa: E731
    pipes = sorted((int(m.group(1)), c) for c in frame.columns if (m := _PIPE.match(c)))
    lags = sorted((int(m.group(1)), c) for c in frame.columns if (m := _LAG.match(c)))
    width = max(problem.max_lead_time, pipes[-1][0] if pipes else 0)
    pipeline = torch.zeros(n, width)
    for j, col in pipes:
        pipeline[:, j - 1] = as_t(frame[col])
    on_hand = as_t(frame["on_hand"])
    recent = torch.stack([as_t(frame[c]) for _, c in reversed(lags)], 1) if lags else torch.zeros(n, 0)
    skip = {"sku", "on_hand", "period"} | {c for _, c in pipes} | {c for _, c in lags}
    names = tuple(c for c in frame.columns if c not in skip)
    features = torch.stack([as_t(frame[c]) for c in names], 1) if names else torch.zeros(n, 0)
    period = int(frame["period"].iloc[0]) if "period" in frame.columns and n else 0
    return Observation(
        period=period,
        on_hand=on_hand,
        inventory_position=on_hand + pipeline.sum(1),
        feature_names=names,
        features=features,
        pipeline=pipeline,
        recent_demand=recent,
        lead_time=torch.as_tensor(problem.lead_times(n)),
        review_period=torch.as_tensor(problem.review_periods(n)),
    )


def recommend(policy: Policy, state: pd.DataFrame, problem: InventoryProblem) -> pd.DataFrame:
    """Orders (clipped to ``[0, max_order]``) and explanations for every SKU of ``state``."""
    state = check_state(state)
    obs = state_observation(state, problem)
    with torch.no_grad():
        orders = torch.as_tensor(policy.act(obs)).reshape(-1).float()
        high = problem.max_order if problem.max_order is not None else float("inf")
        orders = orders.clamp(0.0, high)
        out = pd.DataFrame({"sku": state["sku"].to_numpy(), "order": orders.cpu().numpy()})
        explain = getattr(policy, "explain", None)
        if callable(explain):
            for name, value in explain(obs).items():
                value = torch.as_tensor(value).detach().cpu()
                if value.ndim == 0:
                    value = value.expand(len(out))
                if value.ndim == 1:
                    out[name] = value.numpy()
                else:
                    for j in range(value.shape[1]):
                        out[f"{name}_{j}"] = value[:, j].numpy()
    return out
