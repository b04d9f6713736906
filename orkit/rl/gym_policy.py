"""Use a model trained on the Gymnasium adapters (e.g. stable-baselines3) as an orkit Policy.

The model sees exactly the observation of :class:`~orkit.sim.gym_env.InventoryEnv`,
``[on_hand, pipeline_1..L, inventory_position, period / T, features...]``, built from the
simulator's :class:`~orkit.core.Observation` for every SKU at once, and is asked for all SKUs'
orders in one ``predict`` call. orkit does not depend on stable-baselines3: anything with
``predict(observations, deterministic=True) -> (actions, state)`` works.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.policy import Observation
from orkit.core.validation import check_int

__all__ = ["GymModelPolicy", "gym_observation"]


def gym_observation(obs: Observation, *, lead_time: int, horizon: int) -> np.ndarray:
    """The :class:`~orkit.sim.gym_env.InventoryEnv` observation of every SKU, shape (n_skus, L + 3 + F)."""
    parts = [obs.on_hand.unsqueeze(1)]
    if lead_time:
        pipe = obs.pipeline
        if pipe.shape[1] < lead_time:
            pipe = torch.nn.functional.pad(pipe, (0, lead_time - pipe.shape[1]))
        parts.append(pipe[:, :lead_time])
    parts += [obs.inventory_position.unsqueeze(1), torch.full_like(obs.on_hand, obs.period / horizon).unsqueeze(1),
              obs.features]
    return torch.cat([p.to(torch.float64) for p in parts], 1).cpu().numpy()


class GymModelPolicy:
    """An orkit Policy that asks a Gymnasium-trained model for the orders.

    Parameters
    ----------
    model : object with ``predict(observations, deterministic=True)``
        E.g. a stable-baselines3 ``PPO`` or ``DDPG`` trained on ``InventoryEnv``.
    lead_time : int
        The environment's lead time [L] (observation width).
    horizon : int
        The environment's number of periods [T] (the observation holds ``period / T``).
    observation_transform : callable, optional
        Applied to the (n_skus, dim) observation array first, e.g. a ``VecNormalize``'s
        ``normalize_obs``.
    action_transform : callable, optional
        Applied to the model's actions, e.g. the inverse of an action rescaling wrapper.
    deterministic : bool, default=True
    """

    def __init__(self, model: Any, *, lead_time: int, horizon: int,
                 observation_transform: Callable[[np.ndarray], np.ndarray] | None = None,
                 action_transform: Callable[[np.ndarray], np.ndarray] | None = None,
                 deterministic: bool = True) -> None:
        if not hasattr(model, "predict"):
            raise ValidationError(f"model must have a predict(observations) method, got {type(model).__name__}")
        self.model = model
        self.lead_time = check_int("lead_time", lead_time, minimum=0)
        self.horizon = check_int("horizon", horizon, minimum=1)
        self.observation_transform = observation_transform
        self.action_transform = action_transform
        self.deterministic = deterministic

    def act(self, obs: Observation) -> torch.Tensor:
        x = gym_observation(obs, lead_time=self.lead_time, horizon=self.horizon)
        if self.observation_transform is not None:
            x = self.observation_transform(x)
        action, _ = self.model.predict(x, deterministic=self.deterministic)
        if self.action_transform is not None:
            action = self.action_transform(action)
        return torch.as_tensor(np.asarray(action, dtype=np.float64).reshape(obs.n_skus), dtype=obs.on_hand.dtype,
                               device=obs.on_hand.device)

    def __repr__(self) -> str:
        return f"GymModelPolicy(model={type(self.model).__name__}, lead_time={self.lead_time}, horizon={self.horizon})"
