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
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_int
from orkit.evaluation.metrics import per_sku_loss
from orkit.sim import simulate

__all__ = ["simulated_losses", "grid_search", "is_integer_valued", "window_max"]


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
) -> np.ndarray:
    """Mean per-period loss of every candidate, shape (G, K).

    ``params[name]`` has shape (G, K) with ``G = n_skus`` (per SKU) or 1 (shared); the policy
    receives one tensor of length ``rows`` per name.
    """
    n, T = demand.shape
    K = next(iter(params.values())).shape[1]
    lead, review = problem.lead_times(n), problem.review_periods(n)
    chunk = max(1, max_elements // max(1, K * T))
    losses = np.empty((n, K))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        rows = np.repeat(demand[start:stop], K, axis=0)
        values = {
            name: torch.as_tensor((v[start:stop] if per_sku else np.broadcast_to(v, (stop - start, K))).reshape(-1))
            for name, v in params.items()
        }
        sub = problem
        if problem.per_sku:
            sub = problem.with_(lead_time=np.repeat(lead[start:stop], K), review_period=np.repeat(review[start:stop], K))
        ledger = simulate(make_policy(**values), torch.as_tensor(rows), sub, ledger="lean", dtype=torch.float64)
        losses[start:stop] = per_sku_loss(ledger).numpy().reshape(stop - start, K)
    return losses if per_sku else losses.mean(axis=0, keepdims=True)


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
