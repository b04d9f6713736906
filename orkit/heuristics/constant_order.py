"""Constant-order policy: the same quantity on every review day, whatever the state.

It ignores the state entirely, which makes it a useful floor for learners and, under lost sales,
a strong heuristic: Reiman (2004) and Goldberg et al. (2016, *Math. Oper. Res.* 41(3)) show it
is asymptotically optimal as the lead time grows, and Xin & Goldberg (2016, *Oper. Res.* 64(6))
that its optimality gap decays exponentially in the lead time. Zipkin (2008, *Manuf. Serv.
Oper. Manag.* 10(2)) finds it competitive already for moderate lead times.

Under backorders a constant order drifts (inventory or backlog grows without bound when it
differs from the mean demand), so it is only meaningful for finite horizons there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from orkit.core.policy import Observation, check_is_fitted
from orkit.core.problem import InventoryProblem
from orkit.heuristics._search import SearchedParameter, SimulationFittedPolicy, fit_by_simulation, review_interval

__all__ = ["ConstantOrderPolicy", "optimize_constant_order"]


def optimize_constant_order(
    data: Any,
    problem: InventoryProblem,
    *,
    per_sku: bool = False,
    n_candidates: int = 17,
    n_rounds: int = 5,
    integer: bool | None = None,
) -> np.ndarray:
    """Order quantities that minimise the simulated training loss, one per SKU.

    The search spans ``[0, largest demand of one review period]`` and zooms in (see
    :func:`~orkit.heuristics.optimize_base_stock_level` for the method and the parameters).

    Returns
    -------
    ndarray of shape (n_skus,)
    """
    return fit_by_simulation(
        ConstantOrderPolicy, data, problem, per_sku=per_sku, n_candidates=n_candidates, n_rounds=n_rounds,
        integer=integer,
    )["quantity"]


class ConstantOrderPolicy(SimulationFittedPolicy):
    """Order a fixed quantity [q] on every review day.

    Parameters
    ----------
    quantity : float, array of shape (n_skus,), Tensor or None, default=None
        Units ordered per review (a scalar serves every SKU); must be >= 0. ``None``: learn it
        with :meth:`fit` (by :func:`optimize_constant_order`).
    per_sku : bool, default=False
        With ``quantity=None``: one quantity per SKU instead of one shared quantity.
    n_candidates, n_rounds : int
        Search settings of :func:`optimize_constant_order`.

    Attributes
    ----------
    quantity_ : float or ndarray
        The quantity in use.
    per_sku_ : bool
        Whether ``quantity_`` holds one quantity per SKU.
    sku_ids_ : ndarray of str or None
        The training SKUs of a per-SKU fit, in the order of ``quantity_`` (see
        :mod:`orkit.core.policy`).

    Examples
    --------
    >>> import torch
    >>> from orkit.core import Observation
    >>> obs = Observation(period=1, on_hand=torch.zeros(3), inventory_position=torch.zeros(3))
    >>> ConstantOrderPolicy([1.0, 2.0, 0.0]).act(obs)
    tensor([1., 2., 0.])
    """

    policy_name = "constant-order"
    _saved_attributes = ("quantity_",)
    _searched = {"quantity": SearchedParameter(minimum=0.0, window=review_interval)}

    def __init__(self, quantity: Any = None, *, per_sku: bool = False, n_candidates: int = 17, n_rounds: int = 5) -> None:
        self.quantity = quantity
        self.per_sku = per_sku
        self.n_candidates = n_candidates
        self.n_rounds = n_rounds
        self._use_given_values()

    #: ``act`` is a pure tensor expression of the observation: compiled simulations trace it in
    fusable = True

    def act(self, obs: Observation) -> torch.Tensor:
        if self._quantity is None:
            check_is_fitted(self, ("quantity_",))
        return self._quantity.like(obs.on_hand).expand(obs.n_skus)
