"""What heuristic policies hold: a per-SKU (or scalar) parameter converted once per device and
dtype, and a solution dataclass as the plain fields it is saved as."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import torch

from orkit.core.errors import ValidationError


class SkuParameter:
    """Holds a scalar or per-SKU parameter and hands it out as a tensor like the state.

    The conversion is cached per (device, dtype): a policy evaluated over many periods does
    not copy a million-entry array every period. Tensors that require grad are used as given
    so gradients reach them.
    """

    def __init__(self, name: str, value: Any, *, minimum: float | None) -> None:
        self.name = name
        if isinstance(value, torch.Tensor):
            arr = value
            finite = bool(torch.isfinite(value.detach()).all())
            lowest = float(value.detach().min()) if value.numel() else 0.0
        else:
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValidationError(f"{name} must be a number or an array of numbers, got {value!r}") from None
            finite = bool(np.isfinite(arr).all())
            lowest = float(arr.min()) if arr.size else 0.0
        if arr.ndim > 1:
            raise ValidationError(f"{name} must be a scalar or one value per SKU, got shape {tuple(arr.shape)}")
        if not finite:
            raise ValidationError(f"{name} must be finite, got {value!r}")
        if minimum is not None and lowest < minimum:
            raise ValidationError(f"{name} must be >= {minimum:g}, got {lowest:g}")
        self.value = arr
        self._cache: dict[tuple, torch.Tensor] = {}

    def like(self, ref: torch.Tensor) -> torch.Tensor:
        v = self.value
        if isinstance(v, torch.Tensor) and v.requires_grad:
            out = v if (v.device, v.dtype) == (ref.device, ref.dtype) else v.to(ref.device, ref.dtype)
        else:
            key = (ref.device, ref.dtype)
            out = self._cache.get(key)
            if out is None:
                out = torch.as_tensor(v, dtype=ref.dtype, device=ref.device)
                self._cache[key] = out
        if out.ndim == 1 and out.shape[0] != ref.shape[0]:
            raise ValidationError(f"{self.name} has {out.shape[0]} values but there are {ref.shape[0]} SKUs")
        return out

    def summary(self) -> str:
        v = self.value
        if v.ndim == 0:
            return f"{float(v):g}"
        return f"<{v.shape[0]} values>"


def dataclass_fields(solution: Any) -> dict[str, Any]:
    """A solution dataclass as a dict of its fields (for saving)."""
    return {f.name: getattr(solution, f.name) for f in fields(solution)}


def checked_fields(cls: type, saved: Any) -> dict[str, Any]:
    """The saved fields of dataclass ``cls``, or a ValidationError unless they are exactly its fields."""
    names = [f.name for f in fields(cls)]
    if not isinstance(saved, dict) or set(saved) != set(names):
        got = sorted(saved) if isinstance(saved, dict) else saved
        raise ValidationError(f"solution_ must hold the fields {', '.join(names)} of {cls.__name__}, got {got!r}")
    return dict(saved)
