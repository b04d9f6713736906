"""Every tutorial in docs/tutorials is executed: its ```python blocks run in order, in one namespace.

A tutorial that drifts from the code fails here. Blocks fenced as ```python no-run are skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "docs" / "tutorials").glob("*.md"))
BLOCK = re.compile(r"^```python\s*\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # tutorials write their files here, never into the repository
    code = BLOCK.findall(path.read_text())
    assert code, f"{path.name} has no ```python blocks"
    namespace: dict = {"__name__": "__tutorial__"}
    for i, block in enumerate(code):
        exec(compile(block, f"{path.name}[block {i}]", "exec"), namespace)
