"""Operating it: `clb serve` runs the schedules through a real local Prefect server; an OS scheduler can
call `clb nightly` directly instead."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import example_workspace, free_port
from tests.prefect_api import api

pytestmark = pytest.mark.flow
CLB = str(Path(sys.executable).with_name("clb"))


def make_workspace(root: Path, nightly: str) -> Path:
    example_workspace(root)
    path = root / "config" / "partnership.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["schedule"] = {"timezone": "Europe/London", "nightly": nightly, "reminders": "0 9 1 1 *"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return root


def runs(port: int, state: str, auth: str) -> list[dict]:
    found = api(port, "/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": [state]}}}}, auth)
    return [run for run in found if run["name"].startswith("nightly-")]  # type: ignore[union-attr]


def login(root: Path) -> str:
    """The server's login, as clb serve leaves it for the workspace's own commands (owner-only)."""
    return json.loads((root / "state" / "server.json").read_text())["auth"]


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
                auth = login(first)
                completed, failed = runs(port, "COMPLETED", auth), runs(port, "FAILED", auth)
                names = {d["name"] for d in api(port, "/deployments/filter", auth=auth)}  # type: ignore[union-attr]
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
        assert stat.S_IMODE((first / "state" / "server.json").stat().st_mode) == 0o600
        attack(port, login(first), first, tmp_path)
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
    # a machine where clb has run before: its cache (found from HOME alone) holds Prefect's blank database,
    # when this run has made it (a first start from nothing is test_engine's)
    from pipeline.engine import blank_database

    if blank_database().is_file():
        kept = tmp_path / ".cache" / "clb" / blank_database().name
        kept.parent.mkdir(parents=True)
        shutil.copyfile(blank_database(), kept)
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


# ---------------------------------------------------------------- the scheduler obeys its owner only


def as_stranger(port: int, path: str, body: dict) -> int:
    """The HTTP status another local account gets from the server (run as nobody when the tests run as
    root; else as this account without the login), with Python's standard library only."""
    code = (
        "import json, sys, urllib.request, urllib.error\n"
        f"request = urllib.request.Request('http://127.0.0.1:{port}/api{path}', data=json.dumps({body!r}).encode(),"
        " headers={'Content-Type': 'application/json'}, method='POST')\n"
        "try:\n    print(urllib.request.urlopen(request, timeout=10).status)\n"
        "except urllib.error.HTTPError as exc:\n    print(exc.code)\n"
    )

    def drop() -> None:
        os.setgid(65534)
        os.setuid(65534)

    done = subprocess.run(
        ["/usr/bin/python3", "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
        preexec_fn=drop if os.geteuid() == 0 else None,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def evil_workspace(root: Path, listener: int, marker: Path) -> Path:
    """A stranger's workspace: its mailbox is the stranger's listener (which would receive the
    facilitator's IMAP login) and its templates try to run code as whoever renders them."""
    example_workspace(root)
    path = root / "config" / "partnership.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["mail"] = {"imap": {"host": "127.0.0.1", "port": listener, "security": "none"}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (root / "templates").mkdir()
    payload = f"{{{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}}}"
    for name in ("reasons.txt.j2", "letter.html.j2", "round.html.j2"):
        (root / "templates" / name).write_text(payload, encoding="utf-8")
    (root / "inbox" / "not a form.xlsx").write_bytes(b"not a workbook at all")
    os.utime(root / "inbox" / "not a form.xlsx", (time.time() - 3600,) * 2)
    return root


def attack(port: int, auth: str, first: Path, tmp_path: Path) -> None:
    """What the attacker did: ask the facilitator's scheduler to run a nightly on a workspace of theirs.
    Another account gets no further than the login; even with the login (an operator's laptop stolen,
    a leaked .env), a run for another folder, by its parameters or by the deployment's own, is refused
    before anything of that folder is read."""
    [nightly] = [d for d in api(port, "/deployments/filter", auth=auth) if d["name"] == "nightly-riverside"]  # type: ignore[union-attr]
    assert as_stranger(port, "/deployments/filter", {}) == 401
    assert as_stranger(port, f"/deployments/{nightly['id']}/create_flow_run", {"parameters": {}}) == 401

    marker = tmp_path / "owned"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.1)
        evil = evil_workspace(tmp_path / "evil", listener.getsockname()[1], marker)
        before = sorted(p.relative_to(evil).as_posix() for p in evil.rglob("*"))
        theirs = {"parameters": {"workspace": str(evil)}}
        asked = api(port, f"/deployments/{nightly['id']}/create_flow_run", theirs, auth)
        api(port, f"/deployments/{nightly['id']}", theirs, auth, method="PATCH")  # the deployment's own, too
        rewritten = api(port, f"/deployments/{nightly['id']}/create_flow_run", {}, auth)
        ids = [asked["id"], rewritten["id"]]  # type: ignore[index]
        ended = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(ended) < 2:
            time.sleep(2)
            found = api(port, "/flow_runs/filter", {"flow_runs": {"id": {"any_": ids}}}, auth)
            ended = [run for run in found if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED")]  # type: ignore[union-attr]
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody ever came to collect a login
    assert [run["state"]["type"] for run in ended] == ["FAILED", "FAILED"], ended
    assert all("refused" in run["state"]["message"] for run in ended), ended
    assert not marker.exists()
    assert sorted(p.relative_to(evil).as_posix() for p in evil.rglob("*")) == before  # nothing written there


def test_workspace_templates_render_in_a_sandbox(tmp_path):
    """A facilitator may reword a template; a template may not reach Python."""
    from jinja2.exceptions import SecurityError

    from pipeline.templating import environment

    root = example_workspace(tmp_path / "ws")
    (root / "templates").mkdir()
    (root / "templates" / "reasons.txt.j2").write_text("Dear {{ file }}, {{ cycler.__init__.__globals__ }}")
    with pytest.raises(SecurityError):
        environment(root).get_template("reasons.txt.j2").render(file="x")
    (root / "templates" / "reasons.txt.j2").write_text("Reworded: {{ file }} ({{ problems | length }} problems)")
    reworded = environment(root).get_template("reasons.txt.j2").render(file="x", problems=[1, 2])
    assert reworded == "Reworded: x (2 problems)"
