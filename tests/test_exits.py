"""What cron, systemd timers and the Windows Task Scheduler see: the installed `clb` exits 0 only when
all is done, 1 when files need the facilitator, 2 for a wrong command or configuration, 4 when the run
could not complete (never 0 after a crash); a damaged Prefect database is set aside and the night goes
on; a command killed with SIGKILL leaves no Prefect server behind once the engine is idle."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.processes import pid_alive
from tests.conftest import example_workspace, outside_env
from tests.intake_helpers import LEADER, filled

pytestmark = pytest.mark.flow
CLB = str(Path(sys.executable).with_name("clb"))


def clb(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
    env = outside_env()
    return subprocess.run([CLB, *args], env=env, capture_output=True, text=True, timeout=300, **options)  # type: ignore[call-overload]


def drop(root: Path, name: str, data: bytes) -> None:
    path = root / "inbox" / name
    path.write_bytes(data)
    os.utime(path, (time.time() - 3600,) * 2)


def test_a_damaged_prefect_database_is_set_aside_and_files_that_need_you_exit_1(tmp_path):
    root = example_workspace(tmp_path / "ws", issue=True)
    home = root / "state" / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    (home / "prefect.db").write_bytes(os.urandom(65536))  # overwritten: every night stopped on it before
    drop(root, "form.xlsx", filled(root, LEADER))
    drop(root, "notes.xlsx", b"not a workbook")
    done = clb("nightly", "-w", str(root))
    assert done.returncode == 1, done.stdout + done.stderr  # done, and a file needs you
    said = " ".join((done.stdout + done.stderr).split())
    assert "could not be used: it is not an SQLite database" in said and "set aside as prefect.db.damaged-" in said
    assert "1 accepted, 1 quarantined" in said
    [aside] = home.glob("prefect.db.damaged-*[0-9]")
    assert aside.stat().st_size == 65536 and (home / "prefect.db").read_bytes()[:16] == b"SQLite format 3\x00"
    report = json.loads((root / "outbox" / "runs" / "latest.json").read_text())
    assert [item["file"] for item in report["accepted"]] == ["form.xlsx"]

    again = clb("nightly", "-w", str(root))  # nothing new: nothing needs you
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_killed_command_leaves_no_server_and_a_crash_never_exits_0(tmp_path):
    """The workspace's engine outlives a command by design, but only while it is used: a command killed
    mid-run no longer holds it, and it stops by itself once idle."""
    root = example_workspace(tmp_path / "ws", issue=True)
    env = outside_env() | {"CLB_ENGINE_IDLE_SECONDS": "3"}
    command = subprocess.Popen(
        [CLB, "nightly", "-w", str(root)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    record = root / "state" / "engine.json"
    server = None
    deadline = time.monotonic() + 120
    while server is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            server = int(json.loads(record.read_text())["pid"])
        time.sleep(0.1)
    assert server is not None and pid_alive(server), "the command's Prefect server never started"
    os.kill(command.pid, signal.SIGKILL)  # the OOM killer, a systemd stop timeout, cron's timeout
    command.wait()
    deadline = time.monotonic() + 60
    while pid_alive(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(server), "the Prefect server outlived its idle time after its command was killed"
    assert not record.exists() and not list((root / "state" / "engine-users").glob("*"))

    assert clb("nightly", "-w", str(tmp_path / "nowhere")).returncode == 2  # not a workspace: nothing done
    for journal in root.glob("state/clb.sqlite-*"):
        journal.unlink()
    (root / "state" / "clb.sqlite").write_bytes(b"this is not a database" * 100)  # a disk fault
    crashed = clb("status", "-w", str(root))
    assert crashed.returncode == 4, crashed.stdout + crashed.stderr
    assert "clb stopped" in crashed.stderr and "run it again" in crashed.stderr
