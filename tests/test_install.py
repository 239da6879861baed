"""From nothing to a partnership's forms, returns, letters and reminders with only the installed `clb` and
the README's guide.

The wheel is built from this checkout and installed into a fresh virtual environment (with the versions
of uv.lock), away from the project: no checkout beside it, so it must carry its templates and example
config. Then every command of the guide (the README's `console` blocks, in order) is run with it in an
empty home folder, as a facilitator types it, in an 80-column terminal: each must succeed, print no
Prefect engine lines, fit 80 columns (a path longer than that is printed whole, on a line of its own, to
copy) and never split an email address.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from tests.html_tables import link_targets

REPO = Path(__file__).resolve().parents[1]
EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")


def uv() -> str:
    found = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        if os.environ.get("CI"):
            pytest.fail("uv is missing; make's setup installs it into .tools/")
        pytest.skip("uv is not installed")
    return found


def guide_commands() -> list[str]:
    """The commands of the README's guide: the `$ ` lines of its ```console blocks, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```console\n(.*?)```", text, re.S)
    return [line[2:].strip() for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def run(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **options)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh virtual environment holding the built wheel."""
    tool, root = uv(), tmp_path_factory.mktemp("install")
    run([tool, "build", "--wheel", "--out-dir", str(root / "dist"), str(REPO)])
    [wheel] = (root / "dist").glob("clb-*.whl")
    requirements = root / "requirements.txt"
    run([tool, "export", "--project", str(REPO), "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "-q",
         "-o", str(requirements)])  # fmt: skip
    run([tool, "venv", "--python", sys.executable, str(root / "venv")])
    python = root / "venv" / "bin" / "python"
    run([tool, "pip", "install", "--python", str(python), "-r", str(requirements), str(wheel)])
    return python.parent


def _shown_width(line: str) -> int:
    return sum(0 if unicodedata.combining(c) else 1 for c in line)


def test_the_guide_takes_an_empty_folder_to_forms_returns_a_close_and_letters(installed, tmp_path):
    commands = guide_commands()
    assert commands[0].startswith("clb init") and "clb forms" in commands and "clb nightly" in commands
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "CLB_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), COLUMNS="80", PATH=f"{installed}{os.pathsep}/usr/bin:/bin", NO_COLOR="1")
    # Prefect's blank database as the run has it (made once by this version of Prefect on this machine):
    # a first start from nothing, migrating the whole schema, is test_engine's
    env["CLB_CACHE_HOME"] = os.environ["CLB_CACHE_HOME"]
    here, returned = home, False
    for command in commands:
        command = _deadline_ahead(command)
        if command.startswith("cd "):
            here = Path(command[3:].replace("~", str(home)))
            continue
        if command.startswith("clb nightly") and not returned:  # what the guide asks the facilitator to do
            _save_returns(here)
            returned = True
        result = subprocess.run(["bash", "-c", command], cwd=here, env=env, capture_output=True, text=True, timeout=600)
        output = result.stdout + result.stderr
        needs_you = command.startswith("clb nightly") and "Some files need you (above): exit code 1." in output
        assert result.returncode == (1 if needs_you else 0), f"$ {command}\n{output}"  # the guide's return to fix
        assert "| INFO" not in output and "Flow run" not in output, f"$ {command}: Prefect's lines\n{output}"
        wide = [line for line in output.splitlines() if _shown_width(line) > 80 and len(line.split()) > 1]
        assert not wide, f"$ {command}: wider than 80 columns: {wide[:3]}"
        for token in re.findall(r"\S*@\S*", output):
            assert EMAIL.match(token.strip("()[],.:;'\"")), f"$ {command}: an address split or mangled: {token}"
    workspace = here
    rounds = sorted(p.name for p in (workspace / "outbox" / "forms").iterdir())
    assert rounds == ["2027-Q1", "2027-Q2"]  # the round, then the next one in the same workspace
    assert [len(list((workspace / "outbox" / "forms" / r).rglob("*.xlsx"))) for r in rounds] == [15, 15]
    assert list((workspace / "outbox" / "reports").rglob("*-shareable.xlsx"))
    page = workspace / "outbox" / "round.html"  # the round page, every link opening a file of the round
    assert page.exists() and all(target.exists() for target in link_targets(page))
    briefings = {p.name for p in (workspace / "outbox" / "reports").rglob("briefing-*")}
    assert {"briefing-2027-Q1.html", "briefing-2027-Q1.pdf"} <= briefings  # the PDF: Chromium printed the page
    for kind in ("invitation", "correction", "letter"):
        assert list((workspace / "outbox" / "mail" / kind).rglob("*.eml")), kind
    assert not (workspace / "outbox" / "mail" / "reminder").exists()  # the invitations are drafts, unsent
    assert "clb close" in commands and commands.index("clb close") < commands.index("clb send letters")
    assert not (installed.parent / "lib").joinpath("templates").exists()  # shipped inside the package


def _deadline_ahead(command: str) -> str:
    """The guide's dates are examples: one that has passed moves a year on, as a facilitator's would."""
    found = re.search(r"--deadline (\d{4}-\d{2}-\d{2})", command)
    if found and dt.date.fromisoformat(found.group(1)) < dt.date.today():
        ahead = (dt.date.today() + dt.timedelta(days=365)).isoformat()
        return command.replace(found.group(0), f"--deadline {ahead}")
    return command


def _save_returns(workspace: Path) -> None:
    """Three leaders' forms come back: two complete, one with a perspective left empty."""
    from pipeline.config import load_config
    from pipeline.simulate import answers, fill

    config = load_config(workspace / "config")
    forms = sorted((workspace / "outbox" / "forms").rglob("*.xlsx"))[:3]
    choices = {n: ("comfortable", "stretched", "panicked")[n % 3] for n in range(1, 8)}
    for number, form in enumerate(forms):
        picked = dict(choices) if number < 2 else {n: c for n, c in choices.items() if n != 4}
        filled = fill(form.read_bytes(), config.instrument, answers(config.instrument, picked))
        target = workspace / "inbox" / f"Re CLB form {number}.xlsx"
        target.write_bytes(filled)
        os.utime(target, (target.stat().st_mtime - 3600,) * 2)  # saved an hour ago: settled
