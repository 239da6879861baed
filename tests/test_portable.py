"""Portable by construction, proved without Windows: the commands' modules load, and a run takes the
workspace's lock and writes the audit trail, with POSIX-only modules made unimportable (as on Windows)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import example_workspace

POSIX_ONLY = ("fcntl", "pwd", "grp", "resource", "termios")  # POSIX-only modules, which Windows does not have


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


# A roster built to collide on Windows and macOS: device names, a trailing dot, Zoë composed (NFC) and
# decomposed (NFD, as macOS types it), names that differ only by case, names as long as a roster allows (120).
COLLIDING = [
    ("CON", "Aux.", "aux@con.example"),
    ("CON", "aux", "aux2@con.example"),
    ("Riverside NHS Trust", "Zo\u00eb Smith", "zoe1@nhs.example"),
    ("Riverside NHS Trust", "Zoe\u0308 Smith", "zoe2@nhs.example"),
    ("riverside nhs trust", "ZOË SMITH", "zoe3@nhs.example"),
    ("Police: Riverside?", "Chief Supt. Mark Ellis.", "mark@police.example"),
    ("U" * 120, "N" * 120, "long1@uni.example"),
    ("U" * 120, "N" * 119 + "M", "long2@uni.example"),
]


def test_a_round_runs_with_posix_only_modules_unimportable_and_every_path_is_valid_on_windows(tmp_path):
    """In a process where fcntl, pwd, grp, resource and termios cannot be imported (as on Windows): every
    module of pipeline/ imports, and a round runs (a workspace made, forms for a roster built to collide,
    returns taken in, the outputs and letters built, the status read). Every path it wrote is a valid
    Windows path (pathvalidate), and no two files differ only by case or Unicode normalisation (two
    organisations typed "Riverside NHS Trust" and "riverside nhs trust" share a folder there; their
    leaders' files stay apart)."""
    import unicodedata

    from pathvalidate import ValidationError, validate_filename

    root = tmp_path / "ws"
    rows = "".join(f"{o},{n},{e},\n" for o, n, e in COLLIDING)
    (tmp_path / "roster.csv").write_text("organisation,name,email,role\n" + rows, encoding="utf-8")
    code = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys, warnings

        warnings.simplefilter("ignore")
        for name in {POSIX_ONLY!r}:
            sys.modules[name] = None
        import pipeline

        for found in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
            importlib.import_module(found.name)
        from pathlib import Path

        import os, time

        from pipeline import stages
        from pipeline.config import load_config
        from pipeline.init import init_workspace
        from pipeline.simulate import answers, fill
        from pipeline.state import active_forms, open_state
        from pipeline.workspace import Workspace

        root = Path({str(root)!r})
        init_workspace(root)
        (root / "config" / "roster.csv").write_bytes(Path({str(tmp_path / "roster.csv")!r}).read_bytes())
        space = Workspace.at(root)
        stages.issue_forms(space)
        config = load_config(root / "config")
        engine = open_state(root / "state" / "clb.sqlite")
        forms = sorted(active_forms(engine, config.settings.round).values(), key=lambda form: form.leader_id)
        engine.dispose()
        for n, form in enumerate(forms):  # every other one with two ticks on a row: a correction for them
            values = answers(config.instrument, {{p.number: "comfortable" for p in config.instrument.perspectives}})
            if n % 2:
                values["p1_stretched"] = "x"
            data = fill((root / form.path).read_bytes(), config.instrument, values)
            (root / "inbox" / f"return {{n}}.xlsx").write_bytes(data)
        (root / "inbox" / "notes: draft?.pdf").write_bytes(b"%PDF-1.4")  # a name Windows refuses, quarantined
        for path in (root / "inbox").iterdir():
            os.utime(path, (time.time() - 3600, time.time() - 3600))
        print("returns", len(forms))
        report = stages.nightly(space, close=True)
        print("accepted", len(report["accepted"]))
        status = stages.status(space)
        print("leaders", len(status.rows))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    said = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    half = len(COLLIDING) // 2
    assert said["leaders"] == str(len(COLLIDING)) and said["accepted"] == str(half), done.stdout
    corrections = [p for p in (root / "outbox" / "corrections").rglob("*.txt")]
    assert len(corrections) == half
    written = [path.relative_to(root) for path in root.rglob("*")]
    assert len(written) > 50
    seen: dict[str, Path] = {}
    for path in written:
        for part in path.parts:
            try:
                validate_filename(part, platform="windows")
            except ValidationError as exc:
                raise AssertionError(f"{path}: {part!r} is not a valid Windows name ({exc})") from None
        if (root / path).is_dir():
            continue  # folders that differ only by case are one folder there, which is harmless: the files differ
        key = unicodedata.normalize("NFC", path.as_posix()).casefold()
        assert key not in seen, f"{path} and {seen[key]} are one file on Windows and macOS"
        seen[key] = path
    forms = [path for path in written if path.parts[:2] == ("outbox", "forms") and path.suffix == ".xlsx"]
    assert len(forms) == len(COLLIDING)


def test_a_night_flushes_what_it_writes_as_windows_allows(tmp_path, monkeypatch):
    """Windows refuses ``os.open`` on a folder (a folder's handle needs FILE_FLAG_BACKUP_SEMANTICS) and
    refuses to flush a file opened only for reading (FlushFileBuffers needs write access), and has no
    ``os.sync``. With all three as Windows has them, a night takes its returns in (staged, archived and
    flushed), builds its outputs and letters (flushed file by file) and closes the round."""
    import errno

    import pipeline.files as files
    from tests.intake_helpers import LEADER, OTHER, drop, filled, nightly

    root = example_workspace(tmp_path / "ws", issue=True)
    drop(root, "a.xlsx", filled(root, LEADER))
    drop(root, "b.xlsx", filled(root, OTHER))
    real_open, real_close, real_fsync = os.open, os.close, os.fsync
    read_only: set[int] = set()
    refused: list[str] = []

    def windows_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        # shutil.rmtree opens folders by descriptor only where the system allows it (not on Windows)
        if os.path.isdir(path) and sys._getframe(1).f_globals.get("__name__") != "shutil":
            refused.append(str(path))
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        descriptor = real_open(path, flags, *args, **kwargs)
        if flags & (os.O_WRONLY | os.O_RDWR):
            read_only.discard(descriptor)
        else:
            read_only.add(descriptor)
        return descriptor

    def windows_close(descriptor):  # type: ignore[no-untyped-def]
        read_only.discard(descriptor)
        real_close(descriptor)

    def windows_fsync(descriptor):  # type: ignore[no-untyped-def]
        if descriptor in read_only:
            raise OSError(errno.EBADF, "Bad file descriptor")
        real_fsync(descriptor)

    monkeypatch.setattr(files, "WINDOWS", True)
    monkeypatch.setattr(os, "open", windows_open)
    monkeypatch.setattr(os, "close", windows_close)
    monkeypatch.setattr(os, "fsync", windows_fsync)
    monkeypatch.delattr(os, "sync")
    report = nightly(root, close=True)
    assert len(report["accepted"]) == 2 and report["quarantined"] == []
    assert len(list((root / "outbox" / "letters").rglob("*.html"))) == 2
    assert refused == []  # no folder was asked for: Windows would have refused each one
