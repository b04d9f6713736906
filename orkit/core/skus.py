"""Per-SKU state of a fitted policy: which SKUs its values belong to.

The contract (module docstring of :mod:`orkit.core.policy`): every policy sets ``per_sku_``;
one fitted per SKU also records ``sku_ids_``, the training dataset's ids in the order of its
values (None when fitted on a bare demand array or given per-SKU arrays directly).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from orkit.core.errors import ValidationError

__all__ = ["sku_ids_of", "check_sku_count"]


def sku_ids_of(data: Any) -> np.ndarray | None:
    """The SKU ids of a training set, for ``sku_ids_``: a copy of a Dataset's ``sku_ids`` as a
    numpy array of str, or None for a bare demand array.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> sku_ids_of(SimpleNamespace(sku_ids=["A", "B"]))   # a Dataset, say
    array(['A', 'B'], dtype='<U1')
    >>> sku_ids_of([[1, 2], [3, 4]]) is None
    True
    """
    ids = getattr(data, "sku_ids", None)
    return None if ids is None else np.array(ids, dtype=str)


def check_sku_count(name: str, values: Any, sku_ids: np.ndarray | None) -> None:
    """Raise :class:`ValidationError` unless per-SKU ``values`` have one entry per id in ``sku_ids``."""
    if sku_ids is None or np.ndim(values) == 0:
        return
    if len(values) != sku_ids.shape[0]:
        raise ValidationError(f"{name} has {len(values)} values but sku_ids_ names {sku_ids.shape[0]} SKUs")
