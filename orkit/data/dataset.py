"""The :class:`Dataset`: demand trajectories of many SKUs, their features and static attributes.

A dataset holds, for ``n_skus`` SKUs (trajectories) observed over ``T`` periods,

- ``demand`` [d_{i,t}], shape (n_skus, T), float32, finite and >= 0;
- ``features`` [x_{i,t}], shape (n_skus, T, F), float32, finite, named by ``feature_names``;
- ``attributes``, a per-SKU table of static values (``lead_time``, ``review_period``, ...);
- ``split``, an optional ``"train"`` / ``"validation"`` / ``"test"`` label per SKU.

Memory layout: the simulator reads one period for all SKUs at a time, so demand is stored
time-major. ``dataset.demand`` is the (n_skus, T) transpose view of the C-contiguous (T, n_skus)
array ``dataset.demand_time_major``. Features stay (n_skus, T, F) C-contiguous. Every stored array
is read-only: a dataset is immutable and methods return new datasets.

The long table (one row per SKU and period) is the exchange format::

    sku, period, demand, <feature columns>, <attribute columns>, split

written to and read from CSV or Parquet by :meth:`Dataset.write` / :meth:`Dataset.read`, with a
small JSON header (name, metadata, column roles) that makes a round trip exact; the files
themselves are :mod:`orkit.data.files`' business.
"""

from __future__ import annotations

import copy
import logging
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from orkit.core.errors import DataError, ValidationError
from orkit.core.validation import check_int
from orkit.data.files import HEADER_KEY, read_long_table, write_long_table

__all__ = ["Dataset", "SPLIT_NAMES"]

logger = logging.getLogger(__name__)

#: The split labels, in the order :meth:`Dataset.splits` returns them.
SPLIT_NAMES: tuple[str, str, str] = ("train", "validation", "test")

_RESERVED_COLUMNS = frozenset({"sku", "period", "demand", "split"})


# ---------------------------------------------------------------------------------- helpers
def _fmt(value: Any) -> str:
    """A number as the user would write it (float32 values without float64 noise)."""
    if isinstance(value, (float, np.floating)):
        return str(np.float32(value))
    return repr(value)


def _owned_float32(value: np.ndarray, source: Any, transpose: bool = False) -> np.ndarray:
    """``value`` (or its transpose) as a read-only C-contiguous float32 array.

    The result is copied when it would share memory with a writeable ``source`` array, so
    that later changes to the caller's array cannot reach the dataset; read-only arrays of
    another dataset are shared, not copied.
    """
    array = np.ascontiguousarray(value.T if transpose else value, dtype=np.float32)
    if isinstance(source, np.ndarray) and source.flags.writeable and np.may_share_memory(array, source):
        array = array.copy()
    array.setflags(write=False)
    return array


