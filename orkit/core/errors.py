"""The orkit exception hierarchy.

Every error orkit raises on bad input derives from :class:`OrkitError`, and also from the
matching built-in (``ValueError``, ``TypeError``, ...) so that generic ``except ValueError``
code keeps working. Messages name the parameter, the rule and the value, e.g.
``lead_time must be >= 0, got -1``.
"""

from __future__ import annotations

__all__ = [
    "OrkitError",
    "ValidationError",
    "DataError",
    "NotFittedError",
    "StateSpaceError",
    "SolverError",
    "ConfigError",
    "PersistenceError",
]


class OrkitError(Exception):
    """Base class of every error orkit raises on purpose."""


class ValidationError(OrkitError, ValueError):
    """A parameter breaks a rule (range, type, shape)."""


class DataError(OrkitError, ValueError):
    """A dataset or table is malformed (missing columns, NaN or negative demand, ...)."""


class NotFittedError(OrkitError, AttributeError):
    """A policy that learns was used before ``fit``."""


class StateSpaceError(OrkitError, MemoryError):
    """An exact method would need more states than the configured limit."""


class SolverError(OrkitError, RuntimeError):
    """An optimisation solver ended without an optimal solution."""


class ConfigError(OrkitError, ValueError):
    """A study file is invalid; the message names the offending key."""


class PersistenceError(ValidationError):
    """A saved policy folder cannot be read back: a file is missing, truncated, of the wrong
    kind (a pickle, say), or holds a value that breaks a rule. The message names the file."""


class OutputError(OrkitError, OSError):
    """A result could not be written (the disk is full); what finished is kept and the same
    command resumes once there is space. Also an ``OSError``."""
