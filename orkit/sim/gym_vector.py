"""A Gymnasium ``VectorEnv`` over the simulator's dynamics: many SKUs stepped at once with tensors.

Each sub-environment is one SKU trajectory with exactly the dynamics, observation, action and
reward of the single-SKU :class:`~orkit.sim.gym_env.InventoryEnv` (a test checks step by step
that both agree with ``gymnasium.vector.SyncVectorEnv`` over ``InventoryEnv``, and that rewards
equal minus the costs of the batched :func:`~orkit.sim.simulate`). The state of all
sub-environments lives in torch tensors on ``device``; a step is a handful of tensor
operations whatever ``num_envs``.

Autoreset follows Gymnasium's default ``NEXT_STEP`` mode: the step after a sub-environment's
episode ends resets it (its action is ignored, its reward is 0) and returns the first
observation of the new episode. Every episode is truncated at the end of its demand path.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from orkit.core.errors import ValidationError
from orkit.core.problem import InventoryProblem

__all__ = ["InventoryVectorEnv"]


class InventoryVectorEnv(VectorEnv):
    """``num_envs`` single-SKU inventory environments stepped together.

    Parameters
    ----------
    demand : array of shape (n_paths, n_periods)
        Demand paths; each reset draws a path per sub-environment with the environment's random
        generator, or takes them from ``options={"paths": [...]}``.
    problem : InventoryProblem
        One lead time and review period.
    num_envs : int
        Number of sub-environments.
    features : array of shape (n_paths, n_periods, n_features), optional
        Appended to the observation.
    max_order : float, optional
        Upper end of the action space (default ``problem.max_order``, else 10 x the largest demand).
    device : str or torch.device, optional
        Where the state tensors live (default CPU).

    Notes
    -----
    Observation of each sub-environment: ``[on_hand, pipeline_1, ..., pipeline_L,
    inventory_position, period / T, features...]`` after the period's arrival. Action: the
    order quantity, shape (num_envs, 1) (used on review days, ignored otherwise). Reward: minus
    the period's holding and shortage cost, 0 during the warm-up. ``reset`` accepts
    ``options={"paths": array of num_envs path indices}`` and
    ``options={"reset_mask": bool array}`` (reset only those sub-environments).

    Examples
    --------
    >>> import numpy as np
    >>> from orkit.core import InventoryProblem
    >>> envs = InventoryVectorEnv(np.full((3, 6), 4.0), InventoryProblem(lead_time=1, review_period=2), num_envs=2)
    >>> obs, info = envs.reset(seed=0)
    >>> obs.shape, envs.single_observation_space.shape
    ((2, 4), (4,))
    >>> obs, reward, terminated, truncated, info = envs.step(np.full((2, 1), 8.0))
    >>> reward.tolist()   # day 0 is warm-up
    [0.0, 0.0]
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, demand: Any, problem: InventoryProblem, *, num_envs: int, features: Any = None,
                 max_order: float | None = None, device: str | torch.device | None = None) -> None:
        if not isinstance(problem, InventoryProblem):
            raise ValidationError(f"problem must be an InventoryProblem, got {type(problem).__name__}")
        if problem.per_sku:
            raise ValidationError("InventoryVectorEnv needs one lead_time and review_period, got per-SKU values")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValidationError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        demand = np.asarray(demand, dtype=np.float64)
        if demand.ndim != 2 or demand.shape[1] == 0 or demand.shape[0] == 0:
            raise ValidationError(f"demand must have shape (n_paths, n_periods), got {demand.shape}")
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.demand = torch.as_tensor(demand, device=self.device)
        self.features = None
        if features is not None:
            features = np.asarray(features, dtype=np.float64)
            if features.ndim != 3 or features.shape[:2] != demand.shape:
                raise ValidationError(
                    f"features must have shape (n_paths, n_periods, n_features) = ({demand.shape[0]}, {demand.shape[1]}, F), "
                    f"got {features.shape}"
                )
            self.features = torch.as_tensor(features, device=self.device)
        self.problem = problem
        self.num_envs = int(num_envs)
        self.L, self.P = int(problem.lead_time), int(problem.review_period)
        self.W = int(problem.warmups(1)[0])
        self.T = demand.shape[1]
        self.max_order = float(max_order or problem.max_order or 10 * max(demand.max(), 1.0))
        n_feat = 0 if self.features is None else self.features.shape[2]
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(self.L + 3 + n_feat,), dtype=np.float64)
        self.single_action_space = gym.spaces.Box(0.0, self.max_order, shape=(1,), dtype=np.float64)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        n, dev = self.num_envs, self.device
        self._on = torch.zeros(n, dtype=torch.float64, device=dev)
        self._pipe = torch.zeros(n, self.L, dtype=torch.float64, device=dev)
        self._t = torch.zeros(n, dtype=torch.long, device=dev)
        self._path = torch.zeros(n, dtype=torch.long, device=dev)
        self._autoreset = torch.zeros(n, dtype=torch.bool, device=dev)

    # ------------------------------------------------------------------ helpers
    def _obs(self) -> np.ndarray:
        parts = [self._on.unsqueeze(1), self._pipe, (self._on + self._pipe.sum(1)).unsqueeze(1),
                 (self._t.to(torch.float64) / self.T).unsqueeze(1)]
        if self.features is not None:
            parts.append(self.features[self._path, self._t.clamp(max=self.T - 1)])
        return torch.cat(parts, 1).cpu().numpy()

    def _reset_envs(self, mask: torch.Tensor, paths: np.ndarray | None) -> None:
        k = int(mask.sum())
        if k == 0:
            return
        if paths is None:
            paths = self.np_random.integers(self.demand.shape[0], size=k)
        chosen = torch.as_tensor(np.asarray(paths, dtype=np.int64), device=self.device)
        if chosen.shape != (k,) or bool(((chosen < 0) | (chosen >= self.demand.shape[0])).any()):
            raise ValidationError(f"paths must hold {k} indices in [0, {self.demand.shape[0]}), got {np.asarray(paths).tolist()}")
        self._path[mask] = chosen
        self._t[mask] = 0
        self._on[mask] = float(self.problem.initial_on_hand)
        self._pipe[mask] = 0.0
        self._autoreset[mask] = False

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        mask = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        if options.get("reset_mask") is not None:
            mask = torch.as_tensor(np.asarray(options["reset_mask"], dtype=bool), device=self.device)
            if mask.shape != (self.num_envs,):
                raise ValidationError(f"reset_mask must have {self.num_envs} entries, got {tuple(mask.shape)}")
        self._reset_envs(mask, options.get("paths"))
        return self._obs(), {"path": self._path.cpu().numpy().copy()}

    def step(self, actions: Any):
        actions = np.asarray(actions, dtype=np.float64)
        if actions.size != self.num_envs:
            raise ValidationError(f"actions must have shape ({self.num_envs}, 1), got {actions.shape}")
        restart = self._autoreset.clone()
        active = ~restart
        t = self._t
        q = torch.as_tensor(actions.reshape(self.num_envs), device=self.device).clamp(0.0, self.max_order)
        review = active & (t >= self.P) & (t % self.P == 0)
        q = torch.where(review, q, torch.zeros_like(q))
        # 2. order: on hand at once (L = 0) or into the pipeline slot arriving in L periods
        if self.L == 0:
            self._on += q
        else:
            self._pipe[:, self.L - 1] += q
        # 3. demand and costs
        d = torch.where(active, self.demand[self._path, t.clamp(max=self.T - 1)], torch.zeros_like(q))
        sales = torch.minimum(self._on.clamp(min=0.0), d)
        if self.problem.lost_sales:
            self._on -= sales
            shortage = d - sales
        else:
            self._on -= d
            shortage = (-self._on).clamp(min=0.0)
        cost = self.problem.holding_cost * self._on.clamp(min=0.0) + self.problem.shortage_cost * shortage
        reward = torch.where(active & (t >= self.W), -cost, torch.zeros_like(cost))
        info = {"order": q.cpu().numpy(), "sales": sales.cpu().numpy(), "cost": torch.where(active, cost, 0.0).cpu().numpy()}
        # next period: 1. arrival
        self._t += active.long()
        if self.L > 0:
            arriving = torch.where(active, self._pipe[:, 0], torch.zeros_like(q))
            self._on += arriving
            shifted = torch.cat([self._pipe[:, 1:], torch.zeros_like(self._pipe[:, :1])], 1)
            self._pipe = torch.where(active.unsqueeze(1), shifted, self._pipe)
        truncated = active & (self._t >= self.T)
        self._reset_envs(restart, None)
        self._autoreset = truncated.clone()
        terminated = np.zeros(self.num_envs, dtype=bool)
        return self._obs(), reward.cpu().numpy(), terminated, truncated.cpu().numpy(), info
