"""A Gymnasium view of the simulator: one SKU, stepped one period at a time.

The batched :func:`~orkit.sim.simulate` is the product's engine; this adapter exists for code
that expects the Gymnasium API (e.g. stable-baselines3). It is
:class:`~orkit.sim.gym_vector.InventoryVectorEnv` with one sub-environment, so a step is one
call of the simulator's :func:`~orkit.sim.dynamics.period`; a test checks that its rewards
equal minus the ledger's costs on the same demand and orders.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from orkit.core.errors import ValidationError
from orkit.core.problem import InventoryProblem
from orkit.sim.gym_vector import InventoryVectorEnv

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
    ignored otherwise). Reward: minus the period's holding, shortage and fixed ordering cost, 0 during the
    warm-up. The episode is truncated at the end of the demand path. ``info`` holds the
    period's ``order``, ``sales``, end-of-period ``on_hand`` and ``cost``.
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
        self._envs = InventoryVectorEnv(self.demand, problem, num_envs=1, features=self.features, max_order=max_order)
        self.L, self.P, self.W, self.T = self._envs.L, self._envs.P, self._envs.W, self._envs.T
        self.max_order = self._envs.max_order
        self.observation_space = self._envs.single_observation_space
        self.action_space = self._envs.single_action_space

    @property
    def period(self) -> int:
        """The period the next step simulates (``T`` once the episode has ended)."""
        return int(self._envs._t[0])

    @property
    def on_hand(self) -> float:
        """On-hand inventory after this period's arrival."""
        return float(self._envs.state.on_hand[0])

    @property
    def pipeline(self) -> list[float]:
        """What arrives in 1, ..., L periods."""
        return self._envs.pipeline[0].tolist()

    @property
    def inventory_position(self) -> float:
        return float(self._envs.state.inventory_position[0])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "path" in options:
            path = int(options["path"])
        else:
            path = int(self.np_random.integers(self.demand.shape[0]))
        obs, _ = self._envs.reset(options={"paths": [path]})
        return obs[0], {"path": path}

    def step(self, action):
        if self.period >= self.T:
            raise RuntimeError("step() called after the episode ended; call reset()")
        obs, reward, _, truncated, info = self._envs.step(np.asarray(action, dtype=np.float64).reshape(1, 1))
        return obs[0], float(reward[0]), False, bool(truncated[0]), {k: float(v[0]) for k, v in info.items()}
