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
from orkit.data import calendar, ingest
from orkit.data.coded import CodedArray, code_dtype
from orkit.data.schema import FeatureRole, infer_roles, parse_roles
from orkit.data.files import HEADER_KEY, read_dataset_header, read_long_table, table_suffix, write_dataset_file

__all__ = ["Dataset", "SPLIT_NAMES"]

logger = logging.getLogger(__name__)

#: The split labels, in the order :meth:`Dataset.splits` returns them.
SPLIT_NAMES: tuple[str, str, str] = ("train", "validation", "test")

#: the options of :meth:`Dataset.read` (those of :meth:`Dataset.from_frame`)
READ_OPTIONS = ("sku", "period", "date", "demand", "features", "attributes", "split", "stockout", "freq",
                "fill_missing", "lives", "name", "metadata", "feature_roles", "calendar")

#: files are written in blocks of whole SKUs of about this many rows
WRITE_BLOCK_ROWS = 1 << 20

_RESERVED_COLUMNS = frozenset({"sku", "period", "date", "demand", "censored", "split"})


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
        A :class:`~orkit.data.coded.CodedArray` (as the file readers make) is kept coded.
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
    life : (first, last) pair of int arrays of shape (n_skus,), optional
        The first and last period (0-based indices, inclusive) in which each SKU exists: a SKU
        launched or withdrawn inside the horizon. Demand outside a SKU's life must be 0;
        features there are not kept (stored as 0: a file has no row outside a life).
        ``None``: every SKU lives the whole horizon.
    censored : array-like of bool, shape (n_skus, n_periods), optional
        ``True`` where the demand was censored by a stock-out (the sales understate it).
        ``None``: not recorded. Must be ``False`` outside a SKU's life.
    start_date : str or date-like, optional
        Date of the first period; with ``freq``, gives every period a date (:attr:`dates`).
    freq : {"D", "W"}, optional
        One period per day or per week; required with ``start_date``.
    history_periods : int, default=0
        The first ``history_periods`` periods are history: a simulation runs the policy under
        test through them, so that the periods after start from the on-hand, pipeline and
        recent demand the history leaves, but only the periods after are scored (a backtest
        window, :meth:`window` with ``history=True``). ``0 <= history_periods < n_periods``.
    feature_roles : mapping of feature name -> role, optional
        How each feature is used (:mod:`orkit.data.schema`): ``"numeric"``, ``"quantity"``,
        ``"forecast"``, ``"categorical"`` (``"categorical:1,2,3"`` with its categories),
        ``"calendar:weekday"``, or a :class:`~orkit.data.schema.FeatureRole`. Undeclared
        features are inferred (``numeric``, or from the legacy metadata keys
        ``coeff_features`` / ``categorical_features``); :attr:`feature_roles` has them all.

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
        life: tuple[Any, Any] | None = None,
        censored: Any = None,
        start_date: Any = None,
        freq: str | None = None,
        history_periods: int = 0,
        feature_roles: Mapping[str, Any] | None = None,
    ) -> None:
        set_ = object.__setattr__
        if not isinstance(name, str):
            raise ValidationError(f"name must be a string, got {name!r}")
        period_start = check_int("period_start", period_start)
        set_(self, "_name", name)
        set_(self, "_period_start", period_start)
        if (start_date is None) != (freq is None):
            raise ValidationError(f"start_date and freq go together (a calendar), got start_date={start_date!r} and "
                                  f"freq={freq!r}")
        set_(self, "_freq", calendar.check_freq(freq))
        set_(self, "_start_day", None if start_date is None else calendar.to_day(start_date))

        raw_demand = _numeric_array("demand", demand, 2, "(n_skus, n_periods)")
        n_skus, n_periods = raw_demand.shape
        set_(self, "_sku_ids", self._convert_sku_ids(sku_ids, n_skus))
        demand_time_major = _owned_float32(raw_demand, demand, transpose=True)
        set_(self, "_demand_time_major", demand_time_major)
        self._check_demand()
        set_(self, "_life", self._convert_life(life))

        if features is None:
            feature_array = np.zeros((n_skus, n_periods, 0), dtype=np.float32)
            feature_array.setflags(write=False)
        elif isinstance(features, CodedArray):  # kept coded (see orkit.data.coded)
            if features.ndim != 3 or features.shape[:2] != (n_skus, n_periods):
                raise DataError(f"features must have shape (n_skus, n_periods, n_features) = ({n_skus}, "
                                f"{n_periods}, F) like demand, got {features.shape}")
            feature_array = features
        else:
            raw_features = _numeric_array("features", features, 3, "(n_skus, n_periods, n_features)")
            if raw_features.shape[:2] != (n_skus, n_periods):
                raise DataError(
                    f"features must have shape (n_skus, n_periods, n_features) = ({n_skus}, "
                    f"{n_periods}, F) like demand, got {raw_features.shape}"
                )
            feature_array = _owned_float32(raw_features, features)
        set_(self, "_features", self._features_inside_lives(feature_array))
        set_(self, "_feature_names", self._convert_feature_names(feature_names, feature_array.shape[2]))
        self._check_features()
        set_(self, "_censored_time_major", self._convert_censored(censored))

        set_(self, "_attributes", self._convert_attributes(attributes))
        set_(self, "_split", self._convert_split(split))
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ValidationError(f"metadata must be a dict, got {type(metadata).__name__}")
        set_(self, "_metadata", copy.deepcopy(dict(metadata or {})))
        set_(self, "_feature_roles", infer_roles(self._feature_names, parse_roles(feature_roles, self._feature_names),
                                                 self._metadata))
        self._check_feature_roles()
        history_periods = check_int("history_periods", history_periods, minimum=0)
        if history_periods and history_periods >= n_periods:
            raise ValidationError(f"history_periods must be < n_periods ({n_periods}): a window needs a scored period "
                                  f"after its history, got {history_periods}")
        set_(self, "_history_periods", history_periods)

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
        if "_feature_roles" not in state:  # pickled before feature roles: inferred as on construction
            object.__setattr__(self, "_feature_roles", infer_roles(self._feature_names, {}, self._metadata))

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
        low, high = demand.min(), demand.max()  # NaN propagates: one pass each, no (T, n) temporary
        if low >= 0 and np.isfinite(high):
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
        where = f"sku {str(self._sku_ids[sku_index])!r} {self._period_label(int(period))}"
        if feature is not None:
            where += f" feature {feature!r}"
        more = f" ({count - 1} more value(s) break the rule)" if count > 1 else ""
        raise DataError(f"{name} must {rule}, got {_fmt(value)} at {where}{more}")

    def _check_features(self) -> None:
        features = self._features
        if features.size == 0:
            return
        if isinstance(features, CodedArray):  # tables hold finite values only; the float32 columns are checked
            columns = [(j, c) for j, (c, v) in enumerate(zip(features.codes, features.values)) if v is None]
        else:
            columns = [(j, features[:, :, j]) for j in range(features.shape[2])]
        for j, column in columns:
            if not (np.isfinite(column.min()) and np.isfinite(column.max())):
                self._raise_at("features", ~np.isfinite(column).T, "be finite", self._feature_names[j])

    def _period_label(self, period: int) -> str:
        """``period 3`` or, with a calendar, ``date 2024-01-04 (period 3)``."""
        label = f"period {self._period_start + period}"
        if self._start_day is None:
            return label
        day = self._start_day + period * calendar.FREQUENCIES[self._freq]
        return f"date {calendar.day_label(day)} ({label})"

    def _convert_life(self, life: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """``(first, last)`` as read-only int64 arrays, or ``None`` when every SKU lives the whole
        horizon; demand outside a life must be 0."""
        if life is None:
            return None
        if not isinstance(life, (tuple, list)) or len(life) != 2:
            raise ValidationError(f"life must be a pair (first, last) of per-SKU period indices, got {type(life).__name__}")
        n_skus, n_periods = self.n_skus, self.n_periods
        bounds = []
        for label, value in zip(("first", "last"), life):
            array = np.asarray(value)
            if array.shape != (n_skus,) or array.dtype.kind not in "iu":
                raise DataError(f"life {label} must be integers of shape ({n_skus},), got dtype {array.dtype} shape "
                                f"{array.shape}")
            bounds.append(array.astype(np.int64))
        first, last = bounds
        bad = (first < 0) | (last > n_periods - 1) | (first > last)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"life must satisfy 0 <= first <= last <= {n_periods - 1}, got first {int(first[i])} and "
                            f"last {int(last[i])} at sku {str(self._sku_ids[i])!r}")
        partial = np.flatnonzero((first > 0) | (last < n_periods - 1))
        if not len(partial):
            return None
        outside = self._outside_life_mask(first, last, partial)
        demand = self._demand_time_major[:, partial]
        nonzero = outside & (demand != 0)
        if nonzero.any():
            t, k = np.argwhere(nonzero)[0]
            raise DataError(f"demand must be 0 outside a SKU's life, got {_fmt(demand[t, k])} at sku "
                            f"{str(self._sku_ids[partial[k]])!r} {self._period_label(int(t))} (life "
                            f"{int(first[partial[k]])}..{int(last[partial[k]])})")
        for array in (first, last):
            array.setflags(write=False)
        return first, last

    def _features_inside_lives(self, features: np.ndarray) -> np.ndarray:
        """``features`` with 0 outside each SKU's life (a copy only where a value there is not 0)."""
        if self._life is None or features.shape[2] == 0:
            return features
        first, last = self._life
        partial = np.flatnonzero((first > 0) | (last < self.n_periods - 1))
        outside = self._outside_life_mask(first, last, partial).T  # (k, T)
        if not (np.asarray(features[partial]) * outside[:, :, None]).any():
            return features
        features = np.array(features)  # a copy (float32, also of coded features)
        features[partial] *= ~outside[:, :, None]
        features.setflags(write=False)
        return features

    def _outside_life_mask(self, first: np.ndarray, last: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """(T, len(columns)) bool: True outside the life of each SKU in ``columns``."""
        t = np.arange(self.n_periods)[:, None]
        return (t < first[columns]) | (t > last[columns])

    def _convert_censored(self, censored: Any) -> np.ndarray | None:
        if censored is None:
            return None
        array = np.asarray(censored)
        if array.shape != (self.n_skus, self.n_periods):
            raise DataError(f"censored must have shape (n_skus, n_periods) = ({self.n_skus}, {self.n_periods}), got "
                            f"{array.shape}")
        if array.dtype != bool:
            if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
                raise DataError(f"censored must hold booleans (or 0/1), got dtype {array.dtype}")
            array = array.astype(bool)
        time_major = np.ascontiguousarray(array.T)
        if isinstance(censored, np.ndarray) and censored.flags.writeable and np.may_share_memory(time_major, censored):
            time_major = time_major.copy()
        if self._life is not None:
            first, last = self._life
            partial = np.flatnonzero((first > 0) | (last < self.n_periods - 1))
            flagged = self._outside_life_mask(first, last, partial) & time_major[:, partial]
            if flagged.any():
                t, k = np.argwhere(flagged)[0]
                raise DataError(f"censored must be False outside a SKU's life, got True at sku "
                                f"{str(self._sku_ids[partial[k]])!r} {self._period_label(int(t))}")
        time_major.setflags(write=False)
        return time_major

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
        """Features [x_{i,t}], shape (n_skus, n_periods, n_features), C-contiguous float32.

        Read-only. Features a file reader kept coded (:attr:`stored_features`) are decoded into a
        new array on each read.
        """
        return np.asarray(self._features)

    @property
    def stored_features(self) -> np.ndarray | CodedArray:
        """The features as the dataset holds them: :attr:`features` itself, or a
        :class:`~orkit.data.coded.CodedArray` (2-byte codes into a table of the distinct values)
        where a file reader found few distinct values; no copy either way."""
        return self._features

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._feature_names

    @property
    def feature_roles(self) -> dict[str, FeatureRole]:
        """How each feature is used, ``{name: FeatureRole}`` in feature order (a copy): the one
        schema the learners, the contextual heuristics and the two-stage forecaster read
        (:mod:`orkit.data.schema`)."""
        return dict(self._feature_roles)

    def features_with_role(self, *roles: str) -> tuple[str, ...]:
        """The names of the features whose role is one of ``roles``, in feature order.

        Examples
        --------
        >>> ds = Dataset(np.ones((1, 2)), np.ones((1, 2, 2)), ["price", "ma7"], feature_roles={"ma7": "quantity"})
        >>> ds.features_with_role("quantity"), ds.features_with_role("numeric")
        (('ma7',), ('price',))
        """
        return tuple(name for name, role in self._feature_roles.items() if role.role in roles)

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
    def history_periods(self) -> int:
        """Periods of history before the scored ones (0: every period is scored after the
        warm-up); see :meth:`window`."""
        return self.__dict__.get("_history_periods", 0)

    # ------------------------------------------------------------------ calendar
    @property
    def freq(self) -> str | None:
        """``"D"`` (daily) or ``"W"`` (weekly) periods, or ``None`` for a dataset without dates."""
        return self._freq

    @property
    def start_date(self) -> pd.Timestamp | None:
        """Date of the first period, or ``None`` for a dataset without dates."""
        return None if self._start_day is None else pd.Timestamp(np.datetime64(self._start_day, "D"))

    @property
    def dates(self) -> pd.DatetimeIndex | None:
        """The date of each period (length ``n_periods``), or ``None`` for a dataset without dates."""
        if self._start_day is None:
            return None
        return calendar.period_dates(self._start_day, self._freq, self.n_periods)

    # ------------------------------------------------------------------ lives and censoring
    @property
    def life(self) -> tuple[np.ndarray, np.ndarray]:
        """``(first, last)``: per SKU, the first and last period index (0-based, inclusive) in
        which it exists; demand outside is 0. Two read-only int64 arrays of shape (n_skus,).

        The simulator can mask period ``t`` as ``(first <= t) & (t <= last)`` (one comparison of
        two (n_skus,) vectors per period, no (T, n_skus) table)."""
        if self._life is not None:
            return self._life
        first = np.zeros(self.n_skus, dtype=np.int64)
        last = np.full(self.n_skus, self.n_periods - 1, dtype=np.int64)
        first.setflags(write=False)
        last.setflags(write=False)
        return first, last

    @property
    def full_lives(self) -> bool:
        """Whether every SKU exists in every period (no launch or withdrawal inside the horizon)."""
        return self._life is None

    def alive(self) -> np.ndarray:
        """Time-major (n_periods, n_skus) bool: ``True`` where the SKU exists (a new array)."""
        first, last = self.life
        t = np.arange(self.n_periods)[:, None]
        return (first <= t) & (t <= last)

    def check_full_lives(self, doing: str = "fitting on", why: str | None = None,
                         instead: str | None = None) -> "Dataset":
        """Return the dataset if every SKU lives the whole horizon; otherwise raise a DataError
        naming the SKUs that start later or end earlier.

        Code that cannot honour SKU lives calls this on every dataset it receives, so that
        nothing outside a life is silently read as zero demand (the simulator and most fits
        honour lives; docs/data.md lists what refuses them and why). ``doing`` completes the
        message ("fitting on ... SKUs ... is not supported"); ``why`` and ``instead`` replace
        its default reason and advice.
        """
        if self._life is None:
            return self
        first, last = self._life
        partial = np.flatnonzero((first > 0) | (last < self.n_periods - 1))
        shown = ", ".join(f"{str(self._sku_ids[i])!r} ({self._life_label(int(first[i]))}.."
                          f"{self._life_label(int(last[i]))})" for i in partial[:5])
        more = f" and {len(partial) - 5} more" if len(partial) > 5 else ""
        raise DataError(
            f"dataset {self._name!r} has {len(partial)} SKU(s) that do not live the whole horizon "
            f"({self._life_label(0)}..{self._life_label(self.n_periods - 1)}): {shown}{more}; {doing} SKUs that "
            "start or end inside the horizon is not supported ("
            + (why or "their periods outside the life would read as zero demand") + "): "
            + (instead or "fit on the SKUs that do")
            + ", or, if the periods before a SKU's first row and after its last are days without sales, read the "
            "data with lives='full' and fill_missing='zero' (orkit: --lives full --fill-missing zero)"
        )

    def _life_label(self, period: int) -> str:
        if self._start_day is None:
            return str(self._period_start + period)
        return calendar.day_label(self._start_day + period * calendar.FREQUENCIES[self._freq])

    @property
    def censored(self) -> np.ndarray | None:
        """Stock-out flag [censored demand], shape (n_skus, n_periods), bool: ``True`` where the
        recorded demand is the sales of a period that ran out of stock, so the true demand may
        be higher. A transpose view of :attr:`censored_time_major`; ``None`` when not recorded.
        """
        return None if self._censored_time_major is None else self._censored_time_major.T

    @property
    def censored_time_major(self) -> np.ndarray | None:
        """The stock-out flag as a C-contiguous (n_periods, n_skus) bool array, or ``None``."""
        return self._censored_time_major

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
            life=self._life,
            censored=self.censored,
            start_date=self.start_date,
            freq=self._freq,
            history_periods=self.history_periods,
        )
        values.setdefault("feature_roles", self._feature_roles)
        values.update(changes)
        if "feature_names" in changes and "feature_roles" not in changes:
            values["feature_roles"] = {n: r for n, r in self._feature_roles.items() if n in values["feature_names"]}
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
            life=None if self._life is None else (self._life[0][rows], self._life[1][rows]),
            censored=None if self._censored_time_major is None else self._censored_time_major[:, rows].T,
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

    def period_index(self, value: Any, name: str = "period") -> int:
        """The position (0 = the first period) of ``value``: a position itself (an int, may be
        ``n_periods`` for the end), or a date of the dataset's calendar (text such as
        ``"2019-01-01"``, a date or Timestamp).

        Raises
        ------
        ValidationError
            A date for a dataset without dates, a date off the calendar's grid (a weekly
            dataset's dates fall on one weekday), or a period outside ``0 .. n_periods``;
            the message names ``name``.
        """
        if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
            index = int(value)
        elif isinstance(value, (bool, float, np.floating)):
            raise ValidationError(f"{name} must be a whole period number or a date, got {value!r}")
        else:
            if self._start_day is None:
                raise ValidationError(f"{name} is a date ({value!r}) but dataset {self._name!r} has no dates; give a "
                                      "period number (0 = the first period)")
            day = calendar.to_day(value, name)
            step = calendar.FREQUENCIES[self._freq]
            if (day - self._start_day) % step:
                raise ValidationError(f"{name} must fall on the weekly calendar of dataset {self._name!r} (every "
                                      f"{calendar.weekday(self._start_day)}), got {calendar.day_label(day)} "
                                      f"({calendar.weekday(day)})")
            index = (day - self._start_day) // step
        if not 0 <= index <= self.n_periods:
            last = self._life_label(self.n_periods - 1) if self.n_periods else "none"
            raise ValidationError(f"{name} must lie in the dataset's periods ({self._life_label(0) if self.n_periods else 'none'}"
                                  f"..{last}, positions 0..{self.n_periods}), got {value!r} (position {index})")
        return index

    def window(self, start: Any, stop: Any = None, *, history: bool = False) -> "Dataset":
        """The periods ``[start, stop)`` on the same SKUs: a window of a backtest over time.

        Parameters
        ----------
        start, stop : int or date
            Positions (0 = the first period; ``stop`` is exclusive and defaults to
            ``n_periods``) or dates of the dataset's calendar (``stop`` then is the first date
            after the window), see :meth:`period_index`.
        history : bool, default=False
            ``False``: only the window's periods, as a dataset of their own (what a policy is
            fitted on: nothing after ``stop`` and nothing before ``start``). ``True``: the
            periods ``[0, stop)`` with :attr:`history_periods` ``= start``: a simulation runs the
            policy under test through the history, so that the window starts from the on-hand,
            pipeline and recent demand the history leaves, and scores the window from its first
            period (the warm-up rule of :meth:`InventoryProblem.warmups
            <orkit.core.problem.InventoryProblem.warmups>` with the periods each SKU lived
            before the window).

        Returns
        -------
        Dataset
            Period labels and dates are kept (the window's first period keeps its label and
            date). SKUs whose life has no period in the periods kept are left out (a SKU
            launched later is absent from earlier windows); lives are clipped to the window.
            ``metadata["window"]`` records the window.

        Raises
        ------
        ValidationError
            ``start`` or ``stop`` out of range, an empty window (``start >= stop``), or a
            dataset that is a window with history already.

        Examples
        --------
        >>> ds = Dataset([[1, 2, 3, 4, 5]], sku_ids=["A"], start_date="2024-01-01", freq="D")
        >>> ds.window("2024-01-02", 4).demand.tolist()
        [[2.0, 3.0, 4.0]]
        >>> test = ds.window(3, history=True)
        >>> test.n_periods, test.history_periods
        (5, 3)
        """
        if self.history_periods:
            raise ValidationError(f"dataset {self._name!r} is a window with {self.history_periods} periods of history "
                                  "already; take windows of the whole dataset")
        if not isinstance(history, (bool, np.bool_)):
            raise ValidationError(f"history must be True or False, got {history!r}")
        first_index = self.period_index(start, "start")
        stop_index = self.n_periods if stop is None else self.period_index(stop, "stop")
        if first_index >= stop_index:
            raise ValidationError(f"the window must hold at least one period: start must come before stop, got start "
                                  f"{start!r} (position {first_index}) and stop {stop!r} (position {stop_index})")
        low = 0 if history else first_index
        first, last = self.life
        rows = np.flatnonzero((first < stop_index) & (last >= low))
        if not len(rows):
            raise ValidationError(f"the window {start!r}..{stop!r} of dataset {self._name!r} holds no SKU: every SKU's "
                                  "life lies outside it")
        life = None
        if self._life is not None:
            life = (np.maximum(first[rows] - low, 0), np.minimum(last[rows], stop_index - 1) - low)
        censored = self._censored_time_major
        metadata = dict(self._metadata, window={"start": self._life_label(first_index),
                                                "stop": self._life_label(stop_index - 1), "history": bool(history)})
        return self._replace(
            demand=self._demand_time_major[low:stop_index, rows].T,
            features=self._features[rows, low:stop_index],
            sku_ids=self._sku_ids[rows],
            attributes=self._attributes.iloc[rows],
            split=None if self._split is None else self._split[rows],
            life=life,
            censored=None if censored is None else censored[low:stop_index, rows].T,
            period_start=self._period_start + low,
            start_date=None if self._start_day is None else self._life_label(low),
            metadata=metadata,
            history_periods=first_index - low,
        )

    def feature(self, name: str) -> np.ndarray:
        """The values of feature ``name``, shape (n_skus, n_periods) (a read-only view)."""
        try:
            column = self._feature_names.index(name)
        except ValueError:
            raise KeyError(
                f"feature {name!r} is not in dataset {self._name!r}; it has {list(self._feature_names)}"
            ) from None
        return np.asarray(self._features[:, :, column])

    def with_features(self, names: str | Sequence[str], values: Any, roles: Any = None) -> "Dataset":
        """A copy with extra feature columns appended.

        Parameters
        ----------
        names : str or sequence of str
            Names of the new features; must not exist yet.
        values : array-like of shape (n_skus, n_periods) or (n_skus, n_periods, k), or CodedArray
            One (n_skus, n_periods) array per name. A :class:`~orkit.data.coded.CodedArray`
            stays coded when this dataset's features are (or it has none).
        roles : str, or mapping of name -> role, optional
            The new features' roles (one role for all, or per name); default ``numeric``.
        """
        names = (names,) if isinstance(names, str) else tuple(names)
        existing = [n for n in names if n in self._feature_names]
        if existing:
            raise DataError(f"feature {existing[0]!r} already exists in dataset {self._name!r}; pick another name")
        coded = isinstance(values, CodedArray)
        array = values if coded else np.asarray(values)
        if array.dtype.kind not in "biuf":
            raise DataError(f"values must be numeric, got dtype {array.dtype}")
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.shape != (self.n_skus, self.n_periods, len(names)):
            raise DataError(
                f"values must have shape (n_skus, n_periods[, k]) = ({self.n_skus}, {self.n_periods}, {len(names)}), "
                f"got {array.shape}"
            )
        if coded and isinstance(self._features, CodedArray):
            features = CodedArray(self._features.codes + array.codes, self._features.values + array.values)
        elif coded and self.n_features == 0:
            features = array
        else:  # float32: written once into the result (read-only, so that it is not copied again)
            features = np.empty((self.n_skus, self.n_periods, self.n_features + len(names)), dtype=np.float32)
            features[:, :, :self.n_features] = np.asarray(self._features)
            for j in range(len(names)):
                features[:, :, self.n_features + j] = array[:, :, j]
            features.setflags(write=False)
        if roles is None or isinstance(roles, (str, FeatureRole)):
            roles = {n: roles or "numeric" for n in names}
        new_roles = parse_roles(roles, names)
        return self._replace(features=features, feature_names=self._feature_names + names,
                             feature_roles={**self._feature_roles, **new_roles})

    def with_feature_roles(self, roles: Any) -> "Dataset":
        """A copy with the roles of some features declared (:mod:`orkit.data.schema`).

        Parameters
        ----------
        roles : mapping of name -> role, or sequence of ``"name=role"`` texts
            E.g. ``{"store": "categorical", "ma7": "quantity"}``; other features keep theirs.
        """
        return self._replace(feature_roles={**self._feature_roles, **parse_roles(roles, self._feature_names)})

    def with_calendar_features(self, parts: str | Sequence[str] = ("weekday",),
                               names: str | Sequence[str] | None = None) -> "Dataset":
        """A copy with calendar features derived from the dates (role ``calendar``).

        Parameters
        ----------
        parts : str or sequence of str, default=("weekday",)
            Calendar parts among :data:`~orkit.data.schema.CALENDAR_PARTS`: ``weekday`` (0 =
            Monday ... 6 = Sunday), ``month``, ``day_of_month``, ``week_of_year`` (ISO),
            ``day_of_year``.
        names : str or sequence of str, optional
            Feature names, one per part; default the part names.

        Raises
        ------
        DataError
            The dataset has no dates (periods without a calendar carry no weekday: read the
            data with its date column, or give ``start_date`` and ``freq``).

        Examples
        --------
        >>> ds = Dataset(np.ones((1, 3)), start_date="2016-01-02", freq="D").with_calendar_features()
        >>> ds.feature("weekday").tolist(), str(ds.feature_roles["weekday"])
        ([[5.0, 6.0, 0.0]], 'calendar:weekday')
        """
        if self._start_day is None:
            raise DataError(f"dataset {self._name!r} has no dates, so calendar features cannot be derived; read the "
                            "data with its date column (date=...), or build it with start_date and freq")
        parts = (parts,) if isinstance(parts, str) else tuple(parts)
        names = parts if names is None else ((names,) if isinstance(names, str) else tuple(names))
        if len(names) != len(parts):
            raise ValidationError(f"names must give one name per part ({len(parts)}), got {list(names)}")
        roles = {n: FeatureRole("calendar", part=p) for n, p in zip(names, parts)}
        days = self._start_day + np.arange(self.n_periods) * calendar.FREQUENCIES[self._freq]
        codes, tables = [], []
        for part in parts:  # coded: each period's code, the same for every SKU (a broadcast, no copy)
            table, inverse = np.unique(calendar.calendar_part(days, part).astype(np.float32), return_inverse=True)
            codes.append(np.broadcast_to(inverse.astype(code_dtype(len(table))), (self.n_skus, self.n_periods)))
            tables.append(table)
        values = CodedArray(codes, tables) if parts else np.zeros((self.n_skus, self.n_periods, 0), np.float32)
        return self.with_features(names, values, roles)

    def _check_feature_roles(self) -> None:
        """Declared categories hold every value; calendar features agree with the dates."""
        if self.n_skus == 0 or self.n_periods == 0:
            return
        alive = None if self._life is None else self.alive().T  # (n, T)
        days = None if self._start_day is None else \
            self._start_day + np.arange(self.n_periods) * calendar.FREQUENCIES[self._freq]
        rows = max(1, (1 << 22) // self.n_periods)  # by blocks of SKUs: bounded temporaries
        for j, (name, role) in enumerate(self._feature_roles.items()):
            if role.levels is None:
                continue
            for start in range(0, self.n_skus, rows):
                block = slice(start, start + rows)
                column = np.asarray(self._features[block, :, j])
                if role.role == "calendar" and days is not None:
                    bad = column != calendar.calendar_part(days, role.part)[None, :]
                    rule = f"agree with the dates ({role.part} of each period's date)"
                else:
                    bad = ~np.isin(column, np.asarray(role.levels, dtype=np.float32))
                    rule = f"be one of its {role.role} values {_levels_text(role.levels)}"
                if alive is not None:
                    bad &= alive[block]
                if bad.any():
                    first = np.zeros((self.n_skus, self.n_periods), dtype=bool)  # the first bad cell only
                    first[block] = bad
                    self._raise_at(f"feature {name!r}", first.T, rule, name)


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
        """The long table: one row per SKU and period of its life, SKU-major.

        Columns: ``sku``, ``period`` (or ``date`` for a dataset with a calendar), ``demand``, the
        features, ``censored`` when the stock-out flag is recorded, the attributes (repeated
        over periods) and ``split`` when labels are assigned. Periods outside a SKU's life have
        no row. ``frame.attrs["orkit-dataset"]`` keeps the name, metadata, calendar and column
        roles so that :meth:`from_frame` restores the dataset exactly.
        """
        frame = self._frame(slice(None))
        frame.attrs[HEADER_KEY] = self._header()
        return frame

    def _frame(self, rows: slice) -> pd.DataFrame:
        """The long table of the SKUs ``rows`` (a slice, so that files are written in blocks)."""
        ids = self._sku_ids[rows]
        n, horizon = len(ids), self.n_periods
        sku_rows = np.repeat(np.arange(n), horizon)
        periods = np.tile(np.arange(horizon, dtype=np.int64), n)
        if self._start_day is not None:
            time_column, time = "date", self.dates.to_numpy()[periods]
        else:
            time_column, time = "period", periods + self._period_start
        columns: dict[str, Any] = {
            "sku": pd.array(np.repeat(ids, horizon), dtype="str"),
            time_column: time,
            "demand": self.demand[rows].reshape(-1),
        }
        flat_features = np.asarray(self._features[rows]).reshape(n * horizon, self.n_features)
        for j, feature_name in enumerate(self._feature_names):
            columns[feature_name] = flat_features[:, j]
        if self._censored_time_major is not None:
            columns["censored"] = self.censored[rows].reshape(-1)
        frame = pd.DataFrame(columns)
        if len(self._attributes.columns):
            repeated = self._attributes.iloc[rows].iloc[sku_rows].reset_index(drop=True)
            frame = pd.concat([frame, repeated], axis=1)
        if self._split is not None:
            frame["split"] = pd.array(np.repeat(self._split[rows], horizon), dtype="str")
        if self._life is not None:
            first, last = self._life[0][rows], self._life[1][rows]
            inside = (periods >= first[sku_rows]) & (periods <= last[sku_rows])
            frame = frame[inside].reset_index(drop=True)
        return frame

    def _frames(self) -> Any:
        """The long table in blocks of whole SKUs (about ``WRITE_BLOCK_ROWS`` rows each)."""
        step = max(1, WRITE_BLOCK_ROWS // max(self.n_periods, 1))
        for start in range(0, max(self.n_skus, 1), step):
            yield self._frame(slice(start, start + step))

    def _header(self) -> dict[str, Any]:
        header: dict[str, Any] = {
            "format": 2,
            "name": self._name,
            "feature_names": list(self._feature_names),
            "attributes": _attribute_dtype_names(self._attributes),
            "metadata": _json_ready(self._metadata),
            "period_start": self._period_start,
            "n_periods": self.n_periods,
            "feature_roles": {n: r.to_json() for n, r in self._feature_roles.items()},
        }
        if self._start_day is not None:
            header.update(date="date", start_date=self._life_label(0), freq=self._freq)
        if self._censored_time_major is not None:
            header["censored"] = "censored"
        if self.history_periods:
            header["history_periods"] = self.history_periods
        return header

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        sku: str = "sku",
        period: str | None = None,
        date: str | None = None,
        demand: str = "demand",
        features: Sequence[str] | None = None,
        attributes: Sequence[str] | None = None,
        split: str | None = None,
        stockout: str | None = None,
        freq: str | None = None,
        fill_missing: str | None = None,
        lives: str = "rows",
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        feature_roles: Mapping[str, Any] | Sequence[str] | None = None,
        calendar: str | Sequence[str] | None = None,
    ) -> "Dataset":
        """Build a dataset from a long table with one row per SKU and period.

        Parameters
        ----------
        frame : DataFrame
            The table; row order does not matter.
        sku, demand : str
            Names of the SKU id and demand columns.
        period : str, optional
            Name of an integer period column (periods need not start at 0). The default,
            ``"period"``, applies unless ``date`` is given (or the table was written by orkit
            with dates).
        date : str, optional
            Name of a date column (dates, or ISO 8601 text such as ``2024-01-31``): the dataset
            gets a calendar (:attr:`dates`, :attr:`start_date`, :attr:`freq`).
        features : sequence of str, optional
            Feature columns (numeric). ``None``: every other numeric (or boolean) column except
            the SKU, period/date, demand, split, stock-out and attribute columns.
        attributes : sequence of str, optional
            Per-SKU static columns (constant within each SKU). ``None``: the attribute columns
            recorded by :meth:`to_frame` / :meth:`read` in ``frame.attrs``, else none.
        split : str, optional
            Column with split labels (constant within each SKU). ``None``: ``"split"`` if present.
        stockout : str, optional
            Column flagging a stock-out in the period (true/false or 1/0): the demand of that
            period is censored (:attr:`censored`). ``None``: the column recorded by orkit, else none.
        freq : {"D", "W"}, optional
            Daily or weekly periods of a date column; ``None`` infers it from the dates (an error
            says so when it cannot). Weekly dates must all fall on the same weekday.
        fill_missing : {"zero"}, optional
            What a period without a row inside a SKU's life means. ``None`` (default): an error
            naming the SKU and the periods. ``"zero"``: no sale, zero demand (the SKU's features
            carried over from its previous row); the number of rows added is logged and recorded
            in ``metadata["fill_missing"]``.
        lives : {"rows", "full"}, default="rows"
            ``"rows"``: each SKU exists from its first row to its last (a SKU launched or
            withdrawn inside the horizon; :attr:`life`, demand 0 outside). ``"full"``: every SKU
            exists over the whole range, so periods before its first row and after its last are
            missing periods too (see ``fill_missing``).
        name : str, optional
            Dataset name; default the recorded name or ``"dataset"``.
        metadata : dict, optional
            Merged over the recorded metadata.
        feature_roles : mapping of feature -> role, or sequence of ``"name=role"``, optional
            How each feature is used (:mod:`orkit.data.schema`); merged over the roles recorded
            by orkit. Undeclared features are ``numeric`` (see the schema's inference).
        calendar : str or sequence of str, optional
            Calendar parts to derive from the dates as features of role ``calendar`` (see
            :meth:`with_calendar_features`), e.g. ``["weekday", "month"]``; parts the table
            already has as calendar features are kept, not added twice.

        Returns
        -------
        Dataset
            SKUs in order of first appearance, periods sorted.

        Raises
        ------
        DataError
            Missing columns, non-numeric demand or features, non-integer periods, dates that do
            not parse or do not fall on the daily / weekly grid, duplicate (sku, period) rows,
            missing periods (without ``fill_missing``), NaN or negative demand, attributes or
            split labels that vary within a SKU.

        Examples
        --------
        >>> frame = pd.DataFrame({"item": ["A", "A", "B"], "day": ["2024-01-01", "2024-01-02", "2024-01-02"],
        ...                       "units": [3, 1, 4]})
        >>> ds = Dataset.from_frame(frame, sku="item", date="day", demand="units")
        >>> ds.freq, str(ds.start_date.date()), ds.life[0].tolist()
        ('D', '2024-01-01', [0, 1])
        """
        return cls._from_table(frame, "frame", sku=sku, period=period, date=date, demand=demand, features=features,
                               attributes=attributes, split=split, stockout=stockout, freq=freq,
                               fill_missing=fill_missing, lives=lives, name=name, metadata=metadata,
                               feature_roles=feature_roles, calendar=calendar)

    @classmethod
    def _from_table(cls, frame: pd.DataFrame, where: str, *, name: str | None = None,
                    metadata: Mapping[str, Any] | None = None, feature_roles: Any = None, calendar: Any = None,
                    sku: str = "sku", **options: Any) -> "Dataset":
        """:meth:`from_frame`, naming the table ``where`` in errors."""
        if not isinstance(frame, pd.DataFrame):
            raise ValidationError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
        hints = frame.attrs.get(HEADER_KEY) if isinstance(frame.attrs.get(HEADER_KEY), Mapping) else {}
        if not isinstance(sku, str):
            raise ValidationError(f"sku must be a column name (str), got {sku!r}")
        arrays = ingest.from_frame_arrays(frame, hints, refuse_text=lambda columns: _refuse_text_columns(frame, columns, sku),
                                          where=where, sku=sku, **options)
        return cls._from_arrays(arrays, hints, name, metadata, feature_roles, calendar)

    @classmethod
    def _from_arrays(cls, arrays: dict[str, Any], hints: Mapping[str, Any], name: str | None,
                     metadata: Mapping[str, Any] | None, feature_roles: Any = None,
                     calendar: Any = None) -> "Dataset":
        merged = dict(hints.get("metadata", {}) or {})
        merged.update(metadata or {})
        merged.update(arrays.pop("ingestion_metadata"))
        names = tuple(arrays["feature_names"])
        recorded = hints.get("feature_roles") if isinstance(hints.get("feature_roles"), Mapping) else {}
        roles = {n: r for n, r in parse_roles(recorded).items() if n in names}
        roles.update(parse_roles(feature_roles, names))
        dataset = cls(**arrays, name=name if name is not None else str(hints.get("name", "dataset")), metadata=merged,
                      feature_roles=roles,
                      history_periods=int(hints.get("history_periods", 0) or 0))
        inferred = dataset.feature_roles
        _hint_codes(dataset, [n for n in names if n not in roles and inferred[n].role == "numeric"])
        if calendar:
            parts = (calendar,) if isinstance(calendar, str) else tuple(calendar)
            roles = dataset.feature_roles
            parts = tuple(p for p in parts if not (p in roles and roles[p].part == p))
            dataset = dataset.with_calendar_features(parts) if parts else dataset
        return dataset

    def write(self, path: str | Path) -> Path:
        """Write the long table to ``path`` (``.csv`` or ``.parquet``, chosen by suffix).

        A CSV file is a plain table (pandas and spreadsheets read it as it is); the name,
        metadata, calendar and column roles go to a sidecar file beside it,
        ``<path>.orkit.json``. A Parquet file keeps them in its schema metadata. Parent folders
        are created; both files are written atomically, and in blocks of SKUs, so a large
        dataset needs no long table in memory. :meth:`read` restores the dataset exactly.

        Returns
        -------
        Path
            The path written.
        """
        path = write_dataset_file(path, self._header(), self._frames())
        logger.debug("wrote dataset %r (%d SKUs x %d periods) to %s", self._name, self.n_skus, self.n_periods, path)
        return path

    @classmethod
    def read(cls, path: str | Path, **options: Any) -> "Dataset":
        """Read a dataset written by :meth:`write`, or any long table in CSV or Parquet.

        Parameters
        ----------
        path : str or Path
            A ``.csv`` file (with its ``.orkit.json`` sidecar when orkit wrote it; files with the
            older ``# orkit-dataset`` first line are read too) or a ``.parquet`` file. A Parquet
            file is read batch by batch, only the needed columns, straight into the arrays.
        **options
            Column mapping and reading options of :meth:`from_frame` (``sku``, ``period``,
            ``date``, ``demand``, ``features``, ``attributes``, ``split``, ``stockout``,
            ``freq``, ``fill_missing``, ``lives``, ``name``, ``metadata``, ``feature_roles``,
            ``calendar``).

        Raises
        ------
        DataError
            The file does not exist (also a ``FileNotFoundError``), or the table is malformed.
        ValidationError
            The suffix is neither ``.csv`` nor ``.parquet``, or an option is unknown.
        """
        unknown = sorted(set(options) - set(READ_OPTIONS))
        if unknown:
            raise ValidationError(f"unknown option(s) {', '.join(map(repr, unknown))} for Dataset.read; allowed: "
                                  f"{', '.join(READ_OPTIONS)}")
        path = Path(path)
        if table_suffix(path) == ".parquet":
            hints = read_dataset_header(path)
            name, metadata = options.pop("name", None), options.pop("metadata", None)
            roles, parts = options.pop("feature_roles", None), options.pop("calendar", None)
            arrays = ingest.read_parquet_arrays(path, hints, **options)
            dataset = cls._from_arrays(arrays, hints, name, metadata, roles, parts)
        else:
            frame = read_long_table(path, sku=options.get("sku", "sku"), split=options.get("split"))
            dataset = cls._from_table(frame, f"dataset file {str(path)!r}", **options)
        logger.debug("read dataset %r (%d SKUs x %d periods) from %s", dataset.name, dataset.n_skus,
                     dataset.n_periods, path)
        return dataset

    # ------------------------------------------------------------------ comparison and display
    def equals(self, other: object) -> bool:
        """Whether ``other`` holds exactly the same arrays, names, ids, attributes, split and metadata."""
        if not isinstance(other, Dataset):
            return False
        same_split = (self._split is None and other._split is None) or (
            self._split is not None and other._split is not None and np.array_equal(self._split, other._split)
        )
        same_life = (self._life is None and other._life is None) or (
            self._life is not None and other._life is not None
            and np.array_equal(self._life[0], other._life[0]) and np.array_equal(self._life[1], other._life[1])
        )
        same_censored = (self._censored_time_major is None and other._censored_time_major is None) or (
            self._censored_time_major is not None and other._censored_time_major is not None
            and np.array_equal(self._censored_time_major, other._censored_time_major)
        )
        return (
            self._name == other._name
            and self._period_start == other._period_start
            and self._start_day == other._start_day
            and self._freq == other._freq
            and self.history_periods == other.history_periods
            and same_life
            and same_censored
            and self._feature_names == other._feature_names
            and self._feature_roles == other._feature_roles
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
        calendar_text = "" if self._start_day is None else f", start_date='{self._life_label(0)}', freq={self._freq!r}"
        history = f", history_periods={self.history_periods}" if self.history_periods else ""
        return (
            f"Dataset(name={self._name!r}, n_skus={self.n_skus}, n_periods={self.n_periods}, "
            f"n_features={self.n_features}, split={split}{calendar_text}{history})"
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


def _hint_codes(dataset: "Dataset", names: Sequence[str]) -> None:
    """Warn when undeclared features (read as numeric) look like codes: 3 to 50 distinct whole
    numbers in the first ~100,000 values (a store, a day index, a category)."""
    if not names or dataset.n_skus == 0 or dataset.n_periods == 0:
        return
    rows = max(1, 100_000 // dataset.n_periods)
    shown = []
    for name in names:
        values = np.unique(np.asarray(dataset.stored_features[:rows, :, dataset.feature_names.index(name)]))
        if 3 <= len(values) <= 50 and np.array_equal(values, np.round(values)):
            shown.append(f"{name} ({len(values)} distinct whole numbers)")
    if shown:
        logger.warning(
            "feature(s) %s have no declared role and are read as numeric; if they are codes (a store, a day, a "
            "category), declare them categorical: feature_roles={'NAME': 'categorical'} (orkit: --feature-role "
            "NAME=categorical); see docs/data.md, Feature roles", ", ".join(shown))


def _levels_text(levels: Sequence[float]) -> str:
    shown = ", ".join(_fmt(v) if not float(v).is_integer() else str(int(v)) for v in levels[:8])
    return "{" + shown + (", ..." if len(levels) > 8 else "") + "}"


def _refuse_text_columns(frame: pd.DataFrame, columns: Sequence[str], sku: str) -> None:
    """Every column taken as a feature by default must be numeric: a text column, or a numeric
    column with one stray word in it, is an error naming it, never silently dropped."""
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        if pd.api.types.is_datetime64_any_dtype(series) or ingest.looks_like_dates(series):
            raise DataError(f"column {column!r} holds dates, which cannot be a feature: if they are the periods' dates, "
                            f"pass date={column!r}; otherwise choose the feature columns with features=[...] or drop it")
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
