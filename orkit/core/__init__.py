"""Core types: the inventory problem, the policy interface, errors and validation."""

from orkit.core.errors import (
    ConfigError,
    DataError,
    NotFittedError,
    OrkitError,
    SolverError,
    StateSpaceError,
    ValidationError,
)
from orkit.core.policy import FittablePolicy, Observation, Policy, as_sku_tensor, check_is_fitted
from orkit.core.problem import InventoryProblem

__all__ = [
    "ConfigError",
    "DataError",
    "FittablePolicy",
    "InventoryProblem",
    "NotFittedError",
    "Observation",
    "OrkitError",
    "Policy",
    "SolverError",
    "StateSpaceError",
    "ValidationError",
    "as_sku_tensor",
    "check_is_fitted",
]
