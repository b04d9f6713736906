"""Stop requests that do not cut a block in two.

A worker process stops when its parent sends SIGTERM: the running job is interrupted like
Ctrl-C (``KeyboardInterrupt``). A few steps must not be cut between two statements, such as
recording a failed tuning trial and logging its one line. Inside :func:`shielded` a stop
request waits: it is raised when the outermost shielded block ends.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

__all__ = ["shielded", "interrupt"]

_DEPTH = 0  # nesting depth of shielded blocks (signal handlers run in the main thread)
_PENDING = False  # a stop request arrived inside a shielded block


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Run the block to its end even when :func:`interrupt` is called meanwhile (from a
    signal handler); the interruption then happens as the block ends."""
    global _DEPTH, _PENDING
    _DEPTH += 1
    try:
        yield
    finally:
        _DEPTH -= 1
    if _DEPTH == 0 and _PENDING:
        _PENDING = False
        raise KeyboardInterrupt


def interrupt() -> None:
    """Raise ``KeyboardInterrupt`` now, or as the running shielded block ends."""
    global _PENDING
    if _DEPTH:
        _PENDING = True
        return
    raise KeyboardInterrupt