def _numeric_array(name: str, value: Any, ndim: int, shape_doc: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise DataError(f"{name} must be {ndim}-d with shape {shape_doc}, got shape {array.shape}")
    return array


def _json_ready(value: Any) -> Any:
    """Metadata as plain JSON types (numpy arrays and scalars become lists and numbers)."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _attribute_dtype_names(attributes: pd.DataFrame) -> dict[str, str]:
    return {str(c): str(attributes[c].dtype) for c in attributes.columns}


class Dataset:
    """Demand trajectories of many SKUs with features, static attributes and split labels.

    Parameters
    ----------
    demand : array-like of shape (n_skus, n_periods)
        Demand per SKU and period [d_{i,t}], in units; finite and >= 0. Stored as float32 in
        time-major memory (see :attr:`demand_time_major`).
    features : array-like of shape (n_skus, n_periods, n_features), optional
        Exogenous features per SKU and period [x_{i,t}]; finite. ``None`` means no features.
    feature_names : sequence of str, optional
        One unique name per feature column; defaults to ``feature_0``, ``feature_1``, ... The
        names ``sku``, ``period``, ``demand`` and ``split`` are reserved.
    sku_ids : sequence, optional
        Unique SKU identifiers, stored as strings; defaults to ``sku_0000``, ``sku_0001``, ...
    attributes : DataFrame or mapping of column -> per-SKU values, optional
        Static per-SKU attributes. A DataFrame must be indexed by SKU id (any order); a mapping
        holds one value per SKU in ``sku_ids`` order. Optional columns with a meaning:
        ``lead_time`` (integer >= 0) [L] and ``review_period`` (integer >= 1) [P]. Column names
        must differ from feature names and the reserved names.
    split : sequence of str, optional
        ``"train"``, ``"validation"`` or ``"test"`` per SKU; ``None`` when not assigned.
    name : str, default="dataset"
        A short name used in reports and file headers.
    metadata : dict, optional
        Provenance: generator name and parameters, benchmark values, ... Stored as a deep copy;
        keep it JSON-like (numbers, strings, lists, dicts) so files round-trip it exactly.
    period_start : int, default=0
        Label of the first period in tables and messages (periods are ``period_start``,
        ``period_start + 1``, ...).

    Raises
    ------
    DataError
        Inconsistent shapes, NaN / infinite / negative demand, non-finite features, duplicate
        SKU ids or feature names, invalid split labels or attributes.

    Examples
    --------
    >>> ds = Dataset([[1, 2, 3], [0, 5, 1]], sku_ids=["A", "B"])
    >>> ds.n_skus, ds.n_periods, ds.demand_time_major.shape
    (2, 3, (3, 2))
    >>> Dataset([[1, -3]], sku_ids=["A"])
    Traceback (most recent call last):
    ...
    orkit.core.errors.DataError: demand must be >= 0, got -3.0 at sku 'A' period 1
    """

    def __init__(
        self,
        demand: Any,
        features: Any = None,
        feature_names: Sequence[str] | None = None,
        *,
        sku_ids: Sequence[Any] | None = None,
        attributes: pd.DataFrame | Mapping[str, Any] | None = None,
        split: Sequence[str] | None = None,
        name: str = "dataset",
        metadata: Mapping[str, Any] | None = None,
        period_start: int = 0,
    ) -> None:
        set_ = object.__setattr__
        if not isinstance(name, str):
            raise ValidationError(f"name must be a string, got {name!r}")
        period_start = check_int("period_start", period_start)
        set_(self, "_name", name)
        set_(self, "_period_start", period_start)

        raw_demand = _numeric_array("demand", demand, 2, "(n_skus, n_periods)")
        n_skus, n_periods = raw_demand.shape
        set_(self, "_sku_ids", self._convert_sku_ids(sku_ids, n_skus))
        demand_time_major = _owned_float32(raw_demand, demand, transpose=True)
        set_(self, "_demand_time_major", demand_time_major)
        self._check_demand()

        if features is None:
            feature_array = np.zeros((n_skus, n_periods, 0), dtype=np.float32)
            feature_array.setflags(write=False)
        else:
            raw_features = _numeric_array("features", features, 3, "(n_skus, n_periods, n_features)")
            if raw_features.shape[:2] != (n_skus, n_periods):
                raise DataError(
                    f"features must have shape (n_skus, n_periods, n_features) = ({n_skus}, "
                    f"{n_periods}, F) like demand, got {raw_features.shape}"
                )
            feature_array = _owned_float32(raw_features, features)
        set_(self, "_features", feature_array)
        set_(self, "_feature_names", self._convert_feature_names(feature_names, feature_array.shape[2]))
        self._check_features()

        set_(self, "_attributes", self._convert_attributes(attributes))
        set_(self, "_split", self._convert_split(split))
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ValidationError(f"metadata must be a dict, got {type(metadata).__name__}")
        set_(self, "_metadata", copy.deepcopy(dict(metadata or {})))

    # ------------------------------------------------------------------ immutability
    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(
            f"Dataset is immutable; cannot set {key!r} (derive a new one with subset, "
            "with_features, with_split, ...)"
        )

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"Dataset is immutable; cannot delete {key!r}")

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, key, value)

    # ------------------------------------------------------------------ conversion and checks
    @staticmethod
    def _convert_sku_ids(sku_ids: Any, n_skus: int) -> np.ndarray:
        if sku_ids is None:
            width = max(4, len(str(max(n_skus - 1, 0))))
            numbers = np.arange(n_skus).astype(str)
            ids = np.char.add("sku_", np.char.zfill(numbers, width)).astype(str) if n_skus else numbers
        else:
            ids = np.asarray(sku_ids)
            if ids.ndim != 1:
                raise DataError(f"sku_ids must be 1-d, got shape {ids.shape}")
            if ids.shape[0] != n_skus:
                raise DataError(f"sku_ids must have one id per SKU ({n_skus}), got {ids.shape[0]}")
            if ids.dtype.kind == "O" and pd.isna(ids).any():
                raise DataError("sku_ids must not contain missing values (None or NaN)")
            ids = ids.astype(str) if n_skus else np.array([], dtype=str)
        unique, counts = np.unique(ids, return_counts=True)
        if unique.shape[0] != ids.shape[0]:
            duplicated = unique[counts > 1]
            raise DataError(
                f"sku_ids must be unique, got {len(duplicated)} duplicated id(s): "
                f"{', '.join(map(repr, duplicated[:5].tolist()))}"
            )
        ids.setflags(write=False)
        return ids

    def _check_demand(self) -> None:
        demand = self._demand_time_major
        if demand.size == 0:
            return
        finite = np.isfinite(demand)
        if not finite.all():
            self._raise_at("demand", ~finite, "be finite")
        negative = demand < 0
        if negative.any():
            self._raise_at("demand", negative, "be >= 0")

    def _raise_at(self, name: str, bad_time_major: np.ndarray, rule: str, feature: str | None = None) -> None:
        """Raise a DataError at the first bad (sku, period) in SKU-major order."""
        sku_index, period = np.argwhere(bad_time_major.T)[0]
        value = (
            self._demand_time_major[period, sku_index]
            if feature is None
            else self._features[sku_index, period, self._feature_names.index(feature)]
        )
        count = int(bad_time_major.sum())
        where = f"sku {str(self._sku_ids[sku_index])!r} period {self._period_start + int(period)}"
        if feature is not None:
            where += f" feature {feature!r}"
        more = f" ({count - 1} more value(s) break the rule)" if count > 1 else ""
        raise DataError(f"{name} must {rule}, got {_fmt(value)} at {where}{more}")

    def _check_features(self) -> None:
        features = self._features
        if features.size == 0:
            return
        finite = np.isfinite(features)
        if not finite.all():
            column = int(np.argwhere(~finite.all(axis=(0, 1)))[0, 0])
            self._raise_at("features", ~finite[:, :, column].T, "be finite", self._feature_names[column])

    @staticmethod
    def _convert_feature_names(feature_names: Any, n_features: int) -> tuple[str, ...]:
        if feature_names is None:
            return tuple(f"feature_{j}" for j in range(n_features))
        if isinstance(feature_names, str):
            feature_names = (feature_names,)
        names = tuple(feature_names)
        bad = [n for n in names if not isinstance(n, str) or not n]
        if bad:
            raise DataError(f"feature_names must be non-empty strings, got {bad[0]!r}")
        if len(names) != n_features:
            raise DataError(
                f"feature_names must have one name per feature column ({n_features}), got {len(names)}: {list(names)}"
            )
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise DataError(f"feature_names must be unique, got duplicated {', '.join(map(repr, duplicated))}")
        reserved = [n for n in names if n in _RESERVED_COLUMNS]
        if reserved:
            raise DataError(
                f"feature_names must not use the reserved column names {sorted(_RESERVED_COLUMNS)}, got {reserved[0]!r}"
            )
        return names

    def _convert_attributes(self, attributes: Any) -> pd.DataFrame:
        index = pd.Index(self._sku_ids, name="sku", dtype="str")
        if attributes is None:
            table = pd.DataFrame(index=index)
        elif isinstance(attributes, pd.DataFrame):
            given = attributes.index.astype(str) if len(attributes.index) else attributes.index
            if given.has_duplicates:
                duplicate = str(given[given.duplicated()][0])
                raise DataError(f"attributes index must hold unique sku ids, got duplicated {duplicate!r}")
            missing = index.difference(given)
            extra = given.difference(index)
            if len(missing) or len(extra):
                detail = (
                    f"missing sku {str(missing[0])!r}" if len(missing) else f"unknown sku {str(extra[0])!r}"
                )
                raise DataError(
                    f"attributes must be indexed by the dataset's sku ids, got {detail} "
                    f"({len(missing)} missing, {len(extra)} unknown)"
                )
            table = attributes.copy()
            table.index = given
            table = table.reindex(index)
            table.index = index
        elif isinstance(attributes, Mapping):
            columns = {}
            for column, values in attributes.items():
                values = np.asarray(values)
                if values.ndim == 0:
                    values = np.full(len(index), values.item())
                if values.shape != (len(index),):
                    raise DataError(
                        f"attribute {column!r} must have one value per SKU ({len(index)}), got shape {values.shape}"
                    )
                columns[column] = values
            table = pd.DataFrame(columns, index=index)
        else:
            raise ValidationError(f"attributes must be a DataFrame or a mapping, got {type(attributes).__name__}")

        for column in table.columns:
            if not isinstance(column, str) or not column:
                raise DataError(f"attribute names must be non-empty strings, got {column!r}")
            if column in _RESERVED_COLUMNS or column in self._feature_names:
                raise DataError(
                    f"attribute {column!r} must not share its name with a feature or a reserved column "
                    f"{sorted(_RESERVED_COLUMNS)}"
                )
            series = table[column]
            if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
                table[column] = series.astype("str")
        if table.columns.has_duplicates:
            duplicate = str(table.columns[table.columns.duplicated()][0])
            raise DataError(f"attribute names must be unique, got duplicated {duplicate!r}")
        for column, minimum in (("lead_time", 0), ("review_period", 1)):
            if column in table.columns:
                table[column] = self._integer_attribute(table[column], column, minimum)
        table.columns = pd.Index([str(c) for c in table.columns], dtype=object)
        return table

    def _integer_attribute(self, series: pd.Series, column: str, minimum: int) -> np.ndarray:
        """``lead_time`` / ``review_period`` as int64 >= ``minimum``, or a DataError naming the SKU."""
        if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
            raise DataError(f"attribute {column} must hold integers, got dtype {series.dtype}")
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        rules = (
            (~np.isfinite(values), "be a finite integer"),
            (values != np.round(values), "be an integer"),
            (values < minimum, f"be >= {minimum}"),
        )
        for bad, rule in rules:
            bad = np.asarray(bad, dtype=bool)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                shown = int(values[i]) if np.isfinite(values[i]) and values[i] == round(values[i]) else values[i]
                raise DataError(f"attribute {column} must {rule}, got {shown} at sku {str(self._sku_ids[i])!r}")
        return values.astype(np.int64)

    def _convert_split(self, split: Any) -> np.ndarray | None:
        if split is None:
            return None
        labels = np.asarray(split)
        if labels.ndim != 1 or labels.shape[0] != self.n_skus:
            raise DataError(f"split must have one label per SKU ({self.n_skus}), got shape {labels.shape}")
        labels = labels.astype(str) if labels.size else np.array([], dtype=str)
        bad = ~np.isin(labels, SPLIT_NAMES)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"split must be one of {', '.join(map(repr, SPLIT_NAMES))}, got {str(labels[i])!r} "
                f"at sku {str(self._sku_ids[i])!r}"
            )
        labels = labels.astype("<U10")
        labels.setflags(write=False)
        return labels

    # ------------------------------------------------------------------ read-only views
    @property
    def demand(self) -> np.ndarray:
        """Demand [d_{i,t}], shape (n_skus, n_periods), float32; a transpose view of :attr:`demand_time_major`."""
        return self._demand_time_major.T

    @property
    def demand_time_major(self) -> np.ndarray:
        """Demand as a C-contiguous (n_periods, n_skus) float32 array: row ``t`` is period ``t`` for all SKUs."""
        return self._demand_time_major

    @property
    def features(self) -> np.ndarray:
        """Features [x_{i,t}], shape (n_skus, n_periods, n_features), C-contiguous float32."""
        return self._features

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._feature_names

    @property
    def sku_ids(self) -> np.ndarray:
        """SKU identifiers, a read-only numpy array of str, shape (n_skus,)."""
        return self._sku_ids

    @property
    def attributes(self) -> pd.DataFrame:
        """Per-SKU static attributes indexed by sku id (a copy; the dataset is immutable)."""
        return self._attributes.copy()

    @property
    def split(self) -> np.ndarray | None:
        """Split label per SKU (``"train"``, ``"validation"``, ``"test"``) or ``None``."""
        return self._split

    @property
    def name(self) -> str:
        return self._name

    @property
    def metadata(self) -> dict[str, Any]:
        """Provenance: generator name and parameters, benchmark values, ..."""
        return self._metadata

    @property
    def period_start(self) -> int:
        """Label of the first period (0 unless the source table started elsewhere)."""
        return self._period_start

    @property
    def n_skus(self) -> int:
        return int(self._demand_time_major.shape[1])

    @property
    def n_periods(self) -> int:
        """Number of periods [T]."""
        return int(self._demand_time_major.shape[0])

    @property
    def n_features(self) -> int:
        return int(self._features.shape[2])

    # ------------------------------------------------------------------ derived datasets
    def _replace(self, **changes: Any) -> "Dataset":
        values = dict(
            demand=self.demand,
            features=self._features,
            feature_names=self._feature_names,
            sku_ids=self._sku_ids,
            attributes=self._attributes,
            split=self._split,
            name=self._name,
            metadata=self._metadata,
            period_start=self._period_start,
        )
        values.update(changes)
        return Dataset(**values)

    def _resolve_index(self, index: Any) -> np.ndarray:
        if isinstance(index, slice):
            return np.arange(self.n_skus)[index]
        selector = np.asarray(index)
        if selector.ndim == 0:
            selector = selector.reshape(1)
        if selector.ndim != 1:
            raise ValidationError(f"index must be 1-d, got shape {selector.shape}")
        if selector.dtype == bool:
            if selector.shape[0] != self.n_skus:
                raise ValidationError(
                    f"index as a boolean mask must have one entry per SKU ({self.n_skus}), got {selector.shape[0]}"
                )
            return np.flatnonzero(selector)
        if selector.dtype.kind in "iu" or selector.size == 0:
            selector = selector.astype(np.int64)
            out_of_range = (selector < -self.n_skus) | (selector >= self.n_skus)
            if out_of_range.any():
                raise ValidationError(
                    f"index must be in [-{self.n_skus}, {self.n_skus}), got {int(selector[out_of_range][0])}"
                )
            return selector % max(self.n_skus, 1)
        if selector.dtype.kind in "UO":
            position = pd.Index(self._sku_ids).get_indexer(selector.astype(str))
            if (position < 0).any():
                raise ValidationError(f"index holds an unknown sku id {str(selector[position < 0][0])!r}")
            return position.astype(np.int64)
        raise ValidationError(f"index must hold integers, booleans or sku ids, got dtype {selector.dtype}")

    def subset(self, index: Any) -> "Dataset":
        """The SKUs selected by ``index``, with features, attributes and split kept aligned.

        Parameters
        ----------
        index : int, sequence of int, boolean mask of length n_skus, sequence of sku ids, or slice
            Which SKUs to keep, in the order given.

        Returns
        -------
        Dataset
        """
        rows = self._resolve_index(index)
        return self._replace(
            demand=self._demand_time_major[:, rows].T,
            features=self._features[rows],
            sku_ids=self._sku_ids[rows],
            attributes=self._attributes.iloc[rows],
            split=None if self._split is None else self._split[rows],
        )

    def splits(self) -> tuple["Dataset", "Dataset", "Dataset"]:
        """The ``(train, validation, test)`` datasets given by the stored split labels.

        Raises
        ------
        DataError
            If the dataset has no split labels.
        """
        if self._split is None:
            raise DataError(
                f"dataset {self._name!r} has no split labels; assign them with random_split(sizes, seed) "
                "or with_split(labels)"
            )
        parts = []
        for label in SPLIT_NAMES:
            part = self.subset(self._split == label)
            parts.append(part._replace(name=f"{self._name}/{label}"))
        return parts[0], parts[1], parts[2]

    def with_split(self, labels: Sequence[str] | None) -> "Dataset":
        """A copy with the given split labels (one per SKU; ``None`` removes them)."""
        return self._replace(split=labels)

    def random_split(self, sizes: Sequence[float], seed: int) -> "Dataset":
        """A copy with split labels drawn by a seeded permutation of the trajectories.

        Parameters
        ----------
        sizes : sequence of three numbers
            Train, validation and test sizes: integers summing to ``n_skus``, or fractions
            (floats) summing to 1, rounded to counts by largest remainder.
        seed : int
            Seed of ``numpy.random.default_rng``; the same seed gives the same labels.

        Returns
        -------
        Dataset
            The same trajectories in the same order, with ``split`` assigned.
        """
        counts = _split_counts(sizes, self.n_skus)
        seed = check_int("seed", seed, minimum=0)
        order = np.random.default_rng(seed).permutation(self.n_skus)
        labels = np.empty(self.n_skus, dtype="<U10")
        bounds = np.cumsum((0, *counts))
        for label, start, stop in zip(SPLIT_NAMES, bounds[:-1], bounds[1:]):
            labels[order[start:stop]] = label
        metadata = dict(self._metadata, split={"seed": seed, "sizes": [int(c) for c in counts]})
        return self._replace(split=labels, metadata=metadata)

    def feature(self, name: str) -> np.ndarray:
        """The values of feature ``name``, shape (n_skus, n_periods) (a read-only view)."""
        try:
            column = self._feature_names.index(name)
        except ValueError:
            raise KeyError(
                f"feature {name!r} is not in dataset {self._name!r}; it has {list(self._feature_names)}"
            ) from None
        return self._features[:, :, column]

    def with_features(self, names: str | Sequence[str], values: Any) -> "Dataset":
        """A copy with extra feature columns appended.

        Parameters
        ----------
        names : str or sequence of str
            Names of the new features; must not exist yet.
        values : array-like of shape (n_skus, n_periods) or (n_skus, n_periods, k)
            One (n_skus, n_periods) array per name.
        """
        names = (names,) if isinstance(names, str) else tuple(names)
        existing = [n for n in names if n in self._feature_names]
        if existing:
            raise DataError(f"feature {existing[0]!r} already exists in dataset {self._name!r}; pick another name")
        array = np.asarray(values)
        if array.dtype.kind not in "biuf":
            raise DataError(f"values must be numeric, got dtype {array.dtype}")
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.shape != (self.n_skus, self.n_periods, len(names)):
            raise DataError(
                f"values must have shape (n_skus, n_periods[, k]) = ({self.n_skus}, {self.n_periods}, {len(names)}), "
                f"got {np.asarray(values).shape}"
            )
        features = np.concatenate([self._features, array.astype(np.float32)], axis=2)
        return self._replace(features=features, feature_names=self._feature_names + names)

    def select_features(self, names: Sequence[str]) -> "Dataset":
        """A copy that keeps only the features ``names`` (in that order)."""
        names = (names,) if isinstance(names, str) else tuple(names)
        columns = [self._feature_names.index(n) if n in self._feature_names else -1 for n in names]
        if -1 in columns:
            missing = names[columns.index(-1)]
            raise KeyError(
                f"feature {missing!r} is not in dataset {self._name!r}; it has {list(self._feature_names)}"
            )
        return self._replace(features=self._features[:, :, columns], feature_names=names)

    # ------------------------------------------------------------------ tables and files
    def to_frame(self) -> pd.DataFrame:
        """The long table: one row per SKU and period, SKU-major.

        Columns: ``sku``, ``period``, ``demand``, the features, the attributes (repeated over
        periods) and ``split`` when labels are assigned. ``frame.attrs["orkit-dataset"]`` keeps
        the name, metadata and column roles so that :meth:`from_frame` restores the dataset
        exactly.
        """
        n, horizon = self.n_skus, self.n_periods
        sku_rows = np.repeat(np.arange(n), horizon)
        columns: dict[str, Any] = {
            "sku": pd.array(np.repeat(self._sku_ids, horizon), dtype="str"),
            "period": np.tile(np.arange(self._period_start, self._period_start + horizon, dtype=np.int64), n),
            "demand": self.demand.reshape(-1),
        }
        flat_features = self._features.reshape(n * horizon, self.n_features)
        for j, feature_name in enumerate(self._feature_names):
            columns[feature_name] = flat_features[:, j]
        frame = pd.DataFrame(columns)
        if len(self._attributes.columns):
            repeated = self._attributes.iloc[sku_rows].reset_index(drop=True)
            frame = pd.concat([frame, repeated], axis=1)
        if self._split is not None:
            frame["split"] = pd.array(np.repeat(self._split, horizon), dtype="str")
        frame.attrs[HEADER_KEY] = self._header()
        return frame

    def _header(self) -> dict[str, Any]:
        return {
            "format": 1,
            "name": self._name,
            "feature_names": list(self._feature_names),
            "attributes": _attribute_dtype_names(self._attributes),
            "metadata": _json_ready(self._metadata),
        }

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        sku: str = "sku",
        period: str = "period",
        demand: str = "demand",
        features: Sequence[str] | None = None,
        attributes: Sequence[str] | None = None,
        split: str | None = None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> "Dataset":
        """Build a dataset from a long table with one row per SKU and period.

        Parameters
        ----------
        frame : DataFrame
            The table; row order does not matter.
        sku, period, demand : str
            Names of the SKU id, period and demand columns. Periods must be integers forming the
            same consecutive range for every SKU (they need not start at 0).
        features : sequence of str, optional
            Feature columns (numeric). ``None``: every other numeric (or boolean) column except
            the SKU, period, demand, split and attribute columns.
        attributes : sequence of str, optional
            Per-SKU static columns (constant within each SKU). ``None``: the attribute columns
            recorded by :meth:`to_frame` / :meth:`read` in ``frame.attrs``, else none.
        split : str, optional
            Column with split labels (constant within each SKU). ``None``: ``"split"`` if present.
        name : str, optional
            Dataset name; default the recorded name or ``"dataset"``.
        metadata : dict, optional
            Merged over the recorded metadata.

        Returns
        -------
        Dataset
            SKUs in order of first appearance, periods sorted.

        Raises
        ------
        DataError
            Missing columns, non-numeric demand or features, non-integer periods, duplicate
            (sku, period) rows, ragged periods, NaN or negative demand, attributes or split
            labels that vary within a SKU.
        """
        if not isinstance(frame, pd.DataFrame):
            raise ValidationError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
        for role, column in (("sku", sku), ("period", period), ("demand", demand)):
            if not isinstance(column, str):
                raise ValidationError(f"{role} must be a column name (str), got {column!r}")
        if len({sku, period, demand}) < 3:
            raise ValidationError(
                f"sku, period and demand must name different columns, got {sku!r}, {period!r}, {demand!r}"
            )
        hints = frame.attrs.get(HEADER_KEY) if isinstance(frame.attrs.get(HEADER_KEY), Mapping) else {}
        available = [str(c) for c in frame.columns]

        if split is None and "split" in frame.columns and "split" not in (sku, period, demand):
            split = "split"
        if attributes is None:
            attributes = [c for c in hints.get("attributes", {}) if c in frame.columns]
        attributes = [attributes] if isinstance(attributes, str) else list(attributes)
        roles = [("sku", [sku]), ("period", [period]), ("demand", [demand]), ("attributes", attributes)]
        if features is not None:
            features = [features] if isinstance(features, str) else list(features)
            roles.append(("features", features))
        if split is not None:
            roles.append(("split", [split]))
        missing = [
            f"{column!r} ({role})" for role, columns in roles for column in columns if column not in frame.columns
        ]
        if missing:
            raise DataError(
                f"frame is missing column(s) {', '.join(missing)}; available columns: {available}"
            )
        known = {sku, period, demand, *attributes} | ({split} if split is not None else set())
        if features is None:
            features = [c for c in frame.columns if c not in known]
            _refuse_text_columns(frame, features, sku)
        overlap = set(features) & known
        if overlap:
            raise ValidationError(
                f"features must not include the sku, period, demand, split or attribute columns, got {sorted(overlap)}"
            )
        if frame.columns.has_duplicates:
            duplicated_columns = sorted(set(frame.columns[frame.columns.duplicated()]))
            raise DataError(f"frame has duplicated column names: {duplicated_columns}")
        if len(frame) == 0:
            raise DataError("frame must have at least one row, got an empty table")

        # SKUs in order of first appearance
        sku_values = frame[sku]
        if sku_values.isna().any():
            row = int(np.flatnonzero(sku_values.isna().to_numpy())[0])
            raise DataError(f"sku column {sku!r} must not have missing values, got NaN at row {row}")
        codes, uniques = pd.factorize(sku_values.astype(str), sort=False)
        sku_ids = np.asarray(uniques, dtype=str)
        n_skus = len(sku_ids)

        periods = _integer_periods(frame[period], period)
        first, last = int(periods.min()), int(periods.max())
        n_periods = last - first + 1
        offset = periods - first

        key = codes.astype(np.int64) * n_periods + offset
        duplicated = pd.Index(key).duplicated()
        if duplicated.any():
            row = int(np.flatnonzero(duplicated)[0])
            same = np.flatnonzero(key == key[row])
            raise DataError(
                f"duplicate (sku, period) rows: sku {str(sku_ids[codes[row]])!r} period {int(periods[row])} appears "
                f"{len(same)} times (rows {', '.join(map(str, same[:5].tolist()))}); each SKU needs one row per period"
            )
        if len(frame) != n_skus * n_periods:
            present = np.zeros((n_skus, n_periods), dtype=bool)
            present[codes, offset] = True
            incomplete = np.flatnonzero(~present.all(axis=1))
            first_sku = int(incomplete[0])
            absent = np.flatnonzero(~present[first_sku]) + first
            shown = ", ".join(map(str, absent[:10].tolist())) + (", ..." if len(absent) > 10 else "")
            raise DataError(
                f"periods are ragged: sku {str(sku_ids[first_sku])!r} is missing period(s) {shown} of the range "
                f"{first}..{last} ({len(incomplete)} SKU(s) incomplete); every SKU needs the same consecutive periods"
            )

        demand_values = _numeric_column(frame[demand], demand, "demand", sku_ids, codes, periods)
        demand_time_major = np.empty((n_periods, n_skus), dtype=np.float32)
        demand_time_major[offset, codes] = demand_values

        feature_array = np.empty((n_skus, n_periods, len(features)), dtype=np.float32)
        for j, column in enumerate(features):
            values = _numeric_column(frame[column], column, "feature", sku_ids, codes, periods)
            feature_array[codes, offset, j] = values

        first_rows = np.unique(codes, return_index=True)[1]  # first row of each SKU, in SKU order
        attribute_table = pd.DataFrame(index=pd.Index(sku_ids, name="sku", dtype="str"))
        for column in attributes:
            values = _per_sku_column(frame[column], column, "attribute", sku_ids, codes, first_rows)
            attribute_table[column] = values.to_numpy()
            attribute_table[column] = attribute_table[column].astype(values.dtype)
        labels = None
        if split is not None:
            split_values = frame[split]
            if split_values.isna().any():
                row = int(np.flatnonzero(split_values.isna().to_numpy())[0])
                raise DataError(
                    f"split column {split!r} must not have missing values, got NaN at row {row} "
                    f"(sku {str(sku_ids[codes[row]])!r})"
                )
            labels = _per_sku_column(split_values.astype(str), split, "split", sku_ids, codes, first_rows)
            labels = labels.to_numpy()

        merged = dict(hints.get("metadata", {}) or {})
        merged.update(metadata or {})
        return cls(
            demand_time_major.T,
            feature_array,
            tuple(str(f) for f in features),
            sku_ids=sku_ids,
            attributes=attribute_table,
            split=labels,
            name=name if name is not None else str(hints.get("name", "dataset")),
            metadata=merged,
            period_start=first,
        )

    def write(self, path: str | Path) -> Path:
        """Write the long table to ``path`` (``.csv`` or ``.parquet``, chosen by suffix).

        Parent folders are created. Both formats record the name, metadata and column roles
        so that :meth:`read` restores the dataset exactly.

        Returns
        -------
        Path
            The path written.
        """
        path = write_long_table(self.to_frame(), path)
        logger.debug("wrote dataset %r (%d SKUs x %d periods) to %s", self._name, self.n_skus, self.n_periods, path)
        return path

    @classmethod
    def read(cls, path: str | Path, **from_frame_options: Any) -> "Dataset":
        """Read a dataset written by :meth:`write`, or any long table in CSV or Parquet.

        Parameters
        ----------
        path : str or Path
            A ``.csv`` or ``.parquet`` file.
        **from_frame_options
            Column mapping and roles passed to :meth:`from_frame` (``sku``, ``period``,
            ``demand``, ``features``, ``attributes``, ``split``, ``name``, ``metadata``).

        Raises
        ------
        DataError
            The file does not exist (also a ``FileNotFoundError``), or the table is malformed.
        ValidationError
            The suffix is neither ``.csv`` nor ``.parquet``.
        """
        frame = read_long_table(path, sku=from_frame_options.get("sku", "sku"),
                                split=from_frame_options.get("split"))
        return cls.from_frame(frame, **from_frame_options)

    # ------------------------------------------------------------------ comparison and display
    def equals(self, other: object) -> bool:
        """Whether ``other`` holds exactly the same arrays, names, ids, attributes, split and metadata."""
        if not isinstance(other, Dataset):
            return False
        same_split = (self._split is None and other._split is None) or (
            self._split is not None and other._split is not None and np.array_equal(self._split, other._split)
        )
        return (
            self._name == other._name
            and self._period_start == other._period_start
            and self._feature_names == other._feature_names
            and np.array_equal(self._sku_ids, other._sku_ids)
            and np.array_equal(self._demand_time_major, other._demand_time_major)
            and np.array_equal(self._features, other._features)
            and same_split
            and self._attributes.equals(other._attributes)
            and list(self._attributes.columns) == list(other._attributes.columns)
            and _json_ready(self._metadata) == _json_ready(other._metadata)
        )

    def __repr__(self) -> str:
        if self._split is None:
            split = "None"
        else:
            split = "/".join(str(int(np.sum(self._split == label))) for label in SPLIT_NAMES)
        return (
            f"Dataset(name={self._name!r}, n_skus={self.n_skus}, n_periods={self.n_periods}, "
            f"n_features={self.n_features}, split={split})"
        )

    def __len__(self) -> int:
        return self.n_skus


# ---------------------------------------------------------------------------------- module helpers
def _split_counts(sizes: Any, n_skus: int, name: str = "sizes") -> tuple[int, int, int]:
    """Train / validation / test counts from counts or fractions (``name`` is used in errors)."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) and not isinstance(sizes, np.ndarray):
        raise ValidationError(f"{name} must be three numbers (train, validation, test), got {sizes!r}")
    values = list(sizes)
    if len(values) != 3:
        raise ValidationError(f"{name} must be three numbers (train, validation, test), got {len(values)}: {values}")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in values):
        raise ValidationError(f"{name} must be numbers, got {values}")
    if any(v < 0 or not np.isfinite(v) for v in values):
        raise ValidationError(f"{name} must be finite and >= 0, got {values}")
    if all(isinstance(v, numbers.Integral) for v in values):
        if sum(values) != n_skus:
            raise ValidationError(f"{name} must sum to the number of SKUs ({n_skus}), got {values} (sum {sum(values)})")
        return int(values[0]), int(values[1]), int(values[2])
    fractions = np.asarray(values, dtype=float)
    if abs(fractions.sum() - 1.0) > 1e-9:
        raise ValidationError(f"{name} as fractions must sum to 1, got {values} (sum {fractions.sum():g})")
    exact = fractions * n_skus
    counts = np.floor(exact + 1e-9).astype(np.int64)
    remainder = n_skus - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:remainder]] += 1
    return int(counts[0]), int(counts[1]), int(counts[2])


