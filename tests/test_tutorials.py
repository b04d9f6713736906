"""Every tutorial in docs/tutorials (and the README's and getting-started's examples) is executed: its ```python blocks run in order, in one namespace.

A tutorial that drifts from the code fails here. Blocks fenced as ```python no-run are skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
# the tutorials, plus the pages whose examples a newcomer copies first
TUTORIALS = [*sorted((ROOT / "docs" / "tutorials").glob("*.md")), ROOT / "README.md",
             ROOT / "docs" / "getting-started.md", ROOT / "docs" / "concepts.md"]
BLOCK = re.compile(r"^```python\s*\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # tutorials write their files here, never into the repository
    code = BLOCK.findall(path.read_text())
    assert code, f"{path.name} has no ```python blocks"
    namespace: dict = {"__name__": "__tutorial__"}
    for i, block in enumerate(code):
        exec(compile(block, f"{path.name}[block {i}]", "exec"), namespace)
