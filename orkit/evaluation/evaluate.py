"""Score one policy, or compare several on the same demand paths."""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np
import pandas as pd

from orkit.core.errors import ValidationError
from orkit.core.policy import Policy
from orkit.core.problem import InventoryProblem
from orkit.evaluation.metrics import METRICS, metrics_from_ledger
from orkit.sim import prepare_input, simulate

__all__ = ["evaluate", "compare", "check_serves"]


def check_serves(policy: Policy, data: Any) -> None:
    """Raise unless ``policy`` can serve ``data``'s SKUs: a policy fitted per SKU (``per_sku_``
    with ``sku_ids_``) serves exactly the SKUs it was fitted on, in their order.

    Raises
    ------
    ValidationError
        Saying to score it on the same SKUs (a split over time) or to fit it with
        ``per_sku=False``.
    """
    fitted = getattr(policy, "sku_ids_", None) if getattr(policy, "per_sku_", False) else None
    ids = getattr(data, "sku_ids", None)
    if fitted is None or ids is None:
        return
    fitted, ids = np.asarray(fitted).astype(str), np.asarray(ids).astype(str)
    if np.array_equal(fitted, ids):
        return
    other = np.setdiff1d(ids, fitted)
    what = (f"{other.size} of the data's {ids.size} SKUs were not among them (e.g. {str(other[0])!r})" if other.size
            else "the data holds them in another order or only some of them")
    raise ValidationError(
        f"{type(policy).__name__} holds one value per SKU (per_sku=True, or per-SKU costs) for the {fitted.size} SKUs "
        f"it was fitted on, and {what}: score it on the same SKUs with a split over time (train, validation and test "
        "windows of the same SKUs: orkit evaluate --test-periods N, a study's [split] kind = \"time\") or fit it "
        "with per_sku=False"
    )


def evaluate(
    policy: Policy,
    dataset: Any,
    problem: InventoryProblem,
    *,
    ledger: str = "lean",
    device: Any = None,
    turnover_cap: float = 28.0,
) -> dict[str, float]:
    """Simulate ``policy`` on every trajectory of ``dataset`` and return its metrics.

    Parameters
    ----------
    policy : Policy
    dataset : Dataset or array of shape (n_skus, n_periods)
        A backtest window (``Dataset.window(start, stop, history=True)``) is scored from its
        first period after the history, which the policy is simulated through.
    problem : InventoryProblem
    ledger : {"lean", "full"}, default="lean"
        The metrics are identical; "lean" needs memory independent of the horizon.
    device : optional
        Simulate on this device (default: where the data is).
    turnover_cap : float, default=28.0

    Returns
    -------
    dict
        One entry per name in :data:`~orkit.evaluation.metrics.METRICS`.
    """
    check_serves(policy, dataset)
    result = simulate(policy, dataset, problem, ledger=ledger, device=device)
    return metrics_from_ledger(result, turnover_cap=turnover_cap)


def compare(
    policies: Mapping[str, Policy],
    dataset: Any,
    problem: InventoryProblem,
    *,
    ledger: str = "lean",
    device: Any = None,
    turnover_cap: float = 28.0,
) -> pd.DataFrame:
    """Evaluate several policies on the same demand paths.

    Returns a DataFrame indexed by policy name with one column per metric (plus ``seconds``,
    the simulation wall time), sorted as given.
    """
    if not policies:
        raise ValidationError("policies must name at least one policy, got an empty mapping")
    inp = prepare_input(dataset, device=device)  # laid out once, shared by every policy
    rows = {}
    for name, policy in policies.items():
        start = time.perf_counter()
        rows[name] = evaluate(policy, inp, problem, ledger=ledger, turnover_cap=turnover_cap)
        rows[name]["seconds"] = time.perf_counter() - start
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "policy"
    return frame[[*METRICS, "seconds"]]
