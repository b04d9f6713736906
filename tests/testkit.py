"""Shared test material, importable from any test (``tests`` is on pytest's pythonpath): tiny
budgets with which every registered policy fits in about a second, and a tiny study."""

import textwrap
from pathlib import Path

import numpy as np
import torch

from orkit.core import Observation

#: registered policies that need integer demand and a lost-sales problem with review period 1
#: (the exact DP and the lost-sales heuristics); the rest fit on DeepStock setting 1
LOST_SALES_ONLY = frozenset({"dp-optimal", "myopic", "myopic2", "vector-base-stock", "better-vector-base-stock",
                             "dual-balancing"})

SMALL = {
    "gradient-boosting-newsvendor": dict(n_estimators=20),
    "weighted-saa-newsvendor": dict(n_neighbors=10),
    "two-stage": dict(n_scenarios=10, n_threads=1),
    "ds": dict(max_epochs=2, hidden_sizes=(8,)),
    "ppo": dict(total_timesteps=280, num_steps=140, hidden_sizes=(8,)),
    "ddpg": dict(total_timesteps=112, learning_starts=56, eval_every=56, batch_size=32, hidden_sizes=(8,)),
}

#: a study that runs in seconds: a fixed base-stock level and a tuned constant order, 2 seeds
TINY_STUDY = """
name = "tiny"
seeds = [0, 1]
[problem]
lead_time = 1
review_period = 1
[data]
generator = "iid-normal"
params = { n_skus = 30, n_periods = 25, mean = 10.0, std = 3.0, seed = 4 }
[[methods]]
name = "base-stock"
label = "base 25"
params = { level = 25.0 }
[[methods]]
name = "constant-order"
label = "constant (tuned)"
search = { quantity = { low = 5.0, high = 15.0 } }
[tuning]
trials = 6
startup_trials = 3
top_k = 2
"""


def write_study(folder: Path, text: str = TINY_STUDY, name: str = "study.toml") -> Path:
    """Write a study file into ``folder``; return its path."""
    path = Path(folder) / name
    path.write_text(textwrap.dedent(text))
    return path


def review_day_observation(test, problem, *, period: int = 8,
                           dtype: torch.dtype = torch.float32, device: str = "cpu") -> Observation:
    """A review-day observation of the test SKUs: varied positions, the features of the day, and
    the demand of the days before it as recent demand."""
    n = test.n_skus

    def tensor(value):
        return torch.as_tensor(np.array(value), dtype=dtype, device=device)

    position = tensor(np.random.default_rng(1).integers(0, 25, n))
    recent = np.pad(np.asarray(test.demand)[:, :period], ((0, 0), (28 - period, 0)))
    return Observation(
        period=period,
        on_hand=position.clone(),
        inventory_position=position,
        pipeline=torch.zeros(n, max(problem.max_lead_time, 1), dtype=dtype, device=device),
        feature_names=test.feature_names,
        features=tensor(test.features[:, period]),
        recent_demand=tensor(recent),
        lead_time=torch.as_tensor(problem.lead_times(n), device=device),
        review_period=torch.as_tensor(problem.review_periods(n), device=device),
    )
