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
BLOCK = re.compile(r"^```(python|bash tested)\s*\n(.*?)^```", re.S | re.M)
# shell blocks run with `orkit` as this environment's command, stopping at the first failure
SHELL = 'set -euo pipefail\norkit() { "$ORKIT_PYTHON" -m orkit "$@"; }\n'


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """```python blocks run in one namespace and ```bash tested blocks (the commands a reader
    copies) in a shell, in page order, in one folder."""
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)  # tutorials write their files here, never into the repository
    blocks = BLOCK.findall(path.read_text())
    assert any(kind == "python" for kind, _ in blocks), f"{path.name} has no ```python blocks"
    namespace: dict = {"__name__": "__tutorial__"}
    for i, (kind, block) in enumerate(blocks):
        if kind == "python":
            exec(compile(block, f"{path.name}[block {i}]", "exec"), namespace)
            continue
        done = subprocess.run(["bash", "-c", SHELL + block], cwd=tmp_path, capture_output=True, text=True,
                              env={**os.environ, "ORKIT_PYTHON": sys.executable}, timeout=600)
        assert done.returncode == 0 and "Traceback" not in done.stderr, f"{path.name}[block {i}]: {done.stderr[-3000:]}"


def test_the_readme_commands_are_tested() -> None:
    """The README's shell example (today's orders) is one of the executed blocks."""
    assert "```bash tested" in (ROOT / "README.md").read_text()

