"""The layer rule of docs/architecture.md: imports point down only (import-linter contracts)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[test]'")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_broken_layer_is_detected(tmp_path):
    """The checker is not vacuous: a core module importing the simulator is reported."""
    import importlib.util

    if importlib.util.find_spec("importlinter") is None:
        pytest.fail("import-linter is missing")
    pkg = tmp_path / "orkit"
    for sub in ("core", "sim"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "bad.py").write_text("import orkit.sim\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = orkit\n\n"
        "[importlinter:contract:layers]\nname = layers\ntype = layers\nlayers =\n    orkit.sim\n    orkit.core\n"
    )
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    result = subprocess.run([exe], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "orkit.core.bad -> orkit.sim" in result.stdout
