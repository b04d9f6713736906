"""Backtests over time: fit on the past, score the later windows from the state the past leaves.

:func:`backtest` runs a :class:`~orkit.data.TimeSplit` (one train / validation / test split)
or a :class:`~orkit.data.RollingOrigin` (k folds) for one policy: in each fold the policy is
fitted on the train window alone (``fit(train, validation, problem)``; the validation window
comes with its history, so a learner's own validation loss starts from the carried state too)
and scored on the validation and test windows. A window is scored by one simulation of the
policy over every period up to its end, counted from the window's first period
(:func:`score_window`): its on-hand, pipeline and recent demand are those the history leaves,
exactly as in one simulation over the whole horizon.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import numpy as np
import pandas as pd

from orkit.core.errors import ValidationError
from orkit.core.problem import InventoryProblem
from orkit.evaluation.metrics import METRICS, metrics_from_ledger

__all__ = ["backtest", "score_window", "problem_for", "for_policy"]

log = logging.getLogger(__name__)


def problem_for(problem: InventoryProblem, dataset: Any, part: Any) -> InventoryProblem:
    """``problem`` for the SKUs of ``part`` (a window or subset of ``dataset``): per-SKU values
    given by position, in ``dataset``'s SKU order, are taken for ``part``'s SKUs; a problem of
    scalars, or one whose values are keyed by SKU id (the simulator picks them,
    :meth:`InventoryProblem.for_data`), is returned as it is."""
    if problem.n_skus is None or problem.sku_ids is not None or (
            part.n_skus == dataset.n_skus and np.array_equal(part.sku_ids, dataset.sku_ids)):
        return problem
    rows = pd.Index(dataset.sku_ids).get_indexer(part.sku_ids)
    if (rows < 0).any():
        raise ValidationError(f"part holds SKU {str(part.sku_ids[rows < 0][0])!r}, which is not in the dataset")
    return problem.subset(rows)  # every per-SKU field, a per-SKU lead-time law too


def for_policy(policy: Any, window: Any) -> Any:
    """``window`` restricted to the SKUs a per-SKU policy was fitted on, in its order (a
    policy with one value per SKU serves those SKUs only); other policies get it whole.

    Raises
    ------
    ValidationError
        A fitted SKU is missing from the window.
    """
    if not getattr(policy, "per_sku_", False) or getattr(policy, "sku_ids_", None) is None:
        return window
    fitted = np.asarray(policy.sku_ids_).astype(str)
    if window.n_skus == len(fitted) and np.array_equal(window.sku_ids, fitted):
        return window
    rows = pd.Index(window.sku_ids).get_indexer(fitted)
    if (rows < 0).any():
        raise ValidationError(f"the policy was fitted per SKU on SKU {str(fitted[rows < 0][0])!r}, which is not in "
                              f"window {window.name!r}")
    left_out = window.n_skus - len(fitted)
    if left_out:
        log.info("%s: %d SKU(s) launched after the train window are left out for a per-SKU policy", window.name,
                 left_out)
    return window.subset(rows)


def score_window(policy: Any, dataset: Any, problem: InventoryProblem, start: Any = 0, stop: Any = None, *,
                 ledger: str = "lean", turnover_cap: float = 28.0) -> dict[str, float]:
    """The metrics of ``policy`` on the periods ``[start, stop)`` of ``dataset``, starting from
    the state the earlier periods leave.

    One simulation runs the policy from period 0 to ``stop`` (``dataset.window(start, stop,
    history=True)``); the periods before ``start`` are history: they carry on-hand, pipeline
    and recent demand over but are not scored. The window is scored from its first period
    (SKUs launched shortly before or inside it finish their own warm-up first). Its ledger is
    that of one simulation over the whole horizon, restricted to the window.

    Parameters
    ----------
    policy : Policy
        A fitted policy (or one that needs no fitting).
    dataset : Dataset
    problem : InventoryProblem
        Per-SKU values in ``dataset``'s SKU order.
    start, stop : int or date
        Positions (0 = the first period; ``stop`` exclusive, default the end) or dates.
    ledger : {"lean", "full"}, default="lean"
    turnover_cap : float, default=28.0

    Returns
    -------
    dict
        One entry per name in :data:`~orkit.evaluation.metrics.METRICS`.
    """
    from orkit.sim import simulate

    window = for_policy(policy, dataset.window(start, stop, history=True))
    result = simulate(policy, window, problem_for(problem, dataset, window), ledger=ledger)
    return metrics_from_ledger(result, turnover_cap=turnover_cap)


def backtest(policy: Any, dataset: Any, problem: InventoryProblem, split: Any, *, windows=("validation", "test"),
             turnover_cap: float = 28.0) -> pd.DataFrame:
    """Fit and score a policy over time: one row per fold and scored window.

    Parameters
    ----------
    policy : Policy or callable
        A policy, or a function of no arguments returning a new (unfitted) one, e.g.
        ``lambda: NewsvendorPolicy()``. A policy with ``fit`` is fitted in each fold on the
        train window only, ``fit(train, validation, problem)``; a policy object given itself is
        cloned for each fold (:func:`orkit.core.clone`) when it can be. A policy without
        ``fit`` is scored as it is.
    dataset : Dataset
    problem : InventoryProblem
        Per-SKU values in ``dataset``'s SKU order (taken for each window's SKUs).
    split : TimeSplit or RollingOrigin
    windows : sequence of {"train", "validation", "test"}, default=("validation", "test")
        The windows scored (the train window from an empty start after the warm-up, the
        others from the state their history leaves).
    turnover_cap : float, default=28.0

    Returns
    -------
    DataFrame
        Columns ``fold`` (1, 2, ...), ``window``, ``start`` and ``end`` (the window's first and
        last period: dates where the data has them), ``n_skus``, the metrics of
        :data:`~orkit.evaluation.metrics.METRICS` and ``fit_seconds``.

    Examples
    --------
    >>> from orkit.data import RollingOrigin, iid_poisson
    >>> from orkit.heuristics import NewsvendorPolicy
    >>> data = iid_poisson(n_skus=20, n_periods=80, rate=5.0, seed=0)
    >>> table = backtest(NewsvendorPolicy, data, InventoryProblem(lead_time=1, review_period=1),
    ...                  RollingOrigin(folds=3, test=10, validation=10), windows=("test",))
    >>> table[["fold", "window", "start", "end"]].values.tolist()
    [[1, 'test', 50, 59], [2, 'test', 60, 69], [3, 'test', 70, 79]]
    """
    from orkit.sim import simulate

    # by what they do (a TimeSplit has windows, a RollingOrigin splits into TimeSplits)
    if not (hasattr(split, "splits") or hasattr(split, "windows") and hasattr(split, "datasets")):
        raise ValidationError(f"split must be a TimeSplit or a RollingOrigin, got {type(split).__name__}")
    windows = (windows,) if isinstance(windows, str) else tuple(windows)
    bad = [w for w in windows if w not in ("train", "validation", "test")]
    if bad or not windows:
        raise ValidationError(f"windows must name some of 'train', 'validation', 'test', got {list(windows)}")
    folds = split.splits(dataset) if hasattr(split, "splits") else [split]
    make = _factory(policy, len(folds))
    rows = []
    for k, fold in enumerate(folds, start=1):
        parts, positions = fold.datasets(dataset), fold.windows(dataset)
        fitted = make()
        start = time.perf_counter()
        if hasattr(fitted, "fit"):
            train = parts["train"]
            fitted = fitted.fit(train, parts["validation"], problem_for(problem, dataset, train)) or fitted
        seconds = time.perf_counter() - start
        for name in windows:
            window = for_policy(fitted, parts[name])
            metrics = metrics_from_ledger(simulate(fitted, window, problem_for(problem, dataset, window), ledger="lean"),
                                          turnover_cap=turnover_cap)
            first, stop = positions[name]
            rows.append({"fold": k, "window": name, "start": _label(dataset, first), "end": _label(dataset, stop - 1),
                         "n_skus": window.n_skus, **metrics, "fit_seconds": seconds})
    return pd.DataFrame(rows, columns=["fold", "window", "start", "end", "n_skus", *METRICS, "fit_seconds"])


def _factory(policy: Any, n_folds: int) -> Callable[[], Any]:
    if not isinstance(policy, type) and hasattr(policy, "act"):
        if not hasattr(policy, "fit") or n_folds == 1:
            return lambda: policy
        from orkit.core import clone

        return lambda: clone(policy)
    if callable(policy):
        def make() -> Any:
            made = policy()
            if not hasattr(made, "act"):
                raise ValidationError(f"policy must be a Policy or a function returning one, got a function returning "
                                      f"{type(made).__name__}")
            return made
        return make
    raise ValidationError(f"policy must be a Policy or a function returning one, got {type(policy).__name__}")


def _label(dataset: Any, position: int) -> Any:
    dates = dataset.dates
    return str(dates[position].date()) if dates is not None else dataset.period_start + position
