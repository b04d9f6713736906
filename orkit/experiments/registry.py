"""Names for policies, so the CLI and study files can refer to them.

Each entry maps a method name to a factory ``factory(**params) -> Policy``. A policy that learns
is fitted by the caller with ``fit(train, validation, problem)``. Families add their entries in
their own block below (one line each).
"""

from __future__ import annotations

from typing import Any, Callable

from orkit.core.errors import ValidationError
from orkit.core.policy import Policy

__all__ = ["POLICIES", "make_policy", "register", "load_policy"]

POLICIES: dict[str, Callable[..., Policy]] = {}


def register(name: str, factory: Callable[..., Policy]) -> None:
    """Make ``factory`` available under ``name``."""
    POLICIES[name] = factory


def make_policy(name: str, **params: Any) -> Policy:
    """Build the policy registered as ``name`` with ``params``; clear errors for bad names."""
    if name not in POLICIES:
        raise ValidationError(f"policy must be one of {', '.join(sorted(POLICIES))}, got {name!r}")
    try:
        return POLICIES[name](**params)
    except TypeError as exc:  # unknown or missing keyword
        raise ValidationError(f"bad parameters for policy {name!r}: {exc}") from None


def load_policy(folder: str) -> Policy:
    """A policy saved by a study run (``<output>/policies/<method>-seed<k>``)."""
    import json
    from pathlib import Path

    path = Path(folder)
    if not path.is_dir():
        raise ValidationError(f"--load must be a folder holding a saved policy, got {folder!r}")
    loaders = [f for f in LOADERS if f[0](path)]
    if not loaders:
        if (path / "policy.json").exists():
            raise ValidationError(
                f"{folder} holds the parameters of a heuristic ({json.loads((path / 'policy.json').read_text())['class']}); "
                "rebuild it with --policy and --param"
            )
        raise ValidationError(f"{folder} holds no policy orkit can load")
    return loaders[0][1](path)


#: (detector, loader) pairs; families that can save policies add theirs.
LOADERS: list = []


# --- simple policies (foundation) ------------------------------------------------------
from orkit.heuristics import BaseStockPolicy, ConstantOrderPolicy  # noqa: E402

register("base-stock", BaseStockPolicy)
register("constant-order", ConstantOrderPolicy)

# --- heuristics (orkit.heuristics) -------------------------------------------------------
from orkit.heuristics import (  # noqa: E402
    CappedBaseStockPolicy,
    DynamicProgrammingPolicy,
    EmpiricalDPPolicy,
    FeatureLinearBaseStockPolicy,
    GradientBoostingNewsvendorPolicy,
    MyopicPolicy,
    NewsvendorPolicy,
    QuantileRegressionNewsvendorPolicy,
    WeightedSAANewsvendorPolicy,
)

register("newsvendor", NewsvendorPolicy)
register("feature-linear-base-stock", FeatureLinearBaseStockPolicy)
register("capped-base-stock", CappedBaseStockPolicy)
register("myopic", MyopicPolicy)
register("quantile-regression-newsvendor", QuantileRegressionNewsvendorPolicy)
register("gradient-boosting-newsvendor", GradientBoostingNewsvendorPolicy)
register("weighted-saa-newsvendor", WeightedSAANewsvendorPolicy)
register("dp-optimal", DynamicProgrammingPolicy)
register("empirical-dp", EmpiricalDPPolicy)

# --- two-stage (orkit.twostage) ----------------------------------------------------------
from orkit.twostage import TwoStagePolicy  # noqa: E402

register("two-stage", TwoStagePolicy)

# --- regularized deep RL (orkit.rl) --------------------------------------------------------
