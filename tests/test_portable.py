"""Portable by construction, proved without Windows: the commands' modules load, and a run takes the
workspace's lock and writes the audit trail, with POSIX-only modules made unimportable (as on Windows)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.conftest import example_workspace

POSIX_ONLY = ("fcntl", "pwd")  # POSIX-only modules clb used, which Windows does not have


def test_a_run_locks_the_workspace_and_records_without_posix_only_modules(tmp_path):
    root = example_workspace(tmp_path / "ws")
    code = textwrap.dedent(
        f"""
        import sys
        import warnings

        warnings.simplefilter("ignore")  # filelock says it falls back to a soft lock here: Windows has its own
        for name in {POSIX_ONLY!r}:
            sys.modules[name] = None  # import fcntl now raises ImportError, as on Windows
        import pipeline.cli  # every command's module
        from pipeline.privacy.audit import entries, record
        from pipeline.workspace import Workspace, WorkspaceBusy, workspace_lock

        space = Workspace.at({str(root)!r})
        with workspace_lock(space):
            assert (space.state_dir / "run.holder").read_text().startswith("process ")
            record(space, "check", files=1)
        assert not (space.state_dir / "run.holder").exists()
        last = list(entries(space))[-1]
        assert last.action == "check" and last.who.startswith("uid "), last  # getpass found no name
        print("portable")
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("LOGNAME", "USER", "LNAME", "USERNAME")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "portable", done.stderr[-3000:]


def test_a_second_run_is_refused_naming_the_first(tmp_path):
    """The lock is held by another process: the second waits, then says which process holds it."""
    import pytest

    from pipeline.workspace import Workspace, WorkspaceBusy, workspace_lock

    root = example_workspace(tmp_path / "ws")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pipeline.workspace import Workspace, workspace_lock\n"
            f"with workspace_lock(Workspace.at({str(root)!r})):\n    print('held', flush=True)\n    time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = pytest.raises(WorkspaceBusy, match=rf"is in use by process {holder.pid} since ")
        with busy, workspace_lock(Workspace.at(root), wait_seconds=0.5):
            pass
    finally:
        holder.kill()
        holder.wait()
    with workspace_lock(Workspace.at(root)):  # a killed holder leaves nothing held
        pass


def test_clb_worker_says_on_windows_that_it_is_for_a_server(tmp_path, monkeypatch):
    """The one POSIX-only command (it becomes Prefect's worker process, os.execve) says so on Windows,
    and what to use there, instead of starting a worker that could not be stopped by its process id."""
    from typer.testing import CliRunner

    from pipeline.cli import app, operate

    monkeypatch.setattr(operate, "POSIX_WORKER", False)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    root = example_workspace(tmp_path / "riverside")
    result = CliRunner().invoke(app, ["worker", "--pool", "clb", "--workspace", str(root)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "clb worker runs on a Linux or macOS server" in said and "clb serve" in said


def test_a_console_without_the_names_code_page_prints_them_as_question_marks(tmp_path):
    """A Windows console or Task Scheduler log in cp1252 cannot show 王小明 or 🚒: clb status prints '?'
    in their place and ends normally (it raised UnicodeEncodeError), in the console's own encoding."""
    from tests.conftest import issue_forms_here

    root = example_workspace(tmp_path / "riverside")
    roster = "organisation,name,email,role\nRiverside Fire 🚒,王小明,wang@fire.example,Chief — “Ops”\n"
    (root / "config" / "roster.csv").write_text(roster, encoding="utf-8")
    issue_forms_here(root)
    clb = os.path.join(os.path.dirname(sys.executable), "clb")
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "COLUMNS": "120"}
    done = subprocess.run([clb, "status", "-w", str(root)], capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode("cp1252", "replace")
    shown = done.stdout.decode("cp1252")  # what the console shows: its own code page, throughout
    assert "??? | Riverside Fire ? |" in shown and "leaders: 1, issued: 1" in shown
    assert b"UnicodeEncodeError" not in done.stderr
