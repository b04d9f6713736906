"""Constant-order policy: the same quantity on every review day, whatever the state.

Zipkin (2008) shows it is asymptotically optimal for lost sales as the lead time grows.
"""

from __future__ import annotations

from typing import Any

import torch

from orkit.core.policy import Observation
from orkit.heuristics._params import SkuParameter

__all__ = ["ConstantOrderPolicy"]


class ConstantOrderPolicy:
    """Order a fixed quantity [q] on every review day.

    Parameters
    ----------
    quantity : float, array of shape (n_skus,) or Tensor
        Units ordered per review (a scalar serves every SKU); must be >= 0.

    Examples
    --------
    >>> import torch
    >>> from orkit.core import Observation
    >>> obs = Observation(period=1, on_hand=torch.zeros(3), inventory_position=torch.zeros(3))
    >>> ConstantOrderPolicy([1.0, 2.0, 0.0]).act(obs)
    tensor([1., 2., 0.])
    """

    def __init__(self, quantity: Any) -> None:
        self.quantity = quantity
        self._quantity = SkuParameter("quantity", quantity, minimum=0.0)

    def act(self, obs: Observation) -> torch.Tensor:
        return self._quantity.like(obs.on_hand).expand(obs.n_skus)

    def __repr__(self) -> str:
        return f"ConstantOrderPolicy(quantity={self._quantity.summary()})"
