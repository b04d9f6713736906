"""Core types: the inventory problem, the policy interface, the estimator protocol, saving, errors."""

from orkit.core.errors import (
    ConfigError,
    DataError,
    NotFittedError,
    OrkitError,
    OutputError,
    PersistenceError,
    SolverError,
    StateSpaceError,
    ValidationError,
)
from orkit.core.estimator import Estimator, clone
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import FittablePolicy, Observation, Policy, as_sku_tensor, check_is_fitted, is_fitted
from orkit.core.skus import sku_ids_of
from orkit.core.lead_time import LeadTimeDistribution
from orkit.core.problem import InventoryProblem

__all__ = [
    "ConfigError",
    "DataError",
    "Estimator",
    "FittablePolicy",
    "InventoryProblem",
    "LeadTimeDistribution",
    "NotFittedError",
    "Observation",
    "OrkitError",
    "OutputError",
    "PersistenceError",
    "Policy",
    "SavablePolicy",
    "SolverError",
    "StateSpaceError",
    "ValidationError",
    "as_sku_tensor",
    "check_is_fitted",
    "clone",
    "is_fitted",
    "sku_ids_of",
]
