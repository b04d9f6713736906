"""Names for policies, so the CLI and study files can refer to them.

Each entry maps a method name to a factory ``factory(**params) -> Policy``, given as
``"module:attribute"`` and imported on first use: naming the policies does not import
scikit-learn, Pyomo or the RL learners. A policy that learns is fitted by the caller with
``fit(train, validation, problem)``; factories that take ``seed`` receive the study's seed.

Every registered policy saves with ``policy.save(folder)`` and loads back with
:func:`load_policy` (format: :mod:`orkit.core.persistence`; no pickle).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from orkit.core.errors import PersistenceError, ValidationError
from orkit.core.persistence import FORMAT, MANIFEST, SavablePolicy, read_manifest
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


#: (detector, loader) pairs for saved policy folders, tried in order
LOADERS: list[tuple[Callable[[Path], bool], Callable[[Path], Policy]]] = []

#: the format of bare RL networks (``orkit.rl.save_policy``), read by orkit.rl
_NETWORK_FORMAT = "orkit-rl-policy/1"


def load_policy(folder: str | Path) -> Policy:
    """The policy saved in ``folder`` by ``policy.save(folder)`` (a study run saves each fitted
    policy in ``<output>/policies/<method>-seed<k>``), with the same orders as when saved.

    policy.json names a registered policy; its class is checked against the registry before
    anything is imported, so no other class is ever constructed. Bare RL networks saved by
    ``orkit.rl.save_policy`` (format ``orkit-rl-policy/1``) load as a ``NeuralPolicy``.

    Raises
    ------
    ValidationError
        ``folder`` is not a folder or holds no saved policy.
    PersistenceError
        The folder is damaged or tampered with; the message names the file, the rule and the value.
    """
    path = Path(folder)
    if not path.is_dir():
        raise ValidationError(f"--load must be a folder holding a saved policy, got {str(folder)!r}")
    for detect, load in LOADERS:
        if detect(path):
            return load(path)
    if (path / "parameters.json").exists():
        raise ValidationError(
            f"{folder} holds the parameters.json of an older orkit study; rebuild the policy with --policy and "
            "--param, or run the study again to save it"
        )
    raise ValidationError(f"{folder} holds no policy orkit can load (no {MANIFEST})")


def _class_name(name: str) -> str:
    """The class registered as ``name``, read without importing it."""
    factory = POLICIES[name]
    return factory.partition(":")[2] if isinstance(factory, str) else getattr(factory, "__name__", "")


def _has_manifest(path: Path) -> bool:
    return (path / MANIFEST).exists()


def _load_saved(path: Path) -> Policy:
    manifest = path / MANIFEST
    document = read_manifest(path, (FORMAT, _NETWORK_FORMAT))
    if document["format"] == _NETWORK_FORMAT:
        from orkit.rl import load_policy as load_network

        return load_network(path)
    name, class_name = document.get("policy"), document.get("class")
    if not isinstance(name, str) or name not in POLICIES:
        raise PersistenceError(
            f"{manifest}: policy must be a registered policy ({', '.join(sorted(POLICIES))}), got {name!r}"
        )
    if class_name != _class_name(name):
        # checked before the import: a file can only ever name a registered class
        raise PersistenceError(f"{manifest}: class must be {_class_name(name)!r} for policy {name!r}, got {class_name!r}")
    factory = resolve(name)
    if not (isinstance(factory, type) and issubclass(factory, SavablePolicy)):
        raise PersistenceError(f"{manifest}: policy {name!r} is registered with a factory that cannot load a folder")
    return factory.load(path)


LOADERS.append((_has_manifest, _load_saved))

# --- simple policies and heuristics (orkit.heuristics) ----------------------------------
for _name, _attr in {
    "base-stock": "BaseStockPolicy",
    "constant-order": "ConstantOrderPolicy",
    "newsvendor": "NewsvendorPolicy",
    "fill-rate-base-stock": "FillRateBaseStockPolicy",
    "feature-linear-base-stock": "FeatureLinearBaseStockPolicy",
    "capped-base-stock": "CappedBaseStockPolicy",
    "s-S": "SSPolicy",
    "r-Q": "RQPolicy",
    "myopic": "MyopicPolicy",
    "myopic2": "Myopic2Policy",
    "vector-base-stock": "VectorBaseStockPolicy",
    "better-vector-base-stock": "BetterVectorBaseStockPolicy",
    "dual-balancing": "DualBalancingPolicy",
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
