"""Reading the tables users hand to orkit (CSV or Parquet), with one clear error per fault.

Datasets, state tables, on-hand and open-order tables all come through here, so an empty
file, a file that is not CSV or Parquet, or a malformed orkit header line gives a
:class:`~orkit.core.errors.DataError` naming the file and what is wrong, never a pandas or
pyarrow traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from orkit.core.errors import DataError, ValidationError

__all__ = ["read_table", "read_csv", "read_parquet", "table_suffix", "MissingFileError", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".parquet")


class MissingFileError(DataError, FileNotFoundError):
    """A named input file does not exist."""


def table_suffix(path: Path, role: str = "path") -> str:
    """``.csv`` or ``.parquet`` (lower case), or a :class:`ValidationError` naming ``role``."""
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValidationError(
            f"{role} suffix must be one of {', '.join(map(repr, TABLE_SUFFIXES))}, got {path.suffix or '(none)'!r} "
            f"in {str(path)!r}"
        )
    return suffix


def _existing(path: str | Path, role: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{role} file {str(path)!r} is a folder, not a CSV or Parquet file")
    if not path.is_file():
        raise MissingFileError(f"{role} file {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"{role} file {str(path)!r} is empty (0 bytes)")
    return path


def read_csv(path: str | Path, role: str, **options: Any) -> pd.DataFrame:
    """``pandas.read_csv(path, **options)`` with parse failures as one-line :class:`DataError`."""
    path = _existing(path, role)
    try:
        return pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{role} file {str(path)!r} has no columns (an empty table)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise DataError(f"{role} file {str(path)!r} is not a readable CSV table: {reason}") from None


def read_parquet(path: str | Path, role: str) -> Any:
    """The ``pyarrow.Table`` in ``path``, or a one-line :class:`DataError`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _existing(path, role)
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        reason = " ".join(str(exc).split())
        raise DataError(f"{role} file {str(path)!r} is not a readable Parquet file: {reason}") from None


def read_table(path: str | Path, role: str, **csv_options: Any) -> pd.DataFrame:
    """A CSV (``comment="#"`` lines skipped) or Parquet table as a DataFrame.

    Parameters
    ----------
    path : str or Path
    role : str
        What the file is for, used in errors (``"state"``, ``"on-hand"``, ...).
    **csv_options
        Passed to :func:`pandas.read_csv`.
    """
    path = Path(path)
    suffix = table_suffix(path, f"{role} file")
    if suffix == ".parquet":
        table = read_parquet(path, role)
        return table.to_pandas()
    frame = read_csv(path, role, comment="#", **csv_options)
    if len(frame.columns) == 0:
        raise DataError(f"{role} file {str(path)!r} has no columns (an empty table)")
    return frame
