"""Many partnerships on a real engine: a Prefect server on PostgreSQL, clb deploy to a process work pool,
two clb workers; one run per workspace at a time; the server restarted between runs keeps its schedules
and history, and the workers go on. (Marked 'scale': skip locally with -m 'not scale'.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import example_workspace, free_port
from tests.intake_helpers import LEADER, OTHER, drop, filled

pytestmark = pytest.mark.scale
CLB = str(Path(sys.executable).with_name("clb"))


def _client(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.pool_client", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_two_workers_run_every_workspace_once_at_a_time_on_postgresql(tmp_path):
    from pipeline.pool import workspace_slot
    from pipeline.serve import start_server, stop_server
    from pipeline.workspace import Workspace
    from tests.postgres import Postgres

    spaces = [example_workspace(tmp_path / name, issue=True) for name in ("riverside", "hillside")]
    for root in spaces:
        drop(root, "a.xlsx", filled(root, LEADER))
        drop(root, "b.xlsx", filled(root, OTHER, {1: "comfortable"}))
    database = Postgres()
    port = free_port()
    home = tmp_path / "prefect-home"
    server = start_server(home, "127.0.0.1", port, tmp_path / "server.log", database=database.url)
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
    }
    workers: list[subprocess.Popen[bytes]] = []
    try:
        command = [CLB, "deploy", "--pool", "clb"] + [arg for root in spaces for arg in ("--workspace", str(root))]
        deployed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert "nightly-riverside" in deployed.stdout and "reminders-hillside" in deployed.stdout
        # two runs of one workspace at once, and one of the other
        triggered = json.loads(
            _client(
                env, "trigger", "nightly/nightly-riverside", "nightly/nightly-riverside", "nightly/nightly-hillside"
            )
        )
        for _ in range(2):
            log = (tmp_path / f"worker-{len(workers)}.log").open("wb")
            workers.append(
                subprocess.Popen(
                    [CLB, "worker", "--pool", "clb"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 300
        while True:
            runs = json.loads(_client(env, "runs", *triggered))
            if len(runs) == 3 and all(run["state"] in ("COMPLETED", "FAILED", "CRASHED") for run in runs):
                break
            assert time.monotonic() < deadline, runs
            time.sleep(3)
        assert [run["state"] for run in runs] == ["COMPLETED"] * 3, runs
        # the second run of a workspace did its work only after the first had finished its own
        summaries = [json.loads(p.read_text()) for p in (spaces[0] / "outbox" / "runs").glob("*/summary.json")]
        spans = sorted((s["started_at"], s["finished_at"]) for s in summaries)
        assert len(spans) == 2 and spans[0][1] <= spans[1][0], spans
        slot = json.loads(_client(env, "slots", workspace_slot(Workspace.at(spaces[0]))))
        assert slot == {"limit": 1, "active_slots": 0}
        for root in spaces:
            report = json.loads((root / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))
            assert report["round"]["responses"] == 1
        assert "database is locked" not in (tmp_path / "server.log").read_text(errors="replace")

        # the server restarted between runs: on PostgreSQL, schedules and history are still there
        before = json.loads(_client(env, "deployments"))
        stop_server(server)
        server = start_server(home, "127.0.0.1", port, tmp_path / "server-2.log", database=database.url)
        after = json.loads(_client(env, "deployments"))
        assert after["deployments"] == before["deployments"] and len(after["deployments"]) == 4
        assert set(triggered) <= set(after["completed"])
        again = json.loads(_client(env, "trigger", "nightly/nightly-hillside"))
        deadline = time.monotonic() + 180
        while json.loads(_client(env, "runs", *again))[0]["state"] != "COMPLETED":
            assert time.monotonic() < deadline, "no run after the restart"
            time.sleep(3)
    finally:
        for process in workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        stop_server(server)
        database.stop()
