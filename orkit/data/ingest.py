"""Long tables into datasets: one row per SKU and period, from a pandas DataFrame or streamed
from a Parquet file, into the arrays a :class:`~orkit.data.Dataset` stores.

Both sources go through the same two passes over their rows:

1. **keys**: the SKU column gives the SKUs (in order of first appearance), the period or date
   column the time axis: its range and, for dates, the frequency (declared or inferred, see
   :mod:`orkit.data.calendar`);
2. **values**: demand, features and the stock-out flag go straight into the final arrays
   (demand time-major ``(T, n_skus)`` float32; each feature ``(n_skus, T)``, as codes of its
   distinct values where it has at most 32,768, see :mod:`orkit.data.coded`, else float32; the
   flag ``(T, n_skus)`` bool); per-SKU attributes and split labels are checked constant per SKU.

Then the rows are checked against the time axis. Two rows for one SKU and period are an error.
A SKU lives from its first to its last row (``lives="rows"``; demand outside its life is 0 and
the life is recorded) or over the whole range (``lives="full"``). A period inside a life
without a row is missing: an error naming the SKU and the periods, or, with
``fill_missing="zero"``, zero demand (the SKU's features carried over from its previous row, no
stock-out), counted, logged and recorded in ``metadata["fill_missing"]``.

A Parquet file is read a record batch at a time with only the needed columns (no pandas table
of the whole file): the memory is the final arrays, one batch, and a (n_skus, T) bool table of
the rows seen whose pages only SKUs not read as whole blocks touch.
"""

from __future__ import annotations

import logging
import mmap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from orkit.core.errors import DataError, ValidationError
from orkit.data import calendar
from orkit.data.coded import MAX_VALUES, CodedArray, code_dtype

__all__ = ["FILL_MISSING", "LIVES", "Roles", "from_frame_arrays", "read_parquet_arrays", "resolve_roles"]

logger = logging.getLogger(__name__)

#: values of ``fill_missing`` (``None``: a missing period is an error)
FILL_MISSING = ("zero",)
#: values of ``lives``
LIVES = ("rows", "full")
#: rows per record batch read from a Parquet file
BATCH_ROWS = 1 << 20
# a dictionary larger than this is looked up with pyarrow, a smaller one with a Python dict
_LARGE_DICTIONARY = 50_000
#: arrays of at least this many bytes are allocated by :func:`zeros` in an anonymous memory map
MAPPED_BYTES = 1 << 24


