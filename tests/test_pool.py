"""Many partnerships on a real engine: a Prefect server on PostgreSQL, clb deploy to a process work pool,
two clb workers; one run per workspace at a time; the server restarted between runs keeps its schedules
and history, and the workers go on; a worker killed mid-run, its run crashed and run again to the same
end. (Marked 'scale': skip locally with -m 'not scale'; the load test is tests/test_scale.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import example_workspace
from tests.intake_helpers import LEADER, OTHER, drop, filled
from tests.scale import CLB, LOCKED, Engine, make_partnership

pytestmark = pytest.mark.scale


def _ended(
    engine: Engine, ids: list[str], seconds: float, ends: tuple[str, ...] = ("COMPLETED", "FAILED", "CRASHED")
) -> list[dict]:
    """Those flow runs once each is in one of ``ends`` (or the test fails after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        runs = engine.runs(*ids)
        if len(runs) == len(ids) and all(run["state"] in ends for run in runs):
            return runs
        assert time.monotonic() < deadline, (runs, engine.logs()[-3000:])
        time.sleep(3)


def test_two_workers_run_every_workspace_once_at_a_time_on_postgresql(tmp_path):
    from pipeline.workspace import Workspace, workspace_slot

    spaces = [example_workspace(tmp_path / name, issue=True) for name in ("riverside", "hillside")]
    for root in spaces:
        drop(root, "a.xlsx", filled(root, LEADER))
        drop(root, "b.xlsx", filled(root, OTHER, {1: "comfortable"}))
    engine = Engine(
        tmp_path / "engine", postgres=True, PREFECT_WORKER_QUERY_SECONDS="2", PREFECT_WORKER_PREFETCH_SECONDS="2"
    )
    try:
        deployed = engine.deploy(spaces)
        assert "nightly-riverside" in deployed and "reminders-hillside" in deployed
        # another partnership whose folder has the same name would take riverside's deployments: refused
        other = example_workspace(tmp_path / "elsewhere" / "riverside")
        command = [CLB, "deploy", "--pool", "clb", "--workspace", str(other)]
        clash = subprocess.run(command, env=engine.env, capture_output=True, text=True, timeout=180)
        assert clash.returncode == 2, clash.stdout + clash.stderr
        assert f"{other} and {spaces[0]} would share the deployment 'nightly-riverside'" in clash.stderr
        # two runs of one workspace at once, and one of the other
        triggered = engine.client(
            "trigger", "nightly/nightly-riverside", "nightly/nightly-riverside", "nightly/nightly-hillside"
        )
        engine.start_worker()
        engine.start_worker()
        runs = _ended(engine, triggered, 300)  # type: ignore[arg-type]
        assert [run["state"] for run in runs] == ["COMPLETED"] * 3, runs
        # the second run of a workspace did its work only after the first had finished its own
        summaries = [json.loads(p.read_text()) for p in (spaces[0] / "outbox" / "runs").glob("*/summary.json")]
        spans = sorted((s["started_at"], s["finished_at"]) for s in summaries)
        assert len(spans) == 2 and spans[0][1] <= spans[1][0], spans
        slot = engine.client("slots", workspace_slot(Workspace.at(spaces[0])))
        assert slot == {"limit": 1, "active_slots": 0}
        for root in spaces:
            report = json.loads((root / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))
            assert report["round"]["responses"] == 1
        assert LOCKED not in engine.logs()

        # the server restarted between runs: on PostgreSQL, schedules and history are still there, and the
        # workers go on (that the next scheduled runs happen after a restart: tests/test_scale.py)
        before: dict = engine.client("deployments")  # type: ignore[assignment]
        engine.restart_server()
        after: dict = engine.client("deployments")  # type: ignore[assignment]
        assert after["deployments"] == before["deployments"] and len(after["deployments"]) == 4
        assert set(triggered) <= set(after["completed"])  # type: ignore[arg-type]
        again = engine.client("trigger", "nightly/nightly-hillside")
        assert _ended(engine, again, 180)[0]["state"] == "COMPLETED"  # type: ignore[arg-type]
    finally:
        engine.stop()


def test_a_worker_killed_mid_run_its_run_is_crashed_and_run_again_to_the_same_end(tmp_path):
    """The worker and its flow run's process killed with SIGKILL, by pid, while the run is taking in the
    inbox (as when a machine stops): Prefect's automations mark the run crashed when its heartbeats stop
    and schedule it again; another worker runs it; the workspace ends as the same night run alone."""
    from pipeline.pool import AGAIN, CRASHED
    from pipeline.pool import FEWEST_SILENT_SECONDS as SILENT
    from pipeline.workspace import Workspace, workspace_slot
    from tests.intake_helpers import nightly
    from tests.outcome import outcome

    root = make_partnership(tmp_path / "riverside", 0, leaders=24, returns=12)  # a chunk, held mid-way
    twin = tmp_path / "alone" / "riverside"
    shutil.copytree(root, twin)
    held = tmp_path / "held.pid"
    engine = Engine(
        tmp_path / "engine", postgres=True, PREFECT_WORKER_QUERY_SECONDS="2", PREFECT_WORKER_PREFETCH_SECONDS="2"
    )
    try:
        engine.deploy([root], "--crash-after", str(SILENT))  # the fewest seconds allowed, to wait less
        assert {CRASHED, AGAIN} <= set(engine.client("automations"))  # type: ignore[arg-type]
        [run_id] = engine.client("trigger", "nightly/nightly-riverside")  # type: ignore[misc]
        first = engine.start_worker(CLB_HOLD_AT="after-archive", CLB_HOLD_FILE=str(held))
        deadline = time.monotonic() + 180
        while not held.exists() or not held.read_text():
            assert time.monotonic() < deadline and first.poll() is None, engine.logs()[-3000:]
            time.sleep(0.5)
        assert engine.runs(run_id)[0]["state"] == "RUNNING"
        archived = [path for path in (root / "state" / "archive").rglob("*") if path.is_file()]
        staged = list(root.glob("state/staging/*/0*"))  # taken out of the inbox, not yet cleared
        assert len(archived) == 12 and staged, "not killed in the middle of the intake"
        os.kill(first.pid, signal.SIGKILL)
        os.kill(int(held.read_text()), signal.SIGKILL)
        first.wait()
        engine.start_worker()
        expected = (nightly(twin), outcome(twin))[1]  # the same night, alone and uninterrupted
        run = _ended(engine, [run_id], 420, ("COMPLETED", "FAILED"))[0]  # crashed on the way
        history = engine.client("history", run_id)
        kinds = [state["type"] for state in history]  # type: ignore[union-attr]
        assert kinds[-1] == "COMPLETED" and "CRASHED" in kinds, history
        crashed = next(state for state in history if state["type"] == "CRASHED")  # type: ignore[union-attr]
        assert f"No heartbeat for {SILENT} s" in crashed["message"], crashed
        assert run["run_count"] == 2, run
        assert outcome(root) == expected
        slot = engine.client("slots", workspace_slot(Workspace.at(root)))
        assert slot == {"limit": 1, "active_slots": 0}
    finally:
        engine.stop()