def _integer_periods(series: pd.Series, column: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise DataError(
            f"period column {column!r} must hold integers, got dtype {series.dtype}"
            + ("; convert dates to integer period numbers first" if pd.api.types.is_datetime64_any_dtype(series) else "")
        )
    values = series.to_numpy(dtype=float, na_value=np.nan) if series.dtype.kind not in "iu" else series.to_numpy()
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"period column {column!r} must hold integers, got {float(values[row])!r} at row {row}")
    return values.astype(np.int64)


def _refuse_text_columns(frame: pd.DataFrame, columns: Sequence[str], sku: str) -> None:
    """Every column taken as a feature by default must be numeric: a text column, or a numeric
    column with one stray word in it, is an error naming it, never silently dropped."""
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        coerced = pd.to_numeric(series, errors="coerce")
        bad = (coerced.isna() & series.notna()).to_numpy()
        if bad.any() and bad.mean() < 0.5:
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"column {column!r} is numeric but for {int(bad.sum())} value(s): first {series.iloc[row]!r} at row "
                f"{row} (sku {str(frame[sku].iloc[row])!r}); fix them, or leave the column out with features=[...]"
            )
        raise DataError(
            f"column {column!r} holds text (e.g. {series.dropna().iloc[0] if series.notna().any() else None!r}), "
            "which cannot be a feature: name it as an attribute (attributes=[...]) if it is constant per SKU, "
            "choose the feature columns with features=[...], or drop it"
        )


