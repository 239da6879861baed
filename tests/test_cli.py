"""The clb command without the engine: help, bad workspaces and bad configs fail fast and clearly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.workspace import Workspace, WorkspaceBusy, workspace_lock

runner = CliRunner()


def command_names() -> list[str]:
    return [c.name or c.callback.__name__ for c in app.registered_commands]


@pytest.mark.parametrize("command", command_names())
def test_every_command_has_help_with_an_example_and_a_workspace_option(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example:" in result.output and "clb " + command in result.output
    # init makes the workspace it is given; a worker takes any workspace's runs from its work pool
    assert "--workspace" in result.output or command in ("init", "worker")


def test_not_a_workspace(tmp_path):
    result = runner.invoke(app, ["forms", "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a clb workspace" in result.output and "--workspace" in result.output


def test_bad_config_stops_before_anything_is_written(workspace, write_roster):
    write_roster([["Council", "Priya", "p@c.example", ""], ["Council", "Tom", "P@C.example", ""]])
    result = runner.invoke(app, ["forms", "--workspace", str(workspace)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "config/roster.csv, row 3, field 'email'" in result.output
    assert not (workspace / "outbox" / "forms").exists()
    assert not (workspace / "state").exists()


def test_demo_refuses_to_replace_a_folder_that_is_not_a_demo(tmp_path):
    (tmp_path / "precious").mkdir()
    result = runner.invoke(app, ["demo", "--workspace", str(tmp_path / "precious")])
    assert result.exit_code == 2 and "not a demo workspace" in result.output


def test_second_run_on_a_workspace_is_refused_with_a_clear_message(workspace):
    space = Workspace.at(workspace)
    with (
        workspace_lock(space),
        pytest.raises(WorkspaceBusy, match="in use by process"),
        workspace_lock(space, wait_seconds=0.3),
    ):
        pass


def test_a_killed_run_does_not_keep_the_workspace(workspace):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import time
        from pipeline.workspace import Workspace, workspace_lock
        with workspace_lock(Workspace.at({str(workspace)!r})):
            print("held", flush=True)
            time.sleep(60)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(WorkspaceBusy), workspace_lock(Workspace.at(workspace)):
        pass
    holder.kill()
    holder.wait()
    with workspace_lock(Workspace.at(workspace)):
        pass


def test_clb_forget_asks_before_removing_anything(issued):
    from pipeline.state import active_forms, open_state
    from tests.intake_helpers import LEADER

    result = runner.invoke(app, ["forget", LEADER, "--workspace", str(issued)], input="n\n")
    assert (
        result.exit_code == 0 and "This removes, for good" in result.output and "Nothing was removed" in result.output
    )
    assert LEADER in active_forms(open_state(issued / "state" / "clb.sqlite"), "2026-Q4")
    unknown = runner.invoke(app, ["forget", "nobody@nowhere.example", "--workspace", str(issued)])
    assert unknown.exit_code == 0 and "Nothing was removed" in unknown.output


def test_clb_status_names_no_forgotten_leader(issued):
    from tests.intake_helpers import LEADER

    assert runner.invoke(app, ["forget", LEADER, "--workspace", str(issued), "--yes"]).exit_code == 0
    shown = runner.invoke(app, ["status", "--workspace", str(issued)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "asked to be forgotten" in shown.output
    assert "Priya Raman" not in shown.output and "Tom Hughes" in shown.output


def test_a_configured_server_that_does_not_answer_is_named_not_replaced(workspace):
    """With PREFECT_API_URL set (many partnerships on one server), a run never silently falls back to a
    temporary engine on this machine: a server that does not answer is named, with the way out."""
    import os
    from pathlib import Path

    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/api"
    clb = str(Path(sys.executable).with_name("clb"))
    done = subprocess.run(
        [clb, "nightly", "--workspace", str(workspace)],
        env={**os.environ, "PREFECT_API_URL": url, "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"The Prefect server at {url} (PREFECT_API_URL) does not answer" in done.stderr
    assert "unset PREFECT_API_URL" in done.stderr
    assert not list((workspace / "outbox").rglob("summary.json"))
