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
