"""Constant-order policy: the same quantity on every review day, whatever the state.

It ignores the state entirely, which makes it a useful floor for learners and, under lost sales,
a strong heuristic: Reiman (2004) and Goldberg et al. (2016, *Math. Oper. Res.* 41(3)) show it
is asymptotically optimal as the lead time grows, and Xin & Goldberg (2016, *Oper. Res.* 64(6))
that its optimality gap decays exponentially in the lead time. Zipkin (2008, *Manuf. Serv.
Oper. Manag.* 10(2)) finds it competitive already for moderate lead times.

Under backorders a constant order drifts (inventory or backlog grows without bound when it
differs from the mean demand), so it is only meaningful for finite horizons there.

**Steady state under lost sales.** With a rate :math:`r` per review period the on-hand is a
random walk with drift :math:`r - E[D_P]` reflected at zero: it has a steady state only when
:math:`r < E[D_P]` (or :math:`r = E[D_P]` for constant demand). :func:`optimize_constant_order`
searches :math:`[0, E[D_P])` with :math:`E[D_P]` the training mean demand of a review period
(per SKU with ``per_sku=True``), and :meth:`ConstantOrderPolicy.fit` refuses a given quantity
outside it. The search is over real rates: the simulator keeps fractional inventory, and with
integer demand the best integer rate can cost far more than the best rate (a rate of 4.6
against 4 or 5 for Poisson(5) demand).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.policy import Observation
from orkit.core.problem import InventoryProblem
from orkit.heuristics._search import (
    SearchedParameter,
    SimulationFittedPolicy,
    grid_search,
    review_interval,
    simulated_losses,
    training_inputs,
    window_max,
)
from orkit.heuristics._training import lived_demand

__all__ = ["ConstantOrderPolicy", "optimize_constant_order"]


def steady_state_rate(data: Any, problem: InventoryProblem, *, per_sku: bool = False) -> np.ndarray:
    """Largest constant order per review period with a steady state under lost sales (module docstring).

    The training mean demand of one review period, :math:`E[D_P]`, per SKU or pooled; just
    below it (by a relative 1e-9) when the demand varies, since the rate :math:`E[D_P]` itself
    is null-recurrent then.

    Returns
    -------
    ndarray of shape (n_skus,) or (1,)
    """
    demand, alive = lived_demand(data)  # the periods each SKU lives only
    n = demand.shape[0]
    review = problem.review_periods(n).astype(np.float64)
    if alive is not None:
        lived = [row[keep] for row, keep in zip(demand, alive)]
        if per_sku:
            mean = np.array([row.mean() for row in lived]) * review
            constant = np.array([bool(np.all(row == row[0])) for row in lived])
        else:
            pooled = demand[alive]
            mean = np.array([float(pooled.mean()) * float(review.mean())])
            constant = np.array([bool(np.all(pooled == pooled[0]))])
    elif per_sku:
        mean, constant = demand.mean(axis=1) * review, demand.std(axis=1) == 0
    else:
        mean = np.array([float(demand.mean()) * float(review.mean())])
        constant = np.array([bool(np.all(demand == demand.flat[0]))]) if demand.size else np.array([True])
    return np.where(constant, mean, mean * (1.0 - 1e-9))


def optimize_constant_order(
    data: Any,
    problem: InventoryProblem,
    *,
    per_sku: bool = False,
    n_candidates: int = 17,
    n_rounds: int = 5,
    integer: bool = False,
) -> np.ndarray:
    """Order quantities that minimise the simulated training loss, one per SKU.

    The search spans ``[0, largest demand of one review period]`` and zooms in (see
    :func:`~orkit.heuristics.optimize_base_stock_level` for the method and the parameters).
    Under lost sales it stays below the mean demand of a review period
    (:func:`steady_state_rate`; module docstring). Real rates by default; ``integer=True``
    searches integers only.

    Returns
    -------
    ndarray of shape (n_skus,)
    """
    problem, demand, alive, life = training_inputs(data, problem)
    n = demand.shape[0]
    review_period = int(problem.review_periods(n).max())
    upper = window_max(demand, review_interval(0, review_period), per_sku) + 1.0
    caps = problem.max_orders(n)
    if caps is not None:  # no order exceeds the cap (each SKU's own, or the largest for a shared quantity)
        upper = np.minimum(upper, caps if per_sku else caps.max(keepdims=True))
    cap = steady_state_rate(demand, problem, per_sku=per_sku) if problem.lost_sales else np.full(upper.shape, np.inf)
    if integer:
        cap = np.floor(cap)  # inf stays inf
    upper = np.minimum(upper, cap)

    def evaluate(grid: dict[str, np.ndarray]) -> np.ndarray:
        clipped = {"quantity": np.minimum(grid["quantity"], cap[:, None])}
        return simulated_losses(ConstantOrderPolicy, clipped, demand, problem, per_sku=per_sku, life=life)

    best, _ = grid_search(evaluate, {"quantity": np.zeros(upper.shape[0])}, {"quantity": upper},
                          n_candidates=n_candidates, n_rounds=n_rounds, integer=bool(integer))
    return np.broadcast_to(np.minimum(best["quantity"], cap), (n,)).copy()


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

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "ConstantOrderPolicy":
        """Optimise the quantity on ``train`` (:func:`optimize_constant_order`); a given quantity is
        kept, and refused under lost sales when it has no steady state (module docstring)."""
        if self.quantity is not None:
            if problem.lost_sales:
                per_sku = np.ndim(self.quantity_) == 1
                limit = steady_state_rate(train, problem, per_sku=per_sku)
                quantity = np.broadcast_to(np.asarray(self.quantity_, dtype=np.float64), limit.shape)
                if np.any(quantity > limit):
                    i = int(np.argmax(quantity > limit))
                    raise ValidationError(
                        f"quantity must be below the mean demand of a review period under lost sales (else the "
                        f"on-hand has no steady state), got {quantity[i]:g} >= {limit[i]:g}"
                    )
            return self
        return super().fit(train, validation, problem)

    def _optimized(self, train: Any, problem: InventoryProblem) -> dict[str, np.ndarray]:
        return {"quantity": optimize_constant_order(train, problem, per_sku=bool(self.per_sku),
                                                    n_candidates=self.n_candidates, n_rounds=self.n_rounds)}

    def act(self, obs: Observation) -> torch.Tensor:
        (quantity,) = self.in_use(obs.on_hand)
        return quantity.expand(obs.n_skus)
