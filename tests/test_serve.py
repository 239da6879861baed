"""Operating it: `clb serve` runs the schedules through a real local Prefect server; an OS scheduler can
call `clb nightly` directly instead."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import example_workspace, free_port

pytestmark = pytest.mark.flow
CLB = str(Path(sys.executable).with_name("clb"))


def make_workspace(root: Path, nightly: str) -> Path:
    example_workspace(root)
    path = root / "config" / "partnership.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["schedule"] = {"timezone": "Europe/London", "nightly": nightly, "reminders": "0 9 1 1 *"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return root


def api(port: int, path: str, body: dict | None = None) -> object:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api{path}",
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def runs(port: int, state: str) -> list[dict]:
    found = api(port, "/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": [state]}}}})
    return [run for run in found if run["name"].startswith("nightly-")]  # type: ignore[union-attr]


def test_serve_runs_each_workspaces_schedule_and_stops_by_pid(tmp_path):
    """Two partnerships served at once. The first one's first scheduled run fails (its workspace is held
    by another run); the next scheduled run still happens and completes."""
    from pipeline.workspace import Workspace, workspace_lock

    first = make_workspace(tmp_path / "riverside", "* * * * *")
    second = make_workspace(tmp_path / "hillside", "* * * * *")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    holder = workspace_lock(Workspace.at(first))
    holder.__enter__()
    held = True
    process = subprocess.Popen(
        [CLB, "serve", "--workspace", str(first), "--workspace", str(second), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 330
        completed: list[dict] = []
        failed: list[dict] = []
        while time.monotonic() < deadline:
            try:
                completed, failed = runs(port, "COMPLETED"), runs(port, "FAILED")
                names = {d["name"] for d in api(port, "/deployments/filter")}  # type: ignore[union-attr]
            except OSError:
                time.sleep(2)
                continue
            if held and any(run["parameters"]["workspace"] == str(first) for run in failed):
                holder.__exit__(None, None, None)
                held = False
            if len({run["parameters"]["workspace"] for run in completed}) == 2:
                break
            time.sleep(3)
        assert names >= {"nightly-riverside", "reminders-riverside", "nightly-hillside", "reminders-hillside"}
        assert [run["parameters"]["workspace"] for run in failed] == [str(first)]
        assert {run["parameters"]["workspace"] for run in completed} == {str(first), str(second)}
        assert all(re.fullmatch(r"nightly-\d{4}-\d{2}-\d{2}", run["name"]) for run in completed)  # named for the day
        for root in (first, second):
            assert json.loads((root / "outbox" / "runs" / "latest.json").read_text())["accepted"] == []
            assert "nightly run finished" in (root / "state" / "logs" / "clb.log").read_text()
    finally:
        if held:
            holder.__exit__(None, None, None)
        os.kill(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)


def test_an_os_scheduler_can_call_clb_nightly_directly(tmp_path):
    """What cron or a systemd timer does: another folder, a bare environment, ephemeral Prefect."""
    root = make_workspace(tmp_path / "ws", "0 2 * * *")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    result = subprocess.run(
        [CLB, "nightly", "--workspace", str(root)], cwd="/", env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "outbox" / "runs" / "latest.json").exists()
    assert (root / "state" / "prefect").is_dir() and not (tmp_path / ".prefect").exists()


def test_a_failed_run_names_its_run_and_its_log(prefect_engine, issued):
    from pipeline.flows import RunFailed, nightly

    (issued / "config" / "partnership.yaml").write_text("partnership: [unclosed\n", encoding="utf-8")
    state = nightly(workspace=str(issued), return_state=True)
    assert state.is_failed()
    with pytest.raises(RunFailed) as failure:
        state.result()
    message = str(failure.value)
    assert str(state.state_details.flow_run_id) in message
    assert str(issued / "state" / "logs" / "clb.log") in message
    assert "nightly run failed" in (issued / "state" / "logs" / "clb.log").read_text()
