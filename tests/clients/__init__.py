"""Driving real spreadsheet programs from tests: LibreOffice through its UNO bridge, Gnumeric's ssconvert.

These are the programs leaders use; a form that only openpyxl can read proves nothing. When a program is
missing the test is skipped on a developer's machine but fails under CI (CI=true), where .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"


def require(program: str) -> None:
    if shutil.which(program) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is not installed; .ci/run should have installed it")
        pytest.skip(f"{program} is not installed")


def require_uno() -> None:
    require("soffice")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True)
    if probe.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice's Python bridge (python3-uno) is missing; .ci/run should install it")
        pytest.skip("python3-uno is not installed")


def libreoffice_fill(source: Path, target: Path, fills: dict[str, tuple[str, object]]) -> None:
    """Open ``source`` in real LibreOffice, fill cells by defined name, save at ``target`` (as .xlsx, or
    as .ods or .xls by its suffix)."""
    require_uno()
    spec = target.with_suffix(".fills.json")
    spec.write_text(json.dumps(fills), encoding="utf-8")
    result = subprocess.run(
        [SYSTEM_PYTHON, str(HERE / "lo_fill.py"), str(source), str(target), str(spec)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    spec.unlink()
    assert result.returncode == 0, result.stderr


GNUMERIC_EXPORTS = {
    ".xlsx": "Gnumeric_Excel:xlsx2",
    ".ods": "Gnumeric_OpenCalc:odf",
    ".xls": "Gnumeric_Excel:excel_biff8",
}


def gnumeric_resave(source: Path, target: Path) -> None:
    """Load ``source`` in Gnumeric and save it again (as .xlsx, or .ods or .xls by ``target``'s suffix), as
    ssconvert does."""
    require("ssconvert")
    result = subprocess.run(
        ["ssconvert", f"--export-type={GNUMERIC_EXPORTS[target.suffix.lower()]}", str(source), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and target.exists(), result.stderr
