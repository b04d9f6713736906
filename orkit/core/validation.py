"""Small checks that raise :class:`~orkit.core.errors.ValidationError` with a clear message.

Each function returns the (possibly converted) value so it can be used inline::

    lead_time = check_int("lead_time", lead_time, minimum=0)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from orkit.core.errors import ValidationError

__all__ = ["check_int", "check_float", "check_choice", "check_int_array"]


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` or raise ``ValidationError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise ValidationError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValidationError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as a ``float`` or raise ``ValidationError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValidationError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if strict_minimum and value <= minimum:
            raise ValidationError(f"{name} must be > {minimum:g}, got {value:g}")
        if not strict_minimum and value < minimum:
            raise ValidationError(f"{name} must be >= {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{name} must be <= {maximum:g}, got {value:g}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices`` or raise ``ValidationError``."""
    if value not in choices:
        raise ValidationError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_int_array(
    name: str, value: Any, *, n: int | None = None, minimum: int | None = None
) -> np.ndarray:
    """Return ``value`` as a 1-d int64 array (a scalar is broadcast to length ``n``)."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        check_int(name, arr.item(), minimum=minimum)
        return np.full(1 if n is None else n, int(arr.item()), dtype=np.int64)
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be a scalar or 1-d array, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValidationError(f"{name} must have one value per SKU ({n}), got {arr.shape[0]}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValidationError(f"{name} must hold integers, got {arr[:5].tolist()}...")
    elif arr.dtype.kind not in "iu":
        raise ValidationError(f"{name} must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if minimum is not None and arr.size and arr.min() < minimum:
        raise ValidationError(f"{name} must be >= {minimum}, got {int(arr.min())}")
    return arr
