"""Calendars: the date of each period of a dataset read from a sales extract, daily or weekly.

A dataset built from a table with a date column keeps its calendar: the date of its first
period (``start_date``) and the frequency (``freq``): ``"D"``, one period per day, or ``"W"``,
one period per week with every date on the same weekday. Period ``t`` is dated
``start_date + t * step``, with a step of 1 or 7 days.

Dates are whole days, without a time of day; a time-zone-aware timestamp counts as its local
date. Text must be ISO 8601 (``2024-01-31``), which no locale reads two ways (``03/01/2024`` is
refused rather than guessed). Internally a date is a day number: days since 1970-01-01.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from orkit.core.errors import DataError, ValidationError

__all__ = ["FREQUENCIES", "calendar_part", "check_freq", "day_label", "days_from_series", "infer_freq", "period_dates",
           "to_day"]

#: days per period of each supported frequency
FREQUENCIES: dict[str, int] = {"D": 1, "W": 7}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday


def check_freq(freq: Any) -> str | None:
    """``None`` (infer from the dates), ``"D"`` or ``"W"``; anything else is a ValidationError."""
    if freq is None or (isinstance(freq, str) and freq in FREQUENCIES):
        return freq
    raise ValidationError(f"freq must be one of {', '.join(map(repr, FREQUENCIES))} or None (inferred from the "
                          f"dates), got {freq!r}")


def day_label(day: int) -> str:
    """``2024-01-31`` for a day number."""
    return str(np.datetime64(int(day), "D"))


def weekday(day: int) -> str:
    return _WEEKDAYS[(int(day) + _EPOCH_WEEKDAY) % 7]


def to_day(value: Any, name: str = "start_date") -> int:
    """The day number of a date given as text (ISO 8601), ``datetime.date``, Timestamp or
    ``numpy.datetime64``; a ValidationError naming ``name`` otherwise."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if stamp is pd.NaT or isinstance(value, (bool, int, float, np.number)):
        raise ValidationError(f"{name} must be a date such as '2024-01-31', got {value!r}")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    if stamp != stamp.normalize():
        raise ValidationError(f"{name} must be a whole day (no time of day), got {value!r}")
    return int(np.datetime64(stamp.date(), "D").astype(np.int64))


def days_from_series(series: pd.Series, column: str, sku_at: Callable[[int], str],
                     row_of: Callable[[int], int] | None = None) -> np.ndarray:
    """Day numbers (int64) of a date column.

    ``sku_at(i)`` names the SKU of position ``i`` in errors and ``row_of(i)`` its row in the
    table (default ``i``).

    Raises
    ------
    DataError
        Missing values, numbers instead of dates, text that is not an ISO 8601 date, or a time
        of day other than midnight; the message names the column, the value, the row and its SKU.
    """
    row_of = row_of or (lambda i: i)

    def at(i: int) -> str:
        return f"at row {row_of(i)} (sku {sku_at(i)!r})"

    missing = series.isna().to_numpy()
    if missing.any():
        raise DataError(f"date column {column!r} must not have missing values, got an empty value "
                        f"{at(int(np.flatnonzero(missing)[0]))}")
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        raise DataError(f"date column {column!r} must hold dates such as 2024-01-31, got numbers (dtype "
                        f"{series.dtype}); integer periods are read with period={column!r}")
    if pd.api.types.is_datetime64_any_dtype(series):
        codes = None
        stamps = pd.DatetimeIndex(series)
    else:  # text, date objects: each distinct value parsed once
        codes, uniques = pd.factorize(series, sort=False)
        text = pd.Index(uniques).astype(str)
        stamps = _parse(text)
        bad = np.asarray(pd.isna(stamps))
        if bad.any():
            i = int(np.flatnonzero(codes == int(np.flatnonzero(bad)[0]))[0])
            raise DataError(f"date column {column!r} must hold ISO dates such as 2024-01-31, got "
                            f"{str(series.iloc[i])!r} {at(i)}; convert other formats with "
                            "pandas.to_datetime(..., format=...) first")
    if stamps.tz is not None:
        stamps = stamps.tz_localize(None)
    whole = stamps.normalize()
    partial = np.asarray(stamps != whole)
    if partial.any():
        i = int(np.flatnonzero(partial if codes is None else partial[codes])[0])
        raise DataError(f"date column {column!r} must hold whole days (no time of day), got "
                        f"{str(series.iloc[i])!r} {at(i)}")
    days = whole.to_numpy().astype("datetime64[D]").astype(np.int64)
    return days if codes is None else days[codes]


