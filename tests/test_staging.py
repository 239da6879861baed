"""Never delete what was not read, and a refused file costs no more than itself: through the installed
`clb nightly` (a run held part-way while a leader saves over an inbox name), and through clb's command
in this process (tests/commands.py) for a file that would fill the disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.commands import clb
from tests.intake_helpers import ALL_COMFORTABLE, LEADER, filled

pytestmark = pytest.mark.flow
CLB = str(Path(sys.executable).with_name("clb"))


def settled(path: Path, data: bytes | None = None) -> Path:
    if data is not None:
        path.write_bytes(data)
    os.utime(path, (time.time() - 3600,) * 2)
    return path


def report(root: Path) -> dict:
    return json.loads((root / "outbox" / "runs" / "latest.json").read_text())


def test_a_form_saved_over_an_inbox_name_during_the_run_is_kept_for_the_next(issued, served_engine, tmp_path):
    """The run has read and archived inbox/Form.xlsx; the leader's corrected form is then saved over
    the same name (a mail client replacing a saved attachment). Before, the end of the run deleted it
    unread. Now it is in the inbox afterwards, and the next night takes it in."""
    form = settled(issued / "inbox" / "Form.xlsx", filled(issued, LEADER))
    held = tmp_path / "held"
    env = {**served_engine, "CLB_HOLD_AT": "after-archive", "CLB_HOLD_FILE": str(held)}
    run = subprocess.Popen(
        [CLB, "nightly", "-w", str(issued)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while not (held.exists() and held.read_text()):
        assert time.monotonic() < deadline and run.poll() is None, run.communicate()[0]
        time.sleep(0.1)
    corrected = filled(issued, LEADER, ALL_COMFORTABLE)
    settled(form, corrected)  # saved over the name the run took its file from
    held.unlink()  # the run goes on
    said = run.communicate(timeout=120)[0].decode()
    assert run.returncode == 0, said
    first = report(issued)
    assert [item["file"] for item in first["accepted"]] == ["Form.xlsx"]
    assert form.read_bytes() == corrected  # still there, unread by that run
    done = subprocess.run([CLB, "nightly", "-w", str(issued)], env=served_engine, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    [second] = report(issued)["accepted"]
    assert second["file"] == "Form.xlsx" and second["supersedes"] == first["accepted"][0]["sha256"]
    assert not form.exists()


def test_a_large_sparse_file_is_refused_and_stored_once_without_its_holes_filled(issued, prefect_engine):
    """Anyone who can write to a shared inbox folder could fill the disk: a 4 GB sparse file was copied
    whole into the archive and again into quarantine. Now it is moved (renamed) into the archive, its
    quarantine copy is the same file under a second name, and it keeps its holes."""
    big = issued / "inbox" / "holiday video.xlsx"
    with big.open("wb") as stream:
        stream.truncate(512 * 1024 * 1024)  # 512 MiB, nearly all hole
    settled(big)
    used = big.stat().st_blocks
    done = clb("nightly", "-w", str(issued))  # in this process (tests/commands.py)
    assert done.returncode == 1, done.stdout + done.stderr  # done; a file needs you
    [item] = report(issued)["quarantined"]
    assert [p["code"] for p in item["problems"]] == ["too-large"]
    archived = issued / "state" / "archive" / item["sha256"][:2] / item["sha256"]
    [copy] = [p for p in (issued / "outbox" / "quarantine").rglob("*holiday video.xlsx")]
    assert archived.stat().st_ino == copy.stat().st_ino and archived.stat().st_nlink == 2  # stored once
    assert archived.stat().st_size == 512 * 1024 * 1024 and archived.stat().st_blocks <= max(used, 64)
    assert not big.exists() and not any((issued / "state" / "staging").glob("*/0*"))
