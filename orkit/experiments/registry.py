"""Names for policies, so the CLI and study files can refer to them.

Each entry maps a method name to a factory ``factory(**params) -> Policy``, given as
``"module:attribute"`` and imported on first use: naming the policies does not import
scikit-learn, Pyomo or the RL learners. A policy that learns is fitted by the caller with
``fit(train, validation, problem)``; factories that take ``seed`` receive the study's seed.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from orkit.core.errors import ValidationError
from orkit.core.policy import Policy

__all__ = ["POLICIES", "make_policy", "register", "resolve", "load_policy", "LOADERS", "parameter_names"]

#: name -> factory, or "module:attribute" of a factory not imported yet
POLICIES: dict[str, Callable[..., Policy] | str] = {}


def register(name: str, factory: Callable[..., Policy] | str) -> None:
    """Make ``factory`` (a callable, or ``"module:attribute"``) available under ``name``."""
    POLICIES[name] = factory


def resolve(name: str) -> Callable[..., Policy]:
    """The factory registered as ``name``, imported if needed."""
    if name not in POLICIES:
        raise ValidationError(f"policy must be one of {', '.join(sorted(POLICIES))}, got {name!r}")
    factory = POLICIES[name]
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
        POLICIES[name] = factory
    return factory


def parameter_names(name: str) -> set[str] | None:
    """The keyword parameters the policy ``name`` accepts (None when it accepts any)."""
    import dataclasses
    import inspect

    factory = resolve(name)
    config_class = getattr(factory, "config_class", None)
    signature = inspect.signature(factory)
    named = {p.name for p in signature.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if config_class is not None and dataclasses.is_dataclass(config_class):
        return named | {f.name for f in dataclasses.fields(config_class)}
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return named


def make_policy(name: str, **params: Any) -> Policy:
    """Build the policy registered as ``name`` with ``params``; clear errors for bad names."""
    factory = resolve(name)
    try:
        return factory(**params)
    except TypeError as exc:  # unknown or missing keyword
        raise ValidationError(f"bad parameters for policy {name!r}: {exc}") from None


#: (detector, loader) pairs for policies saved by a study run
LOADERS: list[tuple[Callable[[Path], bool], Callable[[Path], Policy]]] = []


def load_policy(folder: str | Path) -> Policy:
    """A policy saved by a study run (``<output>/policies/<method>-seed<k>``)."""
    path = Path(folder)
    if not path.is_dir():
        raise ValidationError(f"--load must be a folder holding a saved policy, got {str(folder)!r}")
    for detect, load in LOADERS:
        if detect(path):
            return load(path)
    if (path / "parameters.json").exists():
        raise ValidationError(f"{folder} holds the parameters of a heuristic; rebuild it with --policy and --param")
    raise ValidationError(f"{folder} holds no policy orkit can load")


def _is_neural(path: Path) -> bool:
    return (path / "policy.json").exists() and any((path / w).exists() for w in ("weights.safetensors", "weights.pt"))


def _load_neural(path: Path) -> Policy:
    from orkit.rl import load_policy as load_neural

    return load_neural(path)


LOADERS.append((_is_neural, _load_neural))

# --- simple policies and heuristics (orkit.heuristics) ----------------------------------
for _name, _attr in {
    "base-stock": "BaseStockPolicy",
    "constant-order": "ConstantOrderPolicy",
    "newsvendor": "NewsvendorPolicy",
    "feature-linear-base-stock": "FeatureLinearBaseStockPolicy",
    "capped-base-stock": "CappedBaseStockPolicy",
    "myopic": "MyopicPolicy",
    "quantile-regression-newsvendor": "QuantileRegressionNewsvendorPolicy",
    "gradient-boosting-newsvendor": "GradientBoostingNewsvendorPolicy",
    "weighted-saa-newsvendor": "WeightedSAANewsvendorPolicy",
    "dp-optimal": "DynamicProgrammingPolicy",
    "empirical-dp": "EmpiricalDPPolicy",
}.items():
    register(_name, f"orkit.heuristics:{_attr}")

# --- two-stage (orkit.twostage) ----------------------------------------------------------
register("two-stage", "orkit.twostage:TwoStagePolicy")

# --- regularized deep RL (orkit.rl): each takes regularization="none" | "base" | "coeff" | "both"
register("ds", "orkit.rl:DSPolicy")
register("ppo", "orkit.rl:PPOPolicy")
register("ddpg", "orkit.rl:DDPGPolicy")