# ---------------------------------------------------------------------------------- memory
def zeros(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A zero-filled array for the final data, in an anonymous memory map when it is large.

    Why not ``numpy.zeros``: numpy asks the kernel to back large arrays with huge pages
    (``madvise(MADV_HUGEPAGE)``); where transparent huge pages are on with ``defrag=madvise``,
    a first touch may then stall in memory compaction, by how much depends on how fragmented
    memory is (benchmarks/bench_io.py measures both; figures in docs/benchmarks.md). A plain
    anonymous mapping is zero-filled by the kernel and faults in ordinary pages. The array is an
    ordinary numpy array for every other purpose (its ``base`` holds the map, freed with it).
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size < MAPPED_BYTES or size == 0:
        return np.zeros(shape, dtype=dtype)
    return np.frombuffer(mmap.mmap(-1, size), dtype=dtype).reshape(shape)


# ---------------------------------------------------------------------------------- roles
@dataclass(frozen=True)
class Roles:
    """Which column plays which part: the result of :func:`resolve_roles`."""

    sku: str
    time: str
    dated: bool
    demand: str
    features: tuple[str, ...]
    attributes: tuple[str, ...]
    split: str | None
    stockout: str | None

    @property
    def time_role(self) -> str:
        return "date" if self.dated else "period"

    @property
    def per_sku(self) -> tuple[str, ...]:
        return self.attributes + ((self.split,) if self.split is not None else ())


def resolve_roles(
    columns: Sequence[str],
    hints: Mapping[str, Any],
    *,
    where: str,
    refuse_non_numeric: Callable[[Sequence[str]], None],
    sku: str = "sku",
    period: str | None = None,
    date: str | None = None,
    demand: str = "demand",
    features: Sequence[str] | str | None = None,
    attributes: Sequence[str] | str | None = None,
    split: str | None = None,
    stockout: str | None = None,
) -> Roles:
    """The column of each role, from the arguments, then the file's header ``hints``, then the
    defaults; a DataError naming every missing column (``where`` names the table)."""
    for role, column in (("sku", sku), ("demand", demand)):
        if not isinstance(column, str):
            raise ValidationError(f"{role} must be a column name (str), got {column!r}")
    for role, column in (("period", period), ("date", date), ("split", split), ("stockout", stockout)):
        if column is not None and not isinstance(column, str):
            raise ValidationError(f"{role} must be a column name (str) or None, got {column!r}")
    if period is not None and date is not None:
        raise ValidationError(f"give the time column as period=... (integer periods) or date=... (dates), not both; "
                              f"got period={period!r} and date={date!r}")
    if period is None and date is None:
        hinted = hints.get("date")
        if isinstance(hinted, str) and hinted in columns and "period" not in columns:
            date = hinted
        else:
            period = "period"
    dated = date is not None
    time = date if dated else period
    assert time is not None
    if len({sku, time, demand}) < 3:
        raise ValidationError(f"sku, {'date' if dated else 'period'} and demand must name different columns, got "
                              f"{sku!r}, {time!r}, {demand!r}")
    if split is None and "split" in columns and "split" not in (sku, time, demand):
        split = "split"
    if stockout is None and isinstance(hints.get("censored"), str) and hints["censored"] in columns:
        stockout = hints["censored"]
    if attributes is None:
        attributes = [c for c in hints.get("attributes", {}) if c in columns]
    attributes = [attributes] if isinstance(attributes, str) else list(attributes)
    roles: list[tuple[str, list[str]]] = [("sku", [sku]), ("date" if dated else "period", [time]),
                                          ("demand", [demand]), ("attributes", attributes)]
    if features is not None:
        features = [features] if isinstance(features, str) else list(features)
        roles.append(("features", features))
    if split is not None:
        roles.append(("split", [split]))
    if stockout is not None:
        roles.append(("stockout", [stockout]))
    missing = [f"{column!r} ({role})" for role, names in roles for column in names if column not in columns]
    if missing:
        hint = ""
        if not dated and time == "period" and "period" not in columns:
            hint = "; name the time column with period=... (integer periods) or date=... (dates)"
        raise DataError(f"{where} is missing column(s) {', '.join(missing)}; available columns: {list(columns)}{hint}")
    for role, column in (("split", split), ("stockout", stockout)):
        if column is not None and (column in (sku, time, demand) or (role == "stockout" and column == split)):
            raise ValidationError(f"{role} must name a column of its own, got {column!r}, which is already the "
                                  f"{'split' if column == split and role == 'stockout' else 'sku, time or demand'} "
                                  "column")
    known = {sku, time, demand, *attributes} | {c for c in (split, stockout) if c is not None}
    if features is None:
        features = [c for c in columns if c not in known]
        refuse_non_numeric(features)
    overlap = set(features) & known
    if overlap:
        raise ValidationError(
            "features must not include the sku, period/date, demand, split, stockout or attribute columns, got "
            f"{sorted(overlap)}"
        )
    return Roles(sku, time, dated, demand, tuple(str(f) for f in features), tuple(attributes), split, stockout)


# ---------------------------------------------------------------------------------- codes
class _Coder:
    """Integer codes 0, 1, ... for the distinct values of a column, in order of first appearance,
    across batches. Arrow dictionaries are looked up once each (a batch that repeats the
    previous batch's dictionary reuses its lookup)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[Any, int] = {}
        self._arrow_known: Any = None
        self._cache: tuple[Any, np.ndarray, bool, int | None] | None = None

    def __len__(self) -> int:
        return len(self.values)

    def _add(self, values: list[Any]) -> None:
        for value in values:
            if value not in self._index:
                self._index[value] = len(self.values)
                self.values.append(value)

    def codes_from_pandas(self, series: pd.Series | pd.Index) -> np.ndarray:
        """Codes of a pandas column (missing values: -1)."""
        local, uniques = pd.factorize(series, sort=False)
        uniques = list(uniques)
        self._add(uniques)
        mapping = np.array([self._index[u] for u in uniques] + [-1], dtype=np.int32)
        return mapping[local]  # local -1 (missing) takes the trailing -1

    def codes_from_dictionary(self, indices: np.ndarray, dictionary: Any) -> np.ndarray:
        """Codes (int32) of a dictionary-encoded Arrow column: ``indices`` (-1 for null) into
        ``dictionary``. New values get codes in order of first appearance."""
        if self._cache is not None and len(self._cache[0]) == len(dictionary) and self._cache[0].equals(dictionary):
            _, mapping, complete, base = self._cache
        else:
            mapping = np.append(self._lookup(dictionary), -1).astype(np.int32)
            complete, base = len(mapping) == 1 or bool(mapping[:-1].min() >= 0), None
            if complete:
                base = self._affine(mapping)
                self._cache = (dictionary, mapping, complete, base)
        if not complete:  # some entries have no code yet: give the used ones theirs
            used = _first_appearance(indices)
            used = used[used >= 0]
            new = used[mapping[used] < 0]
            if len(new):
                start = len(self.values)
                self._add(dictionary.take(new).to_pylist())
                mapping[new] = np.arange(start, len(self.values), dtype=np.int32)
            complete = len(mapping) == 1 or bool(mapping[:-1].min() >= 0)
            base = self._affine(mapping) if complete else None
            self._cache = (dictionary, mapping, complete, base)
        if base is not None and (len(indices) == 0 or indices.min() >= 0):
            return np.add(indices, base, dtype=np.int32)
        return mapping.take(indices)

    @staticmethod
    def _affine(mapping: np.ndarray) -> int | None:
        """``base`` when the codes of a dictionary are base, base + 1, ... (then codes are
        ``indices + base``, no gather), else None."""
        if len(mapping) < 2:
            return None
        first = int(mapping[0])
        return first if np.array_equal(mapping[:-1], np.arange(first, first + len(mapping) - 1)) else None

    def _lookup(self, dictionary: Any) -> np.ndarray:
        if len(dictionary) <= _LARGE_DICTIONARY or not self.values:
            values = dictionary.to_pylist()
            return np.fromiter((self._index.get(v, -1) for v in values), dtype=np.int64, count=len(values))
        import pyarrow as pa
        import pyarrow.compute as pc

        if self._arrow_known is None or len(self._arrow_known) != len(self.values):
            self._arrow_known = pa.array(self.values)
        if dictionary.type != self._arrow_known.type:
            dictionary = dictionary.cast(self._arrow_known.type)
        return pc.index_in(dictionary, value_set=self._arrow_known).fill_null(-1).to_numpy(zero_copy_only=False) \
            .astype(np.int64)


def _first_appearance(values: np.ndarray) -> np.ndarray:
    """The distinct values in order of first appearance (fast for runs of equal values)."""
    if len(values) > 1:
        heads = np.empty(len(values), dtype=bool)
        heads[0] = True
        np.not_equal(values[1:], values[:-1], out=heads[1:])
        values = values[heads]
    return pd.unique(values)


# ---------------------------------------------------------------------------------- batches
class _BadValue(Exception):
    """A value a role cannot take: ``row`` (in the batch), ``value``, ``kind`` (what was expected)."""

    def __init__(self, row: int | None, value: Any, detail: str) -> None:
        super().__init__(detail)
        self.row, self.value, self.detail = row, value, detail


class _FrameBatch:
    """The whole DataFrame as one batch."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.start = 0
        self.n_rows = len(frame)
        self._sku_codes: np.ndarray | None = None
        self._time: np.ndarray | None = None

    def sku_codes(self, column: str, coder: _Coder) -> np.ndarray:
        if self._sku_codes is None:
            values = self.frame[column]
            missing = values.isna().to_numpy()
            if missing.any():
                row = int(np.flatnonzero(missing)[0])
                raise DataError(f"sku column {column!r} must not have missing values, got NaN at row {row}")
            self._sku_codes = coder.codes_from_pandas(values.astype(str))
        return self._sku_codes

    def time(self, roles: Roles, sku_at: Callable[[int], str]) -> np.ndarray:
        if self._time is None:
            series = self.frame[roles.time]
            if roles.dated:
                self._time = calendar.days_from_series(series, roles.time, sku_at)
            else:
                self._time = _integer_periods(series, roles.time)
        return self._time

    def numbers(self, column: str) -> np.ndarray:
        series = self.frame[column]
        if pd.api.types.is_bool_dtype(series):
            return series.to_numpy(dtype=np.float32)
        if not pd.api.types.is_numeric_dtype(series):
            coerced = pd.to_numeric(series, errors="coerce")
            bad = (coerced.isna() & series.notna()).to_numpy()
            row = int(np.flatnonzero(bad)[0]) if bad.any() else None
            raise _BadValue(row, None if row is None else series.iloc[row], f"dtype {series.dtype}")
        return series.to_numpy(dtype=np.float64, na_value=np.nan)

    def flags(self, column: str) -> np.ndarray:
        return _flags(self.frame[column])

    def per_sku(self, column: str, coder: _Coder | None) -> np.ndarray:
        """Numbers as they are; anything else as codes of ``coder`` (missing: -1)."""
        series = self.frame[column]
        if coder is None:
            return _numeric_per_sku(series)
        return coder.codes_from_pandas(series)

    def is_numeric(self, column: str) -> bool:
        series = self.frame[column]
        return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _numeric_per_sku(series: pd.Series) -> np.ndarray:
    if series.dtype.kind in "biuf":
        return series.to_numpy()
    if series.isna().any():
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return series.to_numpy(dtype=series.dtype.numpy_dtype if hasattr(series.dtype, "numpy_dtype") else None)


def _flags(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series) and not series.isna().any():
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isin(values, (0.0, 1.0))
        if not bad.any():
            return values == 1.0
    else:
        bad = np.ones(len(series), dtype=bool)
        text = series.astype(str).str.strip().str.lower()
        truth = text.isin(("true", "1", "yes")).to_numpy()
        bad = ~(truth | text.isin(("false", "0", "no")).to_numpy()) | series.isna().to_numpy()
        if not bad.any():
            return truth
    row = int(np.flatnonzero(bad)[0])
    raise _BadValue(row, series.iloc[row], "true/false or 1/0")


class _ArrowBatch:
    """One record batch of a Parquet file."""

    def __init__(self, batch: Any, start: int) -> None:
        self.batch = batch
        self.start = start
        self.n_rows = batch.num_rows

    def _column(self, name: str) -> Any:
        return self.batch.column(name)

    def sku_codes(self, column: str, coder: _Coder) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        values = self._column(column)
        if values.null_count:
            row = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
            raise DataError(f"sku column {column!r} must not have missing values, got NaN at row {self.start + row}")
        if not pa.types.is_dictionary(values.type):
            values = pc.dictionary_encode(values)
        dictionary = values.dictionary
        if not pa.types.is_string(dictionary.type) and not pa.types.is_large_string(dictionary.type):
            dictionary = dictionary.cast(pa.string())
        return coder.codes_from_dictionary(values.indices.to_numpy(zero_copy_only=False), dictionary)

    def time(self, roles: Roles, sku_at: Callable[[int], str]) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        values = self._column(roles.time)
        if pa.types.is_dictionary(values.type) and not values.null_count and roles.dated:
            return self._days_of_dictionary(roles, values.indices.to_numpy(zero_copy_only=False), values.dictionary,
                                            sku_at)
        if pa.types.is_dictionary(values.type):
            values = values.dictionary.take(values.indices)
        kind = values.type
        if not roles.dated:
            if pa.types.is_integer(kind) and not values.null_count:
                return values.to_numpy().astype(np.int64, copy=False)
            return _integer_periods(pd.Series(values.to_pandas()), roles.time, self.start)
        if pa.types.is_date32(kind) and not values.null_count:
            return values.view(pa.int32()).to_numpy()
        if values.null_count or not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                                     or pa.types.is_temporal(kind)):
            return calendar.days_from_series(pd.Series(values.to_pandas()), roles.time, sku_at,
                                             row_of=lambda row: self.start + row)
        encoded = pc.dictionary_encode(values)
        return self._days_of_dictionary(roles, encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary,
                                        sku_at)

    def _days_of_dictionary(self, roles: Roles, indices: np.ndarray, dictionary: Any,
                            sku_at: Callable[[int], str]) -> np.ndarray:
        """Each distinct value parsed once; an error names the first row holding the bad value."""
        first_row = lambda i: int(np.flatnonzero(indices == i)[0])  # noqa: E731
        days = calendar.days_from_series(pd.Series(dictionary.to_pandas()), roles.time,
                                         lambda i: sku_at(first_row(i)), row_of=lambda i: self.start + first_row(i))
        return days[indices]

    def numbers(self, column: str) -> np.ndarray:
        import pyarrow as pa

        values = self._column(column)
        kind = values.type
        if pa.types.is_dictionary(kind):
            values = values.dictionary.take(values.indices)
            kind = values.type
        if pa.types.is_boolean(kind):
            return values.to_numpy(zero_copy_only=False).astype(np.float32)
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
            return _ArrowBatch._not_numeric(values)
        if pa.types.is_decimal(kind):
            values = values.cast(pa.float64())
        return values.to_numpy(zero_copy_only=False)

    @staticmethod
    def _not_numeric(values: Any) -> np.ndarray:
        valid = np.flatnonzero(values.is_valid().to_numpy(zero_copy_only=False))
        row = int(valid[0]) if len(valid) else None
        raise _BadValue(row, None if row is None else values[row].as_py(), f"type {values.type}")

    def flags(self, column: str) -> np.ndarray:
        import pyarrow as pa

        values = self._column(column)
        if pa.types.is_boolean(values.type) and not values.null_count:
            return values.to_numpy(zero_copy_only=False)
        return _flags(pd.Series(values.to_pandas()))

    def per_sku(self, column: str, coder: _Coder | None) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        values = self._column(column)
        if coder is None:
            return _numeric_per_sku(pd.Series(values.to_numpy(zero_copy_only=False)))
        if not pa.types.is_dictionary(values.type):
            values = pc.dictionary_encode(values)
        indices = values.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)
        return coder.codes_from_dictionary(indices, values.dictionary)

    def is_numeric(self, column: str) -> bool:
        import pyarrow as pa

        kind = self._column(column).type
        return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)


