"""Policy parameters optimised by simulation: a vectorised grid search that zooms in.

Each round evaluates ``K`` candidate values (``K**d`` for ``d`` parameters) for every group in
one batched, lean simulation: the training trajectories are repeated ``K`` times and row
``i * K + k`` runs candidate ``k`` on trajectory ``i``. A group is one SKU (``per_sku=True``:
each SKU gets its own parameters, scored on its own trajectory) or all SKUs together (one
shared parameter vector scored on the mean loss, the DeepStock loss). The next round searches a
grid one spacing either side of the best candidate, so the resolution shrinks by
``(K - 1) / 2`` per round. The simulated cost uses common random numbers (the same
trajectories for every candidate), so comparisons are exact for the sample; the search finds
the global minimum of the sample cost when it is unimodal along each grid line (true for
base-stock levels under backorders, where the sample cost is convex and piecewise linear).

:func:`fit_by_simulation` runs that search for the parameters of a policy class, and
:class:`SimulationFittedPolicy` is what the policies fitted that way (base-stock, capped
base-stock, constant order) share: parameters that are given or fitted, ``fit``, and restoring
a saved fit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import check_is_fitted
from orkit.core.problem import InventoryProblem
from orkit.core.skus import check_sku_count, sku_ids_of
from orkit.core.validation import check_int
from orkit.evaluation.metrics import per_sku_loss
from orkit.heuristics._params import SkuParameter
from orkit.heuristics._training import lived_demand, sku_lives
from orkit.sim import SimulationInput, simulate

__all__ = [
    "SearchedParameter",
    "SimulationFittedPolicy",
    "fit_by_simulation",
    "grid_search",
    "is_integer_valued",
    "protection_interval",
    "review_interval",
    "simulated_losses",
    "window_max",
]

logger = logging.getLogger(__name__)


def is_integer_valued(demand: np.ndarray) -> bool:
    return bool(demand.size and np.all(demand == np.round(demand)))


def window_max(demand: np.ndarray, window: int, per_sku: bool) -> np.ndarray:
    """Largest demand over ``window`` consecutive periods, per SKU or overall (shape (G,))."""
    n, T = demand.shape
    window = max(1, min(window, T))
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(demand, axis=1)], axis=1)
    sums = cum[:, window:] - cum[:, :-window]
    best = sums.max(axis=1) if sums.size else np.zeros(n)
    return best if per_sku else np.array([best.max() if n else 0.0])


def simulated_losses(
    make_policy: Callable[..., Any],
    params: dict[str, np.ndarray],
    demand: np.ndarray,
    problem: InventoryProblem,
    *,
    per_sku: bool,
    max_elements: int = 1 << 24,
    life: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Mean per-period loss of every candidate, shape (G, K).

    ``params[name]`` has shape (G, K) with ``G = n_skus`` (per SKU) or 1 (shared); the policy
    receives one tensor of length ``rows`` per name. ``life``: each SKU's first and last period
    (``Dataset.life``) for SKUs that start or end inside the horizon: the simulator places no
    order and counts no cost outside a life, and a shared candidate's loss is the mean over the
    SKUs with a scored period (as :func:`~orkit.evaluation.metrics_from_ledger` averages).
    """
    n, T = demand.shape
    K = next(iter(params.values())).shape[1]
    if problem.n_skus is not None and problem.n_skus != n:
        raise ValidationError(f"the problem has per-SKU values for {problem.n_skus} SKUs but the data has {n} SKUs")
    chunk = max(1, max_elements // max(1, K * T))
    losses = np.empty((n, K))
    scored = np.ones(n, dtype=bool)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        rows = np.repeat(demand[start:stop], K, axis=0)
        values = {
            name: torch.as_tensor((v[start:stop] if per_sku else np.broadcast_to(v, (stop - start, K))).reshape(-1))
            for name, v in params.items()
        }
        sub = problem
        if problem.n_skus is not None:  # per-SKU timing or costs: each candidate row keeps its SKU's
            sub = problem.subset(np.repeat(np.arange(start, stop), K))
        data: Any = torch.as_tensor(rows)
        if life is not None:  # each candidate row keeps its SKU's life
            data = SimulationInput(demand=data.T.to(torch.float64).contiguous(), features=None, feature_names=(), life=tuple(
                torch.as_tensor(np.repeat(v[start:stop], K)) for v in life))
        ledger = simulate(make_policy(**values), data, sub, ledger="lean", dtype=torch.float64)
        losses[start:stop] = per_sku_loss(ledger).numpy().reshape(stop - start, K)
        scored[start:stop] = ledger.counted_periods.numpy().reshape(stop - start, K)[:, 0] > 0
    if per_sku:
        if not scored.all():
            rows = np.flatnonzero(~scored)
            raise ValidationError(
                f"a per-SKU fit by simulation needs a scored training period for every SKU, but {rows.size} SKU(s) (rows "
                f"{rows[:5].tolist()}{' ...' if rows.size > 5 else ''}) live too briefly in the training data for one "
                "period after the warm-up; fit a pooled policy (per_sku=False), or drop them from the training data")
        return losses
    if not scored.any():
        raise ValidationError("no training period is scored: every SKU's life is shorter than the warm-up")
    return losses[scored].mean(axis=0, keepdims=True)


def grid_search(
    evaluate: Callable[[dict[str, np.ndarray]], np.ndarray],
    lower: dict[str, np.ndarray],
    upper: dict[str, np.ndarray],
    *,
    n_candidates: int = 17,
    n_rounds: int = 5,
    integer: bool = False,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Minimise ``evaluate`` over a box, per group, by zooming grids.

    Parameters
    ----------
    evaluate : callable
        ``evaluate({name: (G, K) array}) -> (G, K) losses``.
    lower, upper : dict of name -> array of shape (G,)
        Initial search box per group. Values never go below ``lower`` (e.g. 0 for levels);
        the box may move above ``upper`` when the best value sits on its edge.
    n_candidates : int, default=17
        Grid points per parameter and round (odd, so the incumbent stays on the grid).
    n_rounds : int, default=5
    integer : bool, default=False
        Search integer values only (integer demand gives integer optima).

    Returns
    -------
    best : dict of name -> (G,) array
    loss : (G,) array
    """
    n_candidates = check_int("n_candidates", n_candidates, minimum=3)
    n_rounds = check_int("n_rounds", n_rounds, minimum=1)
    if n_candidates % 2 == 0:
        n_candidates += 1
    names = list(lower)
    d = len(names)
    if n_candidates**d > 4096:
        raise ValidationError(f"n_candidates ** n_parameters must be <= 4096, got {n_candidates}**{d}")
    lo = {k: np.asarray(lower[k], dtype=np.float64) for k in names}
    hi = {k: np.maximum(np.asarray(upper[k], dtype=np.float64), lo[k]) for k in names}
    floor = {k: lo[k].copy() for k in names}
    G = lo[names[0]].shape[0]
    unit = np.linspace(0.0, 1.0, n_candidates)
    mesh = np.meshgrid(*([unit] * d), indexing="ij")
    offsets = [m.reshape(-1) for m in mesh]  # K = n_candidates ** d points in [0, 1]^d
    best = {k: lo[k].copy() for k in names}
    best_loss = np.full(G, np.inf)
    for _ in range(n_rounds):
        grid = {k: lo[k][:, None] + (hi[k] - lo[k])[:, None] * offsets[j][None, :] for j, k in enumerate(names)}
        if integer:
            grid = {k: np.round(v) for k, v in grid.items()}
        losses = evaluate(grid)
        pick = np.argmin(losses, axis=1)
        loss = losses[np.arange(G), pick]
        better = loss < best_loss
        for k in names:
            best[k] = np.where(better, grid[k][np.arange(G), pick], best[k])
        best_loss = np.where(better, loss, best_loss)
        spacing = {k: (hi[k] - lo[k]) / (n_candidates - 1) for k in names}
        if integer and all(np.all(s <= 1.0) for s in spacing.values()):
            break
        for k in names:
            step = spacing[k] if not integer else np.maximum(spacing[k], 1.0)
            lo[k] = np.maximum(best[k] - step, floor[k])
            hi[k] = np.maximum(best[k] + step, lo[k])
    return best, best_loss


@dataclass(frozen=True)
class SearchedParameter:
    """How :func:`fit_by_simulation` searches one policy parameter.

    Attributes
    ----------
    minimum : float or None
        Lowest allowed value (``None``: any); the search itself starts at 0.
    window : callable
        ``window(L, P)``, from the largest lead time and review period: the first search box
        is ``[0, largest demand over window(L, P) periods + 1]``.
    """

    minimum: float | None
    window: Callable[[int, int], int]


def protection_interval(lead_time: int, review_period: int) -> int:
    """The window of an order-up-to level: the ``L + P`` periods an order protects."""
    return lead_time + review_period


def review_interval(lead_time: int, review_period: int) -> int:
    """The window of an order quantity: the ``P`` periods one order serves."""
    return review_period


def training_inputs(data: Any, problem: Any) -> tuple[InventoryProblem, np.ndarray, np.ndarray | None, Any]:
    """What every optimise-by-simulation fit starts from: ``(problem, demand, alive, life)``.

    ``problem`` is the training SKUs' (values keyed by SKU id picked by
    :meth:`~orkit.core.InventoryProblem.for_data`); ``demand`` is an (n_skus, n_periods) array
    with zeros outside each SKU's life, ``alive`` its mask (None when every SKU lives the whole
    horizon) and ``life`` the lives the simulator masks (see :func:`lived_demand`).

    Raises
    ------
    ValidationError
        ``problem`` is not an :class:`~orkit.core.InventoryProblem`, or ``data`` holds no SKU.
    """
    if not isinstance(problem, InventoryProblem):
        raise ValidationError(f"problem must be an InventoryProblem, got {type(problem).__name__}")
    problem = problem.for_data(data)
    demand, alive = lived_demand(data)
    if demand.shape[0] == 0:
        raise ValidationError("data must hold at least one trajectory")
    life = None if alive is None else sku_lives(data, *demand.shape)
    return problem, demand, alive, life


def fit_by_simulation(
    policy_class: type["SimulationFittedPolicy"],
    data: Any,
    problem: InventoryProblem,
    *,
    per_sku: bool,
    n_candidates: int,
    n_rounds: int,
    integer: bool | None = None,
    max_elements: int = 1 << 24,
) -> dict[str, np.ndarray]:
    """The parameters of ``policy_class`` (its ``_searched`` ones) that minimise the simulated
    training loss: one value per SKU and parameter (module docstring).

    ``policy_class`` is a :class:`SimulationFittedPolicy` whose constructor takes the searched
    parameters by name; the other arguments are those of
    :func:`~orkit.heuristics.optimize_base_stock_level`.

    Returns
    -------
    dict of name -> ndarray of shape (n_skus,)
        The values of every SKU (all equal when ``per_sku=False``).
    """
    problem, demand, alive, life = training_inputs(data, problem)
    n = demand.shape[0]
    if integer is None:
        integer = is_integer_valued(demand)
    # the search's upper bounds: the largest demand over the longest window (with random lead
    # times, the longest lead time: the simulation itself draws them)
    lead_time, review_period = int(problem.max_lead_times(n).max()), int(problem.review_periods(n).max())
    searched = policy_class._searched
    upper = {
        name: window_max(demand, parameter.window(lead_time, review_period), per_sku) + 1.0
        for name, parameter in searched.items()
    }
    groups = upper[next(iter(searched))].shape[0]
    best, loss = grid_search(
        lambda grid: simulated_losses(policy_class, grid, demand, problem, per_sku=per_sku, max_elements=max_elements,
                                      life=life),
        {name: np.zeros(groups) for name in searched},
        upper,
        n_candidates=n_candidates,
        n_rounds=n_rounds,
        integer=bool(integer),
    )
    logger.debug("%s fitted by simulation: %d group(s), mean training loss %.6g", policy_class.__name__, groups,
                 float(loss.mean()))
    return {name: np.broadcast_to(best[name], (n,)).copy() for name in searched}


class SimulationFittedPolicy(SavablePolicy):
    """A policy whose ``_searched`` parameters are given, or fitted by :func:`fit_by_simulation`.

    A subclass names its searched parameters in ``_searched``; its constructor stores them
    (``None`` to fit them all), ``per_sku``, ``n_candidates`` and ``n_rounds``, then calls
    ``self._use_given_values()``. The value in use of parameter ``name`` is ``name_`` (a float,
    or one value per SKU), held for ``act`` as the :class:`SkuParameter` ``_name``.
    """

    _searched: ClassVar[dict[str, SearchedParameter]] = {}

    def _use_given_values(self) -> None:
        # given values are validated at once: they are used without fit
        names = list(self._searched)
        given = [getattr(self, name) is not None for name in names]
        if any(given) and not all(given):
            raise ValidationError(f"{' and '.join(names)} must both be given, or both be None to fit them")
        for name in names:
            setattr(self, f"_{name}", None)
        if all(given):
            self._set_values({name: getattr(self, name) for name in names})
            self.per_sku_ = any(getattr(self, f"_{name}").value.ndim == 1 for name in names)
            self.sku_ids_ = None

    def _set_values(self, values: dict[str, Any]) -> None:
        held = {name: SkuParameter(name, value, minimum=self._searched[name].minimum) for name, value in values.items()}
        for name, value in values.items():
            setattr(self, f"{name}_", value)
            setattr(self, f"_{name}", held[name])

    def _parameters_changed(self, names: set[str]) -> None:
        if names & set(self._searched):
            for name in (*(f"{n}_" for n in self._searched), "per_sku_", "sku_ids_"):
                self.__dict__.pop(name, None)
            self._use_given_values()

    def in_use(self, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The searched parameters in use, in ``_searched`` order, as tensors like ``like``
        (one value, or one per SKU); NotFittedError before a fit."""
        names = tuple(self._searched)
        if getattr(self, "_" + names[0]) is None:
            check_is_fitted(self, tuple(name + "_" for name in names))
        return tuple(getattr(self, "_" + name).like(like) for name in names)

    def _optimized(self, train: Any, problem: InventoryProblem) -> dict[str, np.ndarray]:
        """One value per SKU of each searched parameter, optimised on ``train``."""
        return fit_by_simulation(type(self), train, problem, per_sku=bool(self.per_sku),
                                 n_candidates=self.n_candidates, n_rounds=self.n_rounds)

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "SimulationFittedPolicy":
        """Optimise the parameters on ``train`` by simulation (a no-op when they were given)."""
        if getattr(self, next(iter(self._searched))) is not None:
            return self
        values = self._optimized(train, problem)
        self._set_values({name: v if self.per_sku else float(v[0]) for name, v in values.items()})
        self.per_sku_ = bool(self.per_sku)
        self.sku_ids_ = sku_ids_of(train) if self.per_sku else None
        return self

    def _restore_state(self, state: dict[str, Any]) -> None:
        super()._restore_state(state)
        self._set_values({name: getattr(self, f"{name}_") for name in self._searched})
        for name in self._searched:
            check_sku_count(f"{name}_", getattr(self, f"{name}_"), self.sku_ids_)
