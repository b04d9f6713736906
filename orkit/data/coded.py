"""Features held as small integer codes into a table of their distinct values.

Sales features mostly take few distinct values: flags, prices, categories, calendar parts,
holiday markers. The readers (:mod:`orkit.data.ingest`) keep each such feature as codes into a
float32 table of its distinct values (all finite): 1 byte per value for at most 256 distinct
values, 2 bytes for at most 32,768, instead of float32's 4, and exactly the same numbers. A
feature with more distinct values (a continuous measurement) is held as float32 values, column
by column: the others stay coded.

:class:`CodedArray` is what a :class:`~orkit.data.Dataset` stores then. It slices like the
(n_skus, T, F) float32 array it stands for (a slice that keeps the feature axis is coded too) and
becomes that array under ``numpy.asarray``; :attr:`Dataset.features
<orkit.data.Dataset.features>` always returns the float32 array. The simulator reads the codes
and decodes one period at a time, so a policy that reads no feature never widens them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MAX_VALUES", "CodedArray", "code_dtype"]

#: the most distinct values a coded feature holds (int16 codes 0 .. 32767)
MAX_VALUES = int(np.iinfo(np.int16).max) + 1


def code_dtype(n_values: int) -> np.dtype:
    """The narrowest code dtype for a table of ``n_values`` values (uint8 or int16)."""
    return np.dtype(np.uint8) if n_values <= 256 else np.dtype(np.int16)


class CodedArray:
    """A read-only (n_skus, T, F) float32 array stored as one array per feature: codes into a
    table, ``array[:, :, j] == values[j][codes[j]]``, or (``values[j]`` None) the float32 values
    themselves, ``array[:, :, j] == codes[j]``.

    Parameters
    ----------
    codes : sequence of ndarray, each (n_skus, T)
        uint8 or int16 codes, or float32 values where the table is None.
    values : sequence of (ndarray of float32, 1-d, or None)
        The distinct values of each coded feature (finite; at most :data:`MAX_VALUES`).
    """

    __slots__ = ("codes", "values", "shape")
    dtype = np.dtype(np.float32)
    ndim = 3

    def __init__(self, codes: Any, values: Any) -> None:
        self.codes = tuple(codes)
        self.values = tuple(None if v is None else np.asarray(v, dtype=np.float32) for v in values)
        if not self.codes or len(self.codes) != len(self.values):
            raise ValueError("a CodedArray needs one code array and one table per feature (at least one)")
        for c, v in zip(self.codes, self.values):
            if c.shape != self.codes[0].shape or c.ndim != 2:
                raise ValueError("codes must be (n_skus, T) arrays of one shape")
            if v is None:
                if c.dtype != np.float32:
                    raise ValueError("a feature without a table holds float32 values")
                continue
            if c.dtype not in (np.uint8, np.int16):
                raise ValueError("codes must be uint8 or int16")
            if v.ndim != 1 or len(v) > MAX_VALUES or not np.isfinite(v).all():
                raise ValueError(f"values must be 1-d tables of at most {MAX_VALUES} finite values")
            v.setflags(write=False)
        self.shape = (*self.codes[0].shape, len(self.codes))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes + (0 if v is None else v.nbytes) for c, v in zip(self.codes, self.values))

    def __len__(self) -> int:
        return self.shape[0]

    def _column(self, j: int, key: Any) -> np.ndarray:
        """Feature ``j`` at ``key`` (an index of the first two axes), decoded."""
        codes = self.codes[j][key]
        if self.values[j] is None:  # the values themselves
            return np.float32(codes) if np.ndim(codes) == 0 else codes
        if np.ndim(codes) == 0:
            return self.values[j][int(codes)]
        return _decode(codes, self.values[j])

    def __getitem__(self, key: Any) -> Any:
        key = key if isinstance(key, tuple) else (key,)
        if len(key) > 3 or any(k is Ellipsis or k is None for k in key):
            raise IndexError(f"a CodedArray takes up to three plain indices, got {key!r}")
        head, feature = key[:2], key[2] if len(key) == 3 else slice(None)
        if isinstance(feature, (int, np.integer)):  # one feature: its decoded values
            return self._column(int(feature), head)
        chosen = np.arange(len(self.codes))[feature]
        codes = [self.codes[j][head] for j in chosen]
        if codes and codes[0].ndim != 2:  # an integer SKU or period: decoded
            return np.stack([self._column(int(j), head) for j in chosen], axis=-1).astype(np.float32)
        if not codes:
            return np.zeros((*self.codes[0][head].shape, 0), dtype=np.float32)
        return CodedArray(codes, [self.values[j] for j in chosen])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = np.empty(self.shape, dtype=np.float32)
        for j, (codes, values) in enumerate(zip(self.codes, self.values)):
            if values is None:
                array[:, :, j] = codes
            else:
                _decode(codes, values, out=array[:, :, j])
        array.setflags(write=False)
        return array if dtype is None else array.astype(dtype, copy=False)

    def __repr__(self) -> str:
        kinds = ", ".join("float32" if v is None else f"{c.dtype} x {len(v)}" for c, v in zip(self.codes, self.values))
        return f"CodedArray(shape={self.shape}, codes: {kinds})"


def _decode(codes: np.ndarray, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``values[codes]`` as float32, by blocks of rows (``take`` widens its indices to intp: a
    block at a time bounds that copy)."""
    out = np.empty(codes.shape, dtype=np.float32) if out is None else out
    if codes.ndim < 2:
        out[...] = values.take(codes.astype(np.intp))
        return out
    rows = max(1, (1 << 22) // max(1, codes.shape[1]))
    for start in range(0, codes.shape[0], rows):
        out[start:start + rows] = values.take(codes[start:start + rows].astype(np.intp))
    return out
