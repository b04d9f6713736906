"""Table files (CSV or Parquet): what users hand to orkit, and the dataset files orkit writes.

Datasets, state tables, on-hand and open-order tables are all read here, so an empty file, a
file that is not CSV or Parquet, or a malformed orkit header line gives a
:class:`~orkit.core.errors.DataError` naming the file and what is wrong, never a pandas or
pyarrow traceback.

A dataset file is a long table (one row per SKU and period; see :mod:`orkit.data.dataset`)
with a small JSON header: the dataset name, metadata, calendar and which columns play which
part, so that a write / read round trip is exact. A CSV file is a plain table that pandas and
spreadsheets read as it is; its header is a sidecar file beside it, ``<file>.csv.orkit.json``,
which also records the CSV's size and SHA-256 (a CSV changed since, by hand or by another tool,
is read with a warning, and the sidecar's period range is then not applied). Files written by
orkit before the sidecar began with a ``# orkit-dataset {...}`` line, still read. In a Parquet
file the header is schema metadata under the key ``orkit-dataset``.

:func:`write_dataset_file` writes a dataset file from blocks of rows (:func:`write_long_table`
from one table), :func:`read_long_table` reads one (or any long table without a header) as a
DataFrame and :func:`read_dataset_header` reads only its header.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from orkit.core.errors import DataError, ValidationError
from orkit.core.files import atomic_write, atomic_write_text, atomic_write_with

__all__ = ["HEADER_KEY", "MissingFileError", "SIDECAR_SUFFIX", "TABLE_SUFFIXES", "read_csv", "read_dataset_header",
           "read_long_table", "read_parquet", "read_table", "sidecar_path", "table_suffix", "write_dataset_file",
           "write_long_table"]

logger = logging.getLogger(__name__)

TABLE_SUFFIXES = (".csv", ".parquet")
#: where the dataset header lives: ``frame.attrs[HEADER_KEY]`` and the Parquet schema metadata
HEADER_KEY = "orkit-dataset"
_CSV_HEADER_PREFIX = "# orkit-dataset "
#: the sidecar of ``data.csv`` is ``data.csv.orkit.json``
SIDECAR_SUFFIX = ".orkit.json"
#: the newest header format this version reads
_FORMAT = 2
# pandas' default missing-value strings, applied to every column but the SKU and split columns
# (a SKU id "NA" must stay the string "NA").
_NA_STRINGS = sorted(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
     "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)
_TEXT_DTYPES = ("str", "object", "string")


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


# ---------------------------------------------------------------------------------- dataset files
def sidecar_path(path: str | Path) -> Path:
    """Where the header of a dataset CSV file lives: ``data.csv`` -> ``data.csv.orkit.json``."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def write_long_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a dataset's long table to ``path`` (``.csv`` or ``.parquet``, chosen by suffix) and
    return ``path``; the header is ``frame.attrs[HEADER_KEY]`` (taken out of ``frame``)."""
    return write_dataset_file(path, frame.attrs.pop(HEADER_KEY), [frame])


def write_dataset_file(path: str | Path, header: dict[str, Any], frames: Iterable[pd.DataFrame]) -> Path:
    """Write a dataset file from ``frames`` (blocks of rows with the same columns) and its header.

    A CSV file is written plain, its header to :func:`sidecar_path`; a Parquet file carries the
    header in its schema metadata. Parent folders are created; each file is written to a
    temporary file renamed over ``path``, so an interrupted write leaves no torn file.
    """
    path = Path(path)
    suffix = table_suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        digest = hashlib.sha256()
        size = 0
        with atomic_write(path, "w", newline="") as handle:
            for i, frame in enumerate(frames):
                text = frame.to_csv(index=False, header=i == 0, lineterminator="\n")
                data = text.encode("utf-8")
                digest.update(data)
                size += len(data)
                handle.write(text)
        sidecar = dict(header, csv={"bytes": size, "sha256": digest.hexdigest()})
        atomic_write_text(sidecar_path(path), json.dumps(sidecar, indent=1) + "\n")
    else:
        atomic_write_with(path, lambda temporary: _write_parquet(temporary, header, frames))
    return path


def _write_parquet(path: Path, header: dict[str, Any], frames: Iterable[pd.DataFrame]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    schema = None
    try:
        for frame in frames:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                metadata = dict(table.schema.metadata or {})
                metadata[HEADER_KEY.encode()] = json.dumps(header, separators=(",", ":")).encode("utf-8")
                schema = table.schema.with_metadata(metadata)
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(table.cast(schema))
    finally:
        if writer is not None:
            writer.close()


def read_dataset_header(path: str | Path, role: str = "dataset") -> dict[str, Any]:
    """The orkit header of a dataset file (``{"name": <file stem>}`` when it has none), without
    reading its rows: a Parquet file's schema metadata, a CSV file's sidecar or first line."""
    path = Path(path)
    if table_suffix(path) == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        _existing(path, role)
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as exc:
            reason = " ".join(str(exc).split())
            raise DataError(f"{role} file {str(path)!r} is not a readable Parquet file: {reason}") from None
        raw = (schema.metadata or {}).get(HEADER_KEY.encode())
        header = _parse_header(raw.decode("utf-8", errors="replace"), path, "its Parquet metadata", role) if raw else {}
    else:
        header, _ = _csv_header(path, role)
    return header or {"name": path.stem}


def _csv_header(path: Path, role: str) -> tuple[dict[str, Any], int]:
    """(header, lines to skip) of a dataset CSV file: the old first line, else the sidecar."""
    first_line = _first_line(path, role)
    if first_line.startswith(_CSV_HEADER_PREFIX):
        return _parse_header(first_line[len(_CSV_HEADER_PREFIX):], path, "its first line", role), 1
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return {}, 0
    try:
        text = sidecar.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{role} file {str(path)!r}: its sidecar {str(sidecar)!r} cannot be read ({exc})") from None
    header = _parse_header(text, path, f"its sidecar {sidecar.name!r}", role)
    written = header.pop("csv", None)
    if isinstance(written, dict) and not _same_file(path, written):
        logger.warning("%s file %s changed since orkit wrote it (size or SHA-256 differ from %s): its name, metadata "
                       "and column roles still apply, its period range does not", role, path, sidecar.name)
        header.pop("n_periods", None)
    return header, 0


def _same_file(path: Path, written: dict[str, Any]) -> bool:
    if path.stat().st_size != written.get("bytes"):
        return False
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest() == written.get("sha256")


def read_long_table(path: str | Path, *, sku: str = "sku", split: str | None = None,
                    role: str = "dataset") -> pd.DataFrame:
    """The long table of a dataset file as :meth:`Dataset.read <orkit.data.Dataset.read>` reads
    it, before any check.

    The orkit header (name, metadata, calendar, column roles) is in
    ``frame.attrs["orkit-dataset"]``, where :meth:`Dataset.from_frame
    <orkit.data.Dataset.from_frame>` finds it; a file without one gets ``{"name": <file stem>}``.
    The SKU and split columns (``sku``, ``split``) and text attributes are read as strings. Empty
    cells of numeric columns are NaN (today's rows of a sales history, whose demand is not known
    yet, read this way). ``role`` names the file in errors.
    """
    path = Path(path)
    suffix = table_suffix(path)
    if suffix == ".csv":
        header, skip = _csv_header(path, role)
        columns = read_csv(path, role, skiprows=skip, nrows=0).columns
        text_columns = {sku, split or "split"}
        text_columns |= {c for c, dtype in header.get("attributes", {}).items() if dtype in _TEXT_DTYPES}
        frame = read_csv(
            path,
            role,
            skiprows=skip,
            dtype={c: str for c in text_columns if c in columns},
            keep_default_na=False,
            na_values={c: _NA_STRINGS for c in columns if c not in text_columns},
        )
        for column, dtype in header.get("attributes", {}).items():
            if column in frame.columns and dtype not in _TEXT_DTYPES:
                try:
                    frame[column] = frame[column].astype(dtype)
                except (TypeError, ValueError):
                    pass
    else:
        table = read_parquet(path, role)
        raw = (table.schema.metadata or {}).get(HEADER_KEY.encode())
        header = _parse_header(raw.decode("utf-8", errors="replace"), path, "its Parquet metadata", role) if raw else {}
        frame = table.to_pandas()
    if not header:
        header = {"name": path.stem}
    frame.attrs[HEADER_KEY] = header
    logger.debug("read %d rows from %s", len(frame), path)
    return frame


def _first_line(path: Path, role: str) -> str:
    path = _existing(path, role)
    try:
        with path.open("r", encoding="utf-8") as handle:
            return handle.readline()
    except UnicodeDecodeError:
        raise DataError(f"{role} file {str(path)!r} is not a text (UTF-8) CSV file") from None


def _parse_header(text: str, path: Path, where: str, role: str) -> dict[str, Any]:
    """The orkit header (JSON object) of a dataset file, or a DataError saying what is wrong."""
    try:
        header = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{role} file {str(path)!r}: {where} must hold the orkit header as JSON after "
            f"{_CSV_HEADER_PREFIX.strip()!r} ({exc.msg} at character {exc.pos}); fix or delete that line"
        ) from None
    if not isinstance(header, dict) or not isinstance(header.get("attributes", {}), dict) \
            or not isinstance(header.get("metadata", {}), dict):
        raise DataError(f"{role} file {str(path)!r}: {where} must hold a JSON object with 'attributes' and "
                        f"'metadata' objects, got {text.strip()[:80]!r}")
    version = header.get("format", 1)
    if not isinstance(version, int) or version > _FORMAT:
        raise DataError(f"{role} file {str(path)!r}: {where} is format {version!r}, newer than this orkit reads "
                        f"(up to {_FORMAT}); upgrade orkit")
    return header
