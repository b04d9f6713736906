"""Writing files so that nothing is ever left half-written.

Every file orkit writes for a user (orders, datasets, results, reports, saved policies) goes
through :func:`atomic_write`: the content is written to a temporary file in the same folder,
flushed to disk, then renamed over the target in one step (``os.replace``). A crash, a
Ctrl-C or a full disk while writing leaves the previous file (or no file) in place, never a
torn one, and the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Callable, Iterator

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_bytes", "atomic_write_with"]


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` (same folder, so the rename is atomic; same suffix, for
    writers that choose a format by suffix). When the block ends normally it is synced, given
    the usual permissions (mkstemp makes it private) and renamed over ``path``; otherwise it is
    removed."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(descriptor)
    try:
        yield Path(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8",
                 newline: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it to ``path``.

    Parameters
    ----------
    path : str or Path
        The file to (re)place. Its folder must exist.
    mode : {"w", "wb"}, default="w"
    encoding, newline
        As in :func:`open` (text mode only).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "orders.csv"
    >>> with atomic_write(target) as handle:
    ...     _ = handle.write("sku,order\\n")
    >>> target.read_text()
    'sku,order\\n'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    with _temporary_beside(Path(path)) as temporary:
        options = {} if mode == "wb" else {"encoding": encoding, "newline": newline}
        with open(temporary, mode, **options) as handle:
            yield handle


def atomic_write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; return the path."""
    with atomic_write(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def atomic_write_with(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Let ``write(temporary_path)`` produce the file (for libraries that take a path, such as
    ``safetensors.save_file`` or ``Figure.savefig``), then rename it to ``path`` atomically.

    The temporary path keeps ``path``'s suffix, so writers that choose a format by suffix work.
    """
    path = Path(path)
    with _temporary_beside(path) as temporary:
        write(temporary)
    return path