def _parse(text: pd.Index) -> pd.DatetimeIndex:
    """ISO 8601 text to timestamps (NaT where it does not parse), local time of any zone."""
    try:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        if getattr(parsed, "tz", None) is not None:
            parsed = parsed.tz_localize(None)
    except (ValueError, TypeError):  # mixed time zones: one by one
        parsed = pd.DatetimeIndex([_one(v) for v in text])
    return pd.DatetimeIndex(parsed)


def _one(text: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except (TypeError, ValueError):
        return pd.NaT
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def infer_freq(days: np.ndarray, column: str) -> str:
    """``"D"`` or ``"W"`` from the sorted distinct day numbers of a date column.

    Weekly when every gap between dates is a multiple of 7 days; daily when the gaps have no
    common divisor and the dates spread over the weekdays. A DataError otherwise, saying to
    declare ``freq``.
    """
    if len(days) == 1:
        raise DataError(f"freq cannot be inferred from one date ({day_label(days[0])} in date column {column!r}); "
                        "pass freq='D' (daily) or freq='W' (weekly)")
    step = int(np.gcd.reduce(np.diff(days)))
    if step == 7:
        return "W"
    weekdays = np.bincount((days + _EPOCH_WEEKDAY) % 7, minlength=7)
    if step == 1 and weekdays.max() <= len(days) / 2:
        return "D"
    if step == 1:
        usual = int(np.argmax(weekdays))
        odd = days[(days + _EPOCH_WEEKDAY) % 7 != usual][0]
        raise DataError(
            f"freq cannot be inferred from date column {column!r}: {weekdays.max()} of its {len(days)} dates are "
            f"{_WEEKDAYS[usual]}s but {day_label(odd)} is a {weekday(odd)}; pass freq='W' if periods are weeks "
            "(every date must then fall on the same weekday) or freq='D' if they are days"
        )
    raise DataError(
        f"freq cannot be inferred from date column {column!r}: its dates are {step} days apart or a multiple of that "
        f"(e.g. {day_label(days[0])}, {day_label(days[1])}), neither daily nor weekly; pass freq='D' or freq='W' "
        "(the periods between the dates then count as missing)"
    )


def period_dates(start_day: int, freq: str, n_periods: int) -> pd.DatetimeIndex:
    """The date of each of ``n_periods`` periods from ``start_day`` (a day number)."""
    start = pd.Timestamp(np.datetime64(int(start_day), "D"))
    return pd.date_range(start, periods=n_periods, freq=f"{FREQUENCIES[freq]}D", name="date")


def calendar_part(days: np.ndarray, part: str) -> np.ndarray:
    """A calendar part of day numbers (any shape), as int64: ``weekday`` (0 = Monday ... 6 =
    Sunday), ``month`` (1-12), ``day_of_month`` (1-31), ``week_of_year`` (ISO week, 1-53) or
    ``day_of_year`` (1-366); the parts of :data:`orkit.data.schema.CALENDAR_PARTS`.

    Examples
    --------
    >>> day = to_day("2016-01-02")  # a Saturday
    >>> [int(calendar_part(np.array([day]), p)[0]) for p in ("weekday", "month", "week_of_year")]
    [5, 1, 53]
    """
    days = np.asarray(days, dtype=np.int64)
    if part == "weekday":
        return (days + _EPOCH_WEEKDAY) % 7
    stamps = pd.DatetimeIndex(days.reshape(-1).astype("datetime64[D]"))
    if part == "month":
        values = stamps.month
    elif part == "day_of_month":
        values = stamps.day
    elif part == "day_of_year":
        values = stamps.day_of_year
    elif part == "week_of_year":
        values = stamps.isocalendar().week
    else:
        raise ValidationError(f"part must be one of 'weekday', 'month', 'day_of_month', 'week_of_year', "
                              f"'day_of_year', got {part!r}")
    return np.asarray(values, dtype=np.int64).reshape(days.shape)
