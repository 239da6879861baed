"""The workspace's engine: one Prefect server shared by the commands run in a workspace, started by the
first, never two on one database, stopped only when nobody uses it (idle, or asked by clb serve), and
every command's run in its record of runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from pipeline import workspace_engine as we
from pipeline.processes import pid_alive
from tests.conftest import example_workspace, outside_env
from tests.prefect_api import api

CLB = str(Path(sys.executable).with_name("clb"))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_two_commands_share_a_running_engine_and_a_dead_ones_record_is_ignored(tmp_path):
    state = tmp_path / "state"
    starts: list[int] = []

    def start() -> we.Running:  # an engine that is this test's own process: alive while the test runs
        starts.append(1)
        return we.Running("http://127.0.0.1:4321/api", "clb:secret", os.getpid(), "log")

    first, started = we.attach(state, start)
    second, again = we.attach(state, start)
    assert (started, again, len(starts)) == (True, False, 1)
    assert first == second == we.read_record(state)
    assert [int(p.name) for p in we.users_dir(state).iterdir()] == [os.getpid()]
    assert oct(we.record_file(state).stat().st_mode & 0o777) == "0o600"  # it holds the server's login
    assert we.running_engine(state) == (
        f"The workspace's engine is running (process {os.getpid()}, http://127.0.0.1:4321); it stops by "
        "itself after 60 seconds unused."  # CLB_ENGINE_IDLE_SECONDS, as the tests set it
    )

    we.write_record(state, we.Running("http://127.0.0.1:4321/api", "clb:old", dead_pid(), "log"))
    assert we.read_record(state) is None and we.running_engine(state) is None  # it stopped without a word
    _, started = we.attach(state, start)
    assert started and len(starts) == 2

    we.write_record(state, we.Running("http://example.org:80/api", "clb:x", os.getpid(), "log"))
    assert we.read_record(state) is None  # only a server of this machine's loopback is ever used


def test_the_engine_stops_only_when_nobody_uses_it(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    we.enrol(state)  # this process: a command mid-run
    stale = dead_pid()
    we.enrol(state, stale)  # a command killed mid-run
    assert not we.should_stop(state, quiet_for=3600, idle=60)
    assert [int(p.name) for p in we.users_dir(state).iterdir()] == [os.getpid()]  # the dead one's mark gone

    we.leave(state)
    assert not we.should_stop(state, quiet_for=59, idle=60)
    assert we.should_stop(state, quiet_for=60, idle=60)
    (state / "engine.stop").write_bytes(b"")
    assert we.should_stop(state, quiet_for=0, idle=60)  # clb serve asked
    assert we.should_stop(tmp_path / "gone", quiet_for=0, idle=60)  # its workspace was removed


def test_the_watch_stops_under_the_lock_and_keeps_it_until_the_process_ends(tmp_path):
    state = tmp_path / "state"
    we.write_record(state, we.Running("http://127.0.0.1:4321/api", "clb:secret", os.getpid(), "log"))
    stopped = threading.Event()
    command = we.engine_lock(state)
    command.acquire()  # a command deciding about the engine right now
    watch = threading.Thread(target=we.watch_idle, args=(state, 1.0, lambda: 3600.0, stopped.set), daemon=True)
    watch.start()
    time.sleep(2.5)
    assert not stopped.is_set()  # it never stops under a command's feet
    command.release()
    assert stopped.wait(10)
    assert not we.record_file(state).exists()  # the next command starts a new one
    with pytest.raises(Timeout):
        FileLock(state / "engine.lock", thread_local=False).acquire(timeout=0.5)  # held until the process ends


@pytest.mark.integration
def test_commands_share_one_engine_every_run_is_recorded_and_clb_serve_retires_it(tmp_path):
    root = example_workspace(tmp_path / "ws", issue=True)
    env = outside_env() | {"CLB_ENGINE_IDLE_SECONDS": "600"}
    state = root / "state"
    both = [
        subprocess.Popen(
            [CLB, "nightly", "-w", str(root)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    states = []
    for command in both:
        _, error = command.communicate(timeout=600)
        # the second waits 30 s for the workspace; on a loaded machine it may be refused (exit 3): either
        # way it ran on the same engine, as a flow run of its own
        assert command.returncode in (0, 3), error
        states.append(("nightly", "COMPLETED" if command.returncode == 0 else "FAILED"))
    assert ("nightly", "COMPLETED") in states
    running = we.read_record(state)
    assert running is not None and pid_alive(running.pid)
    servers = subprocess.run(["pgrep", "-f", f"engine_server .*--state {state} "], capture_output=True, text=True)
    assert servers.stdout.split() == [str(running.pid)]  # one server for the two commands, never two

    third = subprocess.run([CLB, "send", "reminders", "-w", str(root)], env=env, capture_output=True, text=True)
    assert third.returncode == 0, third.stderr
    assert we.read_record(state) == running  # the same engine, no second start
    assert not list(we.users_dir(state).iterdir())  # each command left when it ended

    port = int(running.url.rsplit(":", 1)[1].split("/")[0])
    runs = api(port, "/flow_runs/filter", {"sort": "START_TIME_ASC"}, running.auth)
    found = [(run["name"].split("-")[0], run["state_type"]) for run in runs]  # type: ignore[union-attr]
    assert sorted(found) == sorted([*states, ("reminders", "COMPLETED")])
    with pytest.raises(Exception, match="401"):
        api(port, "/flow_runs/filter", {})  # another account on this machine: no login, no answer

    assert we.retire(state, wait_seconds=60)  # what clb serve does before it serves the workspace
    assert not pid_alive(running.pid) and we.read_record(state) is None
    assert json.loads((root / "outbox" / "runs" / "latest.json").read_text())["run_id"]