def _numeric_column(
    series: pd.Series, column: str, role: str, sku_ids: np.ndarray, codes: np.ndarray, periods: np.ndarray
) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=np.float32)
    if not pd.api.types.is_numeric_dtype(series):
        coerced = pd.to_numeric(series, errors="coerce")
        bad = (coerced.isna() & series.notna()).to_numpy()
        where = ""
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            where = (
                f" (first non-numeric value {series.iloc[row]!r} at sku {str(sku_ids[codes[row]])!r} "
                f"period {int(periods[row])})"
            )
        raise DataError(f"{role} column {column!r} must be numeric, got dtype {series.dtype}{where}")
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _per_sku_column(
    series: pd.Series, column: str, role: str, sku_ids: np.ndarray, codes: np.ndarray, first_rows: np.ndarray
) -> pd.Series:
    """The value of a per-SKU constant column at each SKU's first row; error if it varies."""
    values = series.reset_index(drop=True)
    reference = values.take(first_rows[codes]).reset_index(drop=True)
    equal = (values == reference).fillna(False).to_numpy(dtype=bool)
    same = equal | (values.isna() & reference.isna()).to_numpy()
    if not same.all():
        row = int(np.flatnonzero(~same)[0])
        sku_index = codes[row]
        seen = pd.unique(values[codes == sku_index])[:5]
        raise DataError(
            f"{role} column {column!r} must be constant within each SKU, got values "
            f"{[v.item() if hasattr(v, 'item') else v for v in seen]} for sku {str(sku_ids[sku_index])!r}"
        )
    return values.take(first_rows).reset_index(drop=True)
