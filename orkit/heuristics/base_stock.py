"""Base-stock (order-up-to) policies: order the gap between a target level and the position.

The order of SKU ``i`` on a review day is ``q = max(S_i - tot(I), 0)``, where ``S_i`` is the
order-up-to level and ``tot(I)`` the inventory position (on-hand plus pipeline).
"""

from __future__ import annotations

from typing import Any

import torch

from orkit.core.policy import Observation
from orkit.heuristics._params import SkuParameter

__all__ = ["BaseStockPolicy"]


class BaseStockPolicy:
    """Order up to a fixed level [S] on every review day.

    Parameters
    ----------
    level : float, array of shape (n_skus,) or Tensor
        Order-up-to level per SKU (a scalar serves every SKU). A tensor with
        ``requires_grad=True`` receives gradients through a differentiable simulation.

    Examples
    --------
    >>> import torch
    >>> from orkit.core import Observation
    >>> obs = Observation(period=2, on_hand=torch.tensor([3.0, 12.0]),
    ...                   inventory_position=torch.tensor([5.0, 12.0]))
    >>> BaseStockPolicy(10.0).act(obs)
    tensor([5., 0.])
    """

    def __init__(self, level: Any) -> None:
        self.level = level
        self._level = SkuParameter("level", level, minimum=None)

    def act(self, obs: Observation) -> torch.Tensor:
        gap = self._level.like(obs.inventory_position) - obs.inventory_position
        # in place when no graph is recorded: one fresh tensor per period, not two
        return gap.clamp(min=0) if gap.requires_grad else gap.clamp_(min=0)

    def __repr__(self) -> str:
        return f"BaseStockPolicy(level={self._level.summary()})"