# ---------------------------------------------------------------------------------- sources
class _FrameSource:
    def __init__(self, frame: pd.DataFrame, where: str) -> None:
        self.frame = frame
        self.where = where
        self.columns = [str(c) for c in frame.columns]
        self._batch = _FrameBatch(frame)

    def batches(self, columns: Sequence[str]) -> Iterator[_FrameBatch]:
        yield self._batch

    def is_numeric(self, column: str) -> bool:
        return self._batch.is_numeric(column)


class _ParquetSource:
    def __init__(self, path: Path, role: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = path
        self.role = role
        self.where = f"{role} file {str(path)!r}"
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{self.where} is not a readable Parquet file: {' '.join(str(exc).split())}") from None
        self.schema = self._file.schema_arrow
        self.columns = list(self.schema.names)
        self.num_rows = self._file.metadata.num_rows

    def use_dictionaries(self, columns: Sequence[str]) -> None:
        """Read these text columns dictionary-encoded (cheap codes for SKU ids and labels)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        text = [c for c in columns if c in self.columns and
                (pa.types.is_string(self.schema.field(c).type) or pa.types.is_large_string(self.schema.field(c).type)
                 or pa.types.is_binary(self.schema.field(c).type))]
        self._file = pq.ParquetFile(self.path, read_dictionary=text or None, pre_buffer=True)

    def batches(self, columns: Sequence[str]) -> Iterator[_ArrowBatch]:
        """Record batches of ``columns``, row group by row group (a batch that spans two row
        groups costs a copy)."""
        start = 0
        for batch in self._record_batches(columns):
            yield _ArrowBatch(batch, start)
            start += batch.num_rows

    def _record_batches(self, columns: Sequence[str]) -> Iterator[Any]:
        import pyarrow as pa

        for group in range(self._file.num_row_groups):
            iterator = self._file.iter_batches(batch_size=BATCH_ROWS, row_groups=[group],
                                               columns=list(dict.fromkeys(columns)))
            while True:
                try:
                    batch = next(iterator)
                except StopIteration:
                    break
                except (pa.ArrowException, OSError) as exc:
                    raise DataError(f"{self.where} is not a readable Parquet file: {' '.join(str(exc).split())}") \
                        from None
                yield batch

    def is_numeric(self, column: str) -> bool:
        import pyarrow as pa

        kind = self.schema.field(column).type
        return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind) \
            or pa.types.is_decimal(kind)

    def refuse_non_numeric(self, columns: Sequence[str]) -> None:
        import pyarrow as pa

        for column in columns:
            if self.is_numeric(column):
                continue
            kind = self.schema.field(column).type
            dates = pa.types.is_temporal(kind)
            raise DataError(
                f"column {column!r} of {self.where} has type {kind}, not numbers, so it cannot be a feature: "
                + (f"if it holds the dates, pass date={column!r}; " if dates else
                   "name it as an attribute (attributes=[...]) if it is constant per SKU, ")
                + "choose the feature columns with features=[...], or drop it"
            )


# ---------------------------------------------------------------------------------- time axis
class _TimeAxis:
    """Where each row's period or date falls: period ``(value - origin) // step``."""

    def __init__(self, roles: Roles, origin: int, step: int, n_periods: int, freq: str | None) -> None:
        self.roles, self.origin, self.step, self.n_periods, self.freq = roles, origin, step, n_periods, freq

    def label(self, offset: int) -> str:
        value = self.origin + int(offset) * self.step
        return calendar.day_label(value) if self.roles.dated else str(value)

    def value_label(self, value: int) -> str:
        return calendar.day_label(value) if self.roles.dated else str(int(value))

    def offsets(self, values: np.ndarray, sku_of_row: Callable[[int], str], start: int) -> np.ndarray:
        """Period index (int32, or int64 beyond its range) of each value."""
        dtype = np.int32 if self.n_periods < 2**31 and values.dtype.itemsize <= 4 else np.int64
        shifted = np.subtract(values, self.origin, dtype=dtype)
        if self.step != 1:
            off_grid = shifted % self.step != 0
            if off_grid.any():
                row = int(np.flatnonzero(off_grid)[0])
                first = calendar.day_label(self.origin)
                raise DataError(
                    f"date column {self.roles.time!r} must fall on a weekly grid (freq='W': every date a "
                    f"{calendar.weekday(self.origin)}, like {first}), got {calendar.day_label(values[row])}, a "
                    f"{calendar.weekday(values[row])}, at row {start + row} (sku {sku_of_row(row)!r})"
                )
            shifted //= self.step
        return shifted


class _Seen:
    """The distinct day numbers of a date column (a growable bitmap), or a period range."""

    def __init__(self, dated: bool) -> None:
        self.dated = dated
        self.low: int | None = None
        self.high: int | None = None
        self._bitmap = np.zeros(0, dtype=bool)

    def add(self, values: np.ndarray) -> None:
        if not len(values):
            return
        low, high = int(values.min()), int(values.max())
        if self.low is None:
            self.low, self.high = low, high
            if self.dated:
                self._bitmap = np.zeros(high - low + 1, dtype=bool)
        elif low < self.low or high > self.high:
            new_low, new_high = min(low, self.low), max(high, self.high)
            if self.dated:
                grown = np.zeros(new_high - new_low + 1, dtype=bool)
                grown[self.low - new_low:self.high - new_low + 1] = self._bitmap
                self._bitmap = grown
            self.low, self.high = new_low, new_high
        if self.dated:
            self._bitmap[values - self.low] = True

    def days(self) -> np.ndarray:
        return np.flatnonzero(self._bitmap) + self.low


def _time_axis(seen: _Seen, roles: Roles, freq: str | None, hints: Mapping[str, Any]) -> _TimeAxis:
    hinted = roles.time == (hints.get("date") if roles.dated else hints.get("period", "period"))
    low, high = seen.low, seen.high
    assert low is not None and high is not None
    if not roles.dated:
        if freq is not None:
            raise ValidationError(f"freq applies to a date column, not to integer periods, got freq={freq!r} with "
                                  f"period column {roles.time!r}; pass date=... to read dates")
        if hinted and isinstance(hints.get("n_periods"), int) and isinstance(hints.get("period_start"), int):
            low = min(low, hints["period_start"])
            high = max(high, hints["period_start"] + hints["n_periods"] - 1)
        return _TimeAxis(roles, low, 1, high - low + 1, None)
    days = seen.days()
    if hinted and hints.get("freq") in calendar.FREQUENCIES and isinstance(hints.get("start_date"), str) \
            and isinstance(hints.get("n_periods"), int):
        freq = freq or hints["freq"]
        start = calendar.to_day(hints["start_date"], "the file's start_date")
        end = start + (hints["n_periods"] - 1) * calendar.FREQUENCIES[hints["freq"]]
        days = np.union1d(days, [start, end])
    if freq is None:
        freq = calendar.infer_freq(days, roles.time)
    step = calendar.FREQUENCIES[freq]
    origin = int(days[0])
    return _TimeAxis(roles, origin, step, (int(days[-1]) - origin) // step + 1, freq)


# ---------------------------------------------------------------------------------- per-SKU columns
class _PerSku:
    """A column that must hold one value per SKU (an attribute, the split label)."""

    def __init__(self, column: str, role: str, numeric: bool, n_skus: int) -> None:
        self.column, self.role = column, role
        self.coder = None if numeric else _Coder()
        self.values: np.ndarray | None = None
        self.seen = np.zeros(n_skus, dtype=bool)

    def add(self, batch: Any, codes: np.ndarray, sku_ids: Sequence[str]) -> None:
        values = batch.per_sku(self.column, self.coder)
        if self.role == "split" and (values < 0).any():
            row = int(np.flatnonzero(values < 0)[0])
            raise DataError(f"split column {self.column!r} must not have missing values, got NaN at row "
                            f"{batch.start + row} (sku {str(sku_ids[codes[row]])!r})")
        if self.values is None:
            self.values = np.zeros(len(self.seen), dtype=values.dtype if values.dtype.kind in "biuf" else object)
            if self.values.dtype.kind == "f":
                self.values[:] = np.nan
        elif values.dtype != self.values.dtype and values.dtype.kind in "biuf":
            self.values = self.values.astype(np.result_type(self.values.dtype, values.dtype))
        earlier = self.seen[codes]
        if earlier.any():
            self._check(self.values[codes[earlier]], values[earlier], codes[earlier], values, codes, sku_ids)
        self.values[codes] = values
        self.seen[codes] = True
        self._check(self.values[codes], values, codes, values, codes, sku_ids)

    def _check(self, stored: np.ndarray, given: np.ndarray, at: np.ndarray, values: np.ndarray, codes: np.ndarray,
               sku_ids: Sequence[str]) -> None:
        same = stored == given
        if stored.dtype.kind == "f":
            same |= np.isnan(stored) & np.isnan(given.astype(np.float64))
        if same.all():
            return
        sku_index = int(at[np.flatnonzero(~same)[0]])
        shown = [self._value(v) for v in pd.unique(values[codes == sku_index])]
        raise DataError(f"{self.role} column {self.column!r} must be constant within each SKU, got values "
                        f"{shown[:5]} for sku {str(sku_ids[sku_index])!r}")

    def _value(self, value: Any) -> Any:
        if self.coder is not None:
            return None if value < 0 else self.coder.values[int(value)]
        return value.item() if hasattr(value, "item") else value

    def result(self) -> np.ndarray:
        assert self.values is not None
        if self.coder is None:
            return self.values
        categories = np.array(self.coder.values + [None], dtype=object)
        return categories[self.values.astype(np.intp)]


# ---------------------------------------------------------------------------------- assembly
def _assemble(source: Any, roles: Roles, *, freq: str | None, fill_missing: str | None, lives: str,
              hints: Mapping[str, Any]) -> dict[str, Any]:
    freq = calendar.check_freq(freq)
    if fill_missing is not None and fill_missing not in FILL_MISSING:
        raise ValidationError(f"fill_missing must be one of {', '.join(map(repr, FILL_MISSING))} or None (a missing "
                              f"period is an error), got {fill_missing!r}")
    if lives not in LIVES:
        raise ValidationError(f"lives must be one of {', '.join(map(repr, LIVES))}, got {lives!r}")
    coder = _Coder()

    # ---- pass 1: SKUs and the time axis
    seen = _Seen(roles.dated)
    n_rows = 0
    for batch in source.batches([roles.sku, roles.time]):
        codes = batch.sku_codes(roles.sku, coder)
        seen.add(batch.time(roles, _sku_at(coder, codes, batch.start)))
        n_rows += batch.n_rows
    if n_rows == 0:
        raise DataError(f"{source.where} must have at least one row, got an empty table")
    axis = _time_axis(seen, roles, freq, hints)
    n_skus, n_periods = len(coder), axis.n_periods
    sku_ids = np.array([str(v) for v in coder.values], dtype=str)

    # ---- pass 2: values into the final arrays
    demand = zeros((n_periods, n_skus), np.float32)
    features = _FeatureValues((n_skus, n_periods, len(roles.features)))
    censored = zeros((n_periods, n_skus), bool) if roles.stockout else None
    rows = _RowsSeen(n_skus, n_periods)
    per_sku = [_PerSku(c, "split" if c == roles.split else "attribute", c != roles.split and source.is_numeric(c),
                       n_skus) for c in roles.per_sku]
    columns = [roles.sku, roles.time, roles.demand, *roles.features, *roles.per_sku] + \
              ([roles.stockout] if roles.stockout else [])
    for batch in source.batches(columns):
        codes = batch.sku_codes(roles.sku, coder)
        sku_at = _sku_at(coder, codes, batch.start)
        offsets = axis.offsets(batch.time(roles, sku_at), lambda row: str(sku_ids[codes[row]]), batch.start)
        placer = _Placer(codes, offsets, n_periods, n_skus)
        again = placer.seen(rows)
        if again is not None:
            row = int(np.flatnonzero(again)[0])
            _raise_duplicate(source, roles, coder, axis, n_skus, int(offsets[row]) * n_skus + int(codes[row]))

        def where(row: int) -> str:
            return f"sku {str(sku_ids[codes[row]])!r} {roles.time_role} {axis.label(offsets[row])}"

        placer.put_time_major(demand, _numbers(batch, roles.demand, "demand", where))
        for j, column in enumerate(roles.features):
            features.put(placer, j, _numbers(batch, column, "feature", where))
        if censored is not None:
            try:
                flags = batch.flags(roles.stockout)
            except _BadValue as bad:
                raise DataError(f"stockout column {roles.stockout!r} must hold {bad.detail} on every row, got "
                                f"{bad.value!r} at {where(bad.row)} (row {batch.start + bad.row})") from None
            placer.put_time_major(censored, flags)
        for column in per_sku:
            column.add(batch, codes, sku_ids)
    # ---- lives and missing periods
    counts = rows.counts()
    if int(counts.sum()) != n_rows:
        _raise_duplicate(source, roles, coder, axis, n_skus, None)
    present = rows.present
    first = np.zeros(n_skus, dtype=np.int64)
    last = np.full(n_skus, n_periods - 1, dtype=np.int64)
    if lives == "rows":
        short = np.flatnonzero(counts < n_periods)
        if len(short):
            block = present[short]
            first[short] = np.argmax(block, axis=1)
            last[short] = n_periods - 1 - np.argmax(block[:, ::-1], axis=1)
    missing = (last - first + 1) - counts
    metadata: dict[str, Any] = {}
    if missing.any():
        incomplete = np.flatnonzero(missing)
        if fill_missing is None:
            i = int(incomplete[0])
            absent = np.flatnonzero(~present[i, first[i]:last[i] + 1]) + first[i]
            shown = ", ".join(axis.label(t) for t in absent[:10]) + (", ..." if len(absent) > 10 else "")
            raise DataError(
                f"periods are ragged: sku {str(sku_ids[i])!r} has no row for {roles.time_role}(s) {shown} inside its "
                f"life {axis.label(first[i])}..{axis.label(last[i])} ({len(incomplete)} SKU(s) miss "
                f"{int(missing.sum())} row(s) in all); pass fill_missing='zero' (orkit: --fill-missing zero) to count "
                "them as zero demand" + ("" if lives == "full" else
                                         ", or give every SKU its row for each period of its life")
            )
        for array in features.arrays:
            _carry_features(array, present, first, last, incomplete)
        added = int(missing.sum())
        metadata["fill_missing"] = {"rule": fill_missing, "rows_added": added, "skus": int(len(incomplete))}
        logger.info("fill_missing=%r: added %d row(s) of zero demand for %d SKU(s)", fill_missing, added,
                    len(incomplete))
    elif fill_missing is not None:
        logger.info("fill_missing=%r: no period was missing, added 0 rows", fill_missing)
    del present, rows
    partial = (first > 0) | (last < n_periods - 1)
    if partial.any():
        logger.info("%d of %d SKU(s) start after the first period or end before the last (dataset.life)",
                    int(partial.sum()), n_skus)

    attributes = pd.DataFrame(index=pd.Index(sku_ids, name="sku", dtype="str"))
    for column in per_sku:
        if column.column != roles.split:
            attributes[column.column] = column.result()
    split = per_sku[-1].result().astype(str) if roles.split is not None else None
    features = features.result()
    for array in (demand, censored):
        if array is not None:
            array.setflags(write=False)
    return dict(
        demand=demand.T,
        features=features,
        feature_names=roles.features,
        sku_ids=sku_ids,
        attributes=attributes,
        split=split,
        life=(first, last) if partial.any() else None,
        censored=None if censored is None else censored.T,
        period_start=0 if roles.dated else axis.origin,
        start_date=calendar.day_label(axis.origin) if roles.dated else None,
        freq=axis.freq,
        ingestion_metadata=metadata,
    )


class _FeatureValues:
    """The features' final arrays, one (n_skus, T) array per feature: codes into a table of its
    distinct values (:mod:`orkit.data.coded`; uint8, widened to int16 past 256 values) while
    it has at most ``MAX_VALUES``, all finite; else float32 values, from the batch that breaks
    the rule on (the codes so far decoded into them)."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        n_skus, n_periods, n_features = shape
        self.shape = shape
        # code 0 is 0.0 in every table: the value of cells no row writes
        self.arrays = [zeros((n_skus, n_periods), np.uint8) for _ in range(n_features)]
        self.tables: list[list[float] | None] = [[0.0] for _ in range(n_features)]
        self._index: list[dict[float, int]] = [{0.0: 0} for _ in range(n_features)]
        self._rows = 0  # SKU rows below this may hold codes (the others are untouched zeros)

    def put(self, placer: "_Placer", j: int, values: np.ndarray) -> None:
        self._rows = max(self._rows, int(placer.codes.max(initial=-1)) + 1)
        table = self.tables[j]
        if table is not None:
            local, uniques = pd.factorize(values.astype(np.float32, copy=False), use_na_sentinel=True)
            index = self._index[j]
            new = [float(u) for u in uniques if float(u) not in index]
            if len(table) + len(new) <= MAX_VALUES and np.isfinite(uniques).all() and (local >= 0).all():
                for value in new:
                    index[value] = len(table)
                    table.append(value)
                if code_dtype(len(table)) != self.arrays[j].dtype:
                    self.arrays[j] = self._copy(self.arrays[j], code_dtype(len(table)))
                mapping = np.fromiter((index[float(u)] for u in uniques), dtype=self.arrays[j].dtype,
                                      count=len(uniques))
                placer.put_sku_major(self.arrays[j], None, mapping.take(local))
                return
            self.arrays[j] = self._copy(self.arrays[j], np.float32, np.asarray(table, dtype=np.float32))
            self.tables[j] = None
        placer.put_sku_major(self.arrays[j], None, values)

    def _copy(self, source: np.ndarray, dtype: Any, table: Any = None) -> np.ndarray:
        """``source``'s rows that may hold codes into a new array of ``dtype``, through ``table``
        when given."""
        target = zeros(source.shape, dtype)
        step = max(1, (1 << 22) // max(1, source.shape[1]))
        for start in range(0, self._rows, step):
            block = source[start:min(start + step, self._rows)]
            target[start:start + len(block)] = block if table is None else table.take(block.astype(np.intp))
        return target

    def result(self) -> np.ndarray | CodedArray:
        if not self.arrays:
            return np.zeros(self.shape, np.float32)
        for array in self.arrays:
            array.setflags(write=False)
        return CodedArray(self.arrays, self.tables)


def _sku_at(coder: _Coder, codes: np.ndarray, start: int) -> Callable[[int], str]:
    return lambda row: str(coder.values[int(codes[row])])


def _numbers(batch: Any, column: str, role: str, where: Callable[[int], str]) -> np.ndarray:
    try:
        return batch.numbers(column)
    except _BadValue as bad:
        at = f" (first non-numeric value {bad.value!r} at {where(bad.row)})" if bad.row is not None else ""
        raise DataError(f"{role} column {column!r} must be numeric, got {bad.detail}{at}") from None


class _RowsSeen:
    """Which (SKU, period) rows were read. A SKU whose T rows came as one block is a flag in
    ``whole``; other rows are cells of ``present`` ((n_skus, T) bool, SKU-major, an anonymous
    map: only the pages of SKUs with such rows are ever touched), their SKUs flagged in
    ``marked``."""

    def __init__(self, n_skus: int, n_periods: int) -> None:
        self.present = zeros((n_skus, n_periods), bool)
        self.whole = np.zeros(n_skus, dtype=bool)
        self.marked = np.zeros(n_skus, dtype=bool)

    def hit(self, codes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        return self.whole[codes] | (self.marked[codes] & self.present[codes, offsets])

    def counts(self) -> np.ndarray:
        """Rows per SKU (a SKU read whole and also in ``present`` counts both)."""
        counts = np.where(self.whole, self.present.shape[1], 0)
        marked = np.flatnonzero(self.marked)
        for chunk in np.array_split(marked, max(1, len(marked) // 4096)):
            counts[chunk] += np.add.reduce(self.present[chunk], axis=1, dtype=np.int64)
        return counts


class _Placer:
    """Writes one batch's values into (T, n) time-major or (n, T, F) SKU-major arrays.

    Rows that hold whole SKUs, each SKU's periods 0, 1, ..., T-1 in order (a file written SKU by
    SKU, as orkit writes), are copied as (k, T) blocks; other rows are scattered one by one."""

    def __init__(self, codes: np.ndarray, offsets: np.ndarray, n_periods: int, n_skus: int) -> None:
        self.codes, self.offsets, self.n_periods, self.n_skus = codes, offsets, n_periods, n_skus
        self.rows: Any = None  # rows of the blocks: a slice, or an index array
        self.rest: Any = slice(0, len(codes))  # rows scattered: a slice, an index array, or a pair of slices
        found = _whole_skus(codes, offsets, n_periods)
        if found is not None:
            self.rows, block_codes, self.rest = found
            self.k = len(block_codes)
            c0 = int(block_codes[0])
            consecutive = block_codes[-1] - c0 == self.k - 1 and bool(np.all(np.diff(block_codes) == 1))
            self.columns: Any = slice(c0, c0 + self.k) if consecutive else block_codes

    def _rest_pieces(self) -> list[Any]:
        return list(self.rest) if isinstance(self.rest, tuple) else [self.rest]

    def _block(self, values: Any) -> np.ndarray:
        return np.asarray(values[self.rows]).reshape(self.k, self.n_periods)

    def seen(self, seen: "_RowsSeen") -> np.ndarray | None:
        """The rows already in ``seen``, or None when there are none; then add this batch's rows."""
        again = None
        if self.rows is not None:
            if seen.whole[self.columns].any() or seen.marked[self.columns].any():
                again = np.zeros(len(self.codes), dtype=bool)
                again[self.rows] = seen.hit(self.codes[self.rows], self.offsets[self.rows])
            seen.whole[self.columns] = True
        for piece in self._rest_pieces():
            codes, offsets = self.codes[piece], self.offsets[piece]
            hit = seen.hit(codes, offsets)
            if hit.any():
                again = np.zeros(len(self.codes), dtype=bool) if again is None else again
                again[np.arange(len(self.codes))[piece][hit]] = True
            seen.present[codes, offsets] = True
            seen.marked[codes] = True
        return again

    def put_time_major(self, target: np.ndarray, values: np.ndarray) -> None:
        if self.rows is not None:
            target[:, self.columns] = self._block(values).T
        for piece in self._rest_pieces():
            target[self.offsets[piece], self.codes[piece]] = values[piece]

    def put_sku_major(self, target: np.ndarray, j: int | None, values: np.ndarray) -> None:
        """Into feature ``j`` of an (n, T, F) array, or into an (n, T) array when ``j`` is None."""
        feature = () if j is None else (j,)
        if self.rows is not None:
            target[(self.columns, slice(None), *feature)] = self._block(values)
        for piece in self._rest_pieces():
            target[(self.codes[piece], self.offsets[piece], *feature)] = values[piece]


def _whole_skus(codes: np.ndarray, offsets: np.ndarray, n_periods: int) -> tuple[Any, np.ndarray, Any] | None:
    """(rows, SKU codes, other rows) of the runs of ``n_periods`` rows that each hold one SKU's
    periods 0, 1, ..., T-1 in order; ``None`` when there are none."""
    m = len(codes)
    if m < n_periods or n_periods < 2:
        return None
    # the usual case, checked in two passes: whole SKUs from the first period 0 on, cut at both ends
    heads = np.flatnonzero(offsets[:n_periods] == 0)
    if len(heads):
        start = int(heads[0])
        k = (m - start) // n_periods
        stop = start + k * n_periods
        if k and np.array_equal(offsets[start:stop].reshape(k, n_periods), np.broadcast_to(
                np.arange(n_periods, dtype=offsets.dtype), (k, n_periods))):
            block_codes = codes[start:stop].reshape(k, n_periods)
            if (block_codes == block_codes[:, :1]).all():
                return slice(start, stop), block_codes[:, 0], (slice(0, start), slice(stop, m))
    # any runs: SKUs whose life is shorter than the horizon break the usual case
    change = np.empty(m, dtype=bool)
    change[0] = True
    np.not_equal(codes[1:], codes[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    if len(starts) * n_periods > 2 * m:  # short runs only (rows in period order, say)
        return None
    lengths = np.diff(np.append(starts, m))
    breaks = change.copy()
    breaks[1:] |= (offsets[1:] - offsets[:-1]) != 1
    broken = np.cumsum(breaks)
    full = (lengths == n_periods) & (offsets[starts] == 0)
    full &= broken[starts + lengths - 1] == broken[starts]
    if not full.any():
        return None
    rows = (starts[full][:, None] + np.arange(n_periods)).reshape(-1)
    inside = np.zeros(m, dtype=bool)
    inside[rows] = True
    return rows, codes[starts[full]], np.flatnonzero(~inside)


def _carry_features(features: np.ndarray, present: np.ndarray, first: np.ndarray, last: np.ndarray,
                    skus: np.ndarray) -> None:
    """Features of the periods added inside each SKU's life: the SKU's previous row (its next
    row before its first one); ``features`` is (n, T, F) or (n, T)."""
    if features.size == 0:
        return
    n_periods = present.shape[1]
    t = np.arange(n_periods)
    for chunk in np.array_split(skus, max(1, len(skus) // 4096)):
        rows = present[chunk]  # (k, T)
        previous = np.maximum.accumulate(np.where(rows, t, -1), axis=1)
        following = np.minimum.accumulate(np.where(rows, t, n_periods)[:, ::-1], axis=1)[:, ::-1]
        source = np.where(previous >= 0, previous, following)
        inside = (t >= first[chunk, None]) & (t <= last[chunk, None]) & ~rows
        k, period = np.nonzero(inside)
        features[chunk[k], period] = features[chunk[k], source[k, period]]


def _raise_duplicate(source: Any, roles: Roles, coder: _Coder, axis: _TimeAxis, n_skus: int, key: int | None) -> None:
    """Find the first (or the given) repeated (sku, period) key and raise naming its rows."""
    if key is None:
        seen = np.zeros(axis.n_periods * n_skus, dtype=bool)
        for batch in source.batches([roles.sku, roles.time]):
            codes = batch.sku_codes(roles.sku, coder)
            offsets = axis.offsets(batch.time(roles, _sku_at(coder, codes, batch.start)), lambda r: "", batch.start)
            flat = offsets * n_skus + codes
            repeated = seen[flat] | pd.Index(flat).duplicated()
            if repeated.any():
                key = int(flat[np.flatnonzero(repeated)[0]])
                break
            seen[flat] = True
    assert key is not None
    rows: list[int] = []
    for batch in source.batches([roles.sku, roles.time]):
        codes = batch.sku_codes(roles.sku, coder)
        offsets = axis.offsets(batch.time(roles, _sku_at(coder, codes, batch.start)), lambda r: "", batch.start)
        rows.extend((np.flatnonzero(offsets * n_skus + codes == key) + batch.start).tolist())
    period, code = divmod(key, n_skus)
    role = roles.time_role
    raise DataError(
        f"duplicate (sku, {role}) rows: sku {str(coder.values[code])!r} {role} {axis.label(period)} appears "
        f"{len(rows)} times (rows {', '.join(map(str, rows[:5]))}); each SKU needs one row per {role}"
    )


def _integer_periods(series: pd.Series, column: str, start: int = 0) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        dates = pd.api.types.is_datetime64_any_dtype(series) or (
            series.dtype == object and len(series) and isinstance(series.iloc[0], (pd.Timestamp,)))
        raise DataError(
            f"period column {column!r} must hold integers, got dtype {series.dtype}"
            + (f"; for dates pass date={column!r}" if dates or looks_like_dates(series) else "")
        )
    values = series.to_numpy(dtype=float, na_value=np.nan) if series.dtype.kind not in "iu" else series.to_numpy()
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"period column {column!r} must hold integers, got {float(values[row])!r} at row "
                            f"{start + row}")
    return values.astype(np.int64)


def looks_like_dates(series: pd.Series) -> bool:
    """Whether the first values of a text column read as ISO dates."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    sample = series.dropna().head(5)
    if not len(sample):
        return False
    parsed = pd.to_datetime(sample.astype(str), format="ISO8601", errors="coerce")
    return bool(pd.notna(parsed).all())


# ---------------------------------------------------------------------------------- entry points
def from_frame_arrays(frame: pd.DataFrame, hints: Mapping[str, Any], *, refuse_text: Callable[[Sequence[str]], None],
                      where: str = "frame", freq: str | None = None, fill_missing: str | None = None,
                      lives: str = "rows", **columns: Any) -> dict[str, Any]:
    """The Dataset arguments of a long DataFrame (see :meth:`Dataset.from_frame`); ``where``
    names the table in errors."""
    if any(not isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    source = _FrameSource(frame, where)
    roles = resolve_roles(source.columns, hints, where=where, refuse_non_numeric=refuse_text, **columns)
    if frame.columns.has_duplicates:
        duplicated_columns = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError(f"{where} has duplicated column names: {duplicated_columns}")
    if len(frame) == 0:
        raise DataError(f"{where} must have at least one row, got an empty table")
    return _assemble(source, roles, freq=freq, fill_missing=fill_missing, lives=lives, hints=hints)


def read_parquet_arrays(path: Path, hints: Mapping[str, Any], *, role: str = "dataset", freq: str | None = None,
                        fill_missing: str | None = None, lives: str = "rows", **columns: Any) -> dict[str, Any]:
    """The Dataset arguments of a long table in a Parquet file, read batch by batch."""
    source = _ParquetSource(path, role)
    roles = resolve_roles(source.columns, hints, where=source.where, refuse_non_numeric=source.refuse_non_numeric,
                          **columns)
    source.use_dictionaries([roles.sku, *roles.per_sku, roles.time])
    return _assemble(source, roles, freq=freq, fill_missing=fill_missing, lives=lives, hints=hints)
