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

from orkit.core.errors import ValidationError
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import Observation, check_is_fitted
from orkit.core.skus import check_sku_count, sku_ids_of
from orkit.core.problem import InventoryProblem
from orkit.heuristics._params import SkuParameter
from orkit.heuristics._search import grid_search, is_integer_valued, simulated_losses, window_max
from orkit.heuristics._training import demand_array

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
    if not isinstance(problem, InventoryProblem):
        raise ValidationError(f"problem must be an InventoryProblem, got {type(problem).__name__}")
    demand = demand_array(data)
    n = demand.shape[0]
    if n == 0:
        raise ValidationError("data must hold at least one trajectory")
    if integer is None:
        integer = is_integer_valued(demand)
    upper = window_max(demand, int(problem.review_periods(n).max()), per_sku) + 1.0
    best, _ = grid_search(
        lambda grid: simulated_losses(lambda quantity: ConstantOrderPolicy(quantity), grid, demand, problem, per_sku=per_sku),
        {"quantity": np.zeros(upper.shape[0])},
        {"quantity": upper},
        n_candidates=n_candidates,
        n_rounds=n_rounds,
        integer=bool(integer),
    )
    return np.broadcast_to(best["quantity"], (n,)).copy()


class ConstantOrderPolicy(SavablePolicy):
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

    def __init__(self, quantity: Any = None, *, per_sku: bool = False, n_candidates: int = 17, n_rounds: int = 5) -> None:
        self.quantity = quantity
        self.per_sku = per_sku
        self.n_candidates = n_candidates
        self.n_rounds = n_rounds
        self._use_given_quantity()

    def _use_given_quantity(self) -> None:
        # a given quantity is validated at once: it is used without fit
        self._quantity = None
        if self.quantity is not None:
            self._quantity = SkuParameter("quantity", self.quantity, minimum=0.0)
            self.quantity_ = self.quantity
            self.per_sku_, self.sku_ids_ = self._quantity.value.ndim == 1, None

    def _parameters_changed(self, names: set[str]) -> None:
        if "quantity" in names:
            for name in ("quantity_", "per_sku_", "sku_ids_"):
                self.__dict__.pop(name, None)
            self._use_given_quantity()

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "ConstantOrderPolicy":
        """Optimise the quantity on ``train`` by simulation (a no-op when ``quantity`` was given)."""
        if self.quantity is not None:
            return self
        values = optimize_constant_order(
            train, problem, per_sku=bool(self.per_sku), n_candidates=self.n_candidates, n_rounds=self.n_rounds
        )
        self.quantity_ = values if self.per_sku else float(values[0])
        self.per_sku_ = bool(self.per_sku)
        self.sku_ids_ = sku_ids_of(train) if self.per_sku else None
        self._quantity = SkuParameter("quantity", self.quantity_, minimum=0.0)
        return self

    def _restore_state(self, state: dict[str, Any]) -> None:
        super()._restore_state(state)
        self._quantity = SkuParameter("quantity", self.quantity_, minimum=0.0)
        check_sku_count("quantity_", self.quantity_, self.sku_ids_)

    def act(self, obs: Observation) -> torch.Tensor:
        if self._quantity is None:
            check_is_fitted(self, ("quantity_",))
        return self._quantity.like(obs.on_hand).expand(obs.n_skus)
