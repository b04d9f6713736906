"""A Gymnasium ``VectorEnv`` over the simulator's dynamics: many SKUs stepped at once with tensors.

Each sub-environment is one SKU trajectory; a step is one call of the simulator's
:func:`~orkit.sim.dynamics.period` for all of them (the single-SKU
:class:`~orkit.sim.gym_env.InventoryEnv` is this env with one sub-environment). Tests check
that rewards equal minus the costs of the batched :func:`~orkit.sim.simulate`, and that the
vector env agrees step by step with ``gymnasium.vector.SyncVectorEnv`` over ``InventoryEnv``.
The state lives in torch tensors on ``device``.

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
from orkit.sim.dynamics import Rules, State, Timing, period
from orkit.sim.ledger import CostRates, period_cost

__all__ = ["InventoryVectorEnv"]


def _where(mask: torch.Tensor, a: State, b: State) -> State:
    """``a`` for the sub-environments in ``mask``, ``b`` for the others."""
    return State(torch.where(mask, a.on_hand, b.on_hand), tuple(torch.where(mask, x, y) for x, y in zip(a.pipeline, b.pipeline)))


class InventoryVectorEnv(VectorEnv):
    """``num_envs`` single-SKU inventory environments stepped together.

    Parameters
    ----------
    demand : array of shape (n_paths, n_periods)
        Demand paths; each reset draws a path per sub-environment with the environment's random
        generator, or takes them from ``options={"paths": [...]}``.
    problem : InventoryProblem
        One lead time and review period; the lead time may be random (one
        :class:`~orkit.core.LeadTimeDistribution` for every path): the draws are those
        :func:`~orkit.sim.simulate` makes on the same demand array (``draw(n_periods, n_paths)``),
        so a path replays the same lead times at every reset and the rewards equal minus the
        ledger's costs on the same orders. Holding, shortage and fixed costs may be given per
        path (one value per row of ``demand``): each sub-environment pays its path's.
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
    Observation of each sub-environment (``L`` the longest lead time when it is random): ``[on_hand, pipeline_1, ..., pipeline_L,
    inventory_position, period / T, features...]`` after the period's arrival. Action: the
    order quantity, shape (num_envs, 1) (used on review days, ignored otherwise). Reward: minus
    the period's holding, shortage and fixed ordering cost, 0 during the warm-up. ``reset`` accepts
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
        if np.ndim(problem.max_order) == 1:
            raise ValidationError(
                "InventoryVectorEnv has one action space Box(0, max_order) for every sub-environment (each plays "
                "any path), so it cannot take a per-SKU max_order; give a problem with one max_order")
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
        self.timing = Timing.of(problem, 1)
        self.L, self.P, self.W = self.timing.lead_time, self.timing.review_period, self.timing.warmup
        self.T = demand.shape[1]
        self.max_order = float(max_order or problem.max_order or 10 * max(demand.max(), 1.0))
        # random lead times: the draws of every (period, path), as simulate draws them on this
        # demand (n_paths SKUs); each sub-environment reads its path's column
        self.rules = Rules.of(problem, self.timing, self.T, demand.shape[0], self.device, max_order=self.max_order)
        try:
            self.rates = CostRates.of(problem, demand.shape[0], self.device, torch.float64)
        except ValidationError as exc:
            raise ValidationError(f"{exc} (per-path costs: one value per row of demand)") from None
        n_feat = 0 if self.features is None else self.features.shape[2]
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(self.L + 3 + n_feat,), dtype=np.float64)
        self.single_action_space = gym.spaces.Box(0.0, self.max_order, shape=(1,), dtype=np.float64)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        n, dev = self.num_envs, self.device
        self.state = State.initial(torch.zeros(n, dtype=torch.float64, device=dev), self.L)
        self._t = torch.zeros(n, dtype=torch.long, device=dev)
        self._path = torch.zeros(n, dtype=torch.long, device=dev)
        self._autoreset = torch.zeros(n, dtype=torch.bool, device=dev)

    # ------------------------------------------------------------------ helpers
    @property
    def pipeline(self) -> torch.Tensor:
        """(num_envs, L): column j arrives in j + 1 periods (the last receives today's order)."""
        return torch.stack(self.state.pipeline + (torch.zeros_like(self.state.on_hand),), 1)[:, : self.L]

    def _rates(self, path: torch.Tensor) -> CostRates:
        """The cost rates of each sub-environment's path."""
        return CostRates(*(r[path] if isinstance(r, torch.Tensor) else r for r in self.rates))

    def _obs(self) -> np.ndarray:
        state = self.state
        parts = [state.on_hand.unsqueeze(1), self.pipeline, state.inventory_position.unsqueeze(1),
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
        initial = State.initial(torch.full_like(self.state.on_hand, float(self.problem.initial_on_hand)), self.L)
        self.state = _where(mask, initial, self.state)
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
        flags = self.timing.flags(t)
        orders = torch.as_tensor(actions.reshape(self.num_envs), device=self.device)
        demand = torch.where(active, self.demand[self._path, t.clamp(max=self.T - 1)], 0.0)
        rules = self.rules.at(t.clamp(max=self.T - 1), self._path)
        state, entries = period(self.state, orders, demand, active & flags.review, rules)
        self.state = _where(active, state, self.state)  # sub-environments being reset do not advance
        cost = period_cost(entries, self._rates(self._path))
        self._t += active.long()
        truncated = active & (self._t >= self.T)
        rows = torch.stack([torch.where(active & flags.counted, -cost, 0.0), entries.order, entries.sales,
                            entries.on_hand, torch.where(active, cost, 0.0), truncated.to(cost.dtype)]).cpu().numpy()
        info = dict(zip(("order", "sales", "on_hand", "cost"), rows[1:5]))
        self._reset_envs(restart, None)
        self._autoreset = truncated.clone()
        terminated = np.zeros(self.num_envs, dtype=bool)
        return self._obs(), rows[0], terminated, rows[5].astype(bool), info
