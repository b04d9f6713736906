"""A Gymnasium view of the simulator: one SKU, stepped one period at a time.

The batched :func:`~orkit.sim.simulate` is the product's engine; this adapter exists for code
that expects the Gymnasium API (e.g. stable-baselines3) and as the per-step baseline of
``benchmarks/bench_simulator.py``. It follows the simulator's order of events exactly, and a
test checks that its rewards equal minus the ledger's costs on the same demand and orders.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from orkit.core.errors import ValidationError
from orkit.core.problem import InventoryProblem

__all__ = ["InventoryEnv"]


class InventoryEnv(gym.Env):
    """Single-SKU periodic-review inventory environment.

    Parameters
    ----------
    demand : array of shape (n_paths, n_periods)
        Demand paths; ``reset`` picks one with the environment's random generator (or the one
        given by ``options={"path": i}``).
    problem : InventoryProblem
        Scalar lead time and review period.
    features : array of shape (n_paths, n_periods, n_features), optional
        Appended to the observation.
    max_order : float, optional
        Upper end of the action space (default ``problem.max_order``, else 10 x the largest demand).

    Notes
    -----
    Observation: ``[on_hand, pipeline_1, ..., pipeline_L, inventory_position, period / T,
    features...]`` after the period's arrival. Action: the order quantity (used on review days,
    ignored otherwise). Reward: minus the period's holding and shortage cost, 0 during the
    warm-up. The episode is truncated at the end of the demand path.
    """

    metadata = {"render_modes": []}

    def __init__(self, demand: Any, problem: InventoryProblem, *, features: Any = None,
                 max_order: float | None = None) -> None:
        if problem.per_sku:
            raise ValidationError("InventoryEnv needs one lead_time and review_period, got per-SKU values")
        self.demand = np.asarray(demand, dtype=np.float64)
        if self.demand.ndim != 2 or self.demand.shape[1] == 0:
            raise ValidationError(f"demand must have shape (n_paths, n_periods), got {self.demand.shape}")
        self.features = None if features is None else np.asarray(features, dtype=np.float64)
        self.problem = problem
        self.L, self.P = int(problem.lead_time), int(problem.review_period)
        self.W = int(problem.warmups(1)[0])
        self.T = self.demand.shape[1]
        high = max_order or problem.max_order or float(10 * max(self.demand.max(), 1.0))
        self.max_order = float(high)
        n_feat = 0 if self.features is None else self.features.shape[2]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(self.L + 3 + n_feat,), dtype=np.float64)
        self.action_space = gym.spaces.Box(0.0, self.max_order, shape=(1,), dtype=np.float64)
        self._path = 0
        self._t = 0
        self._on = 0.0
        self._pipe = [0.0] * self.L

    def _obs(self) -> np.ndarray:
        head = [self._on, *self._pipe, self._on + sum(self._pipe), self._t / self.T]
        if self.features is not None:
            t = min(self._t, self.T - 1)
            return np.concatenate([head, self.features[self._path, t]])
        return np.asarray(head, dtype=np.float64)

    def _arrive(self) -> None:
        if self.L > 0:
            self._on += self._pipe[0]
            self._pipe = self._pipe[1:] + [0.0]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "path" in options:
            self._path = int(options["path"])
        else:
            self._path = int(self.np_random.integers(self.demand.shape[0]))
        self._t = 0
        self._on = float(self.problem.initial_on_hand)
        self._pipe = [0.0] * self.L
        return self._obs(), {"path": self._path}

    def step(self, action):
        t = self._t
        if t >= self.T:
            raise RuntimeError("step() called after the episode ended; call reset()")
        if t >= self.P and t % self.P == 0:
            q = min(max(float(np.asarray(action).reshape(-1)[0]), 0.0), self.max_order)
            if self.L == 0:
                self._on += q
            else:
                self._pipe[self.L - 1] += q
        else:
            q = 0.0
        d = self.demand[self._path, t]
        sales = min(max(self._on, 0.0), d)
        if self.problem.lost_sales:
            self._on -= sales
            shortage = d - sales
        else:
            self._on -= d
            shortage = max(-self._on, 0.0)
        cost = self.problem.holding_cost * max(self._on, 0.0) + self.problem.shortage_cost * shortage
        reward = -cost if t >= self.W else 0.0
        info = {"order": q, "sales": sales, "on_hand": self._on, "cost": cost}
        self._t += 1
        self._arrive()
        truncated = self._t >= self.T
        return self._obs(), reward, False, truncated, info
