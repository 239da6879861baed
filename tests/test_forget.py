"""clb forget: one leader of the demo erased, then every byte of the workspace and of Prefect's database
searched for them. A form of theirs that comes back is quarantined as 'forgotten', and no new form is made
for them while their row is still on the roster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.config import load_config
from pipeline.state import active_forms, open_state
from tests.bytesearch import search
from tests.intake_helpers import drop

pytestmark = pytest.mark.flow

LEADER = "aisling.byrne@riverside-council.example"  # the demo's first leader: a user log, a letter, mail


@pytest.fixture(scope="module")
def forgotten(prefect_engine, tmp_path_factory):
    """The demo run on the real engine (forms, invitations, returns, the nightly run, corrections and
    letters), a copy of the leader's form kept, then clb forget."""
    from pipeline.cli import app

    root = tmp_path_factory.mktemp("forget") / "demo"
    made = CliRunner().invoke(app, ["demo", "--workspace", str(root)])
    assert made.exit_code == 0, made.output
    engine = open_state(root / "state" / "clb.sqlite")
    form = active_forms(engine, "2026-Q4")[LEADER]
    kept = (root / form.path).read_bytes()
    with engine.connect() as connection:  # closed before the search: a connection left to the collector
        (row,) = connection.exec_driver_sql(  # would close, and take SQLite's -shm file, in the middle of it
            "select log from responses where leader_id = ? and superseded_by is null", (LEADER,)
        )
    log = [text for entry in json.loads(row[0]) for text in entry.values()]
    engine.dispose()  # closed now: the search below reads the database's files while nothing changes them
    words = [LEADER, form.name, form.token, *log]
    before = search(root, words, skip=("config",))
    result = CliRunner().invoke(app, ["forget", LEADER.upper(), "--workspace", str(root), "--yes"])
    assert result.exit_code == 0, result.output
    return root, words, before, kept, result.output


def test_nothing_of_the_leader_is_left_anywhere(forgotten, prefect_engine):
    from pipeline.engine import database_file

    root, words, before, _, output = forgotten
    assert {word for _, word in before} == set(words)  # the search finds each of them before
    assert "remove their row from the roster" in output
    left = search(root, words, skip=("config",))
    assert left == []
    prefect = database_file(prefect_engine.home)  # the server the demo's flows ran on
    assert prefect.is_file()
    assert search(prefect.parent, words) == []  # Prefect's database (and its journal) never held them


def test_the_outputs_are_rebuilt_without_them_and_the_rest_is_intact(forgotten):
    root, *_ = forgotten
    nights = [json.loads(p.read_text(encoding="utf-8")) for p in (root / "outbox" / "runs").glob("*/summary.json")]
    [report] = [night for night in nights if night["accepted"]]  # the demo's intake (then its close)
    assert sum(1 for a in report["accepted"] if a["file"] == "(erased)") == 2  # their entries keep their place
    engine = open_state(root / "state" / "clb.sqlite")
    assert len(active_forms(engine, "2026-Q4")) == 14
    letters = list((root / "outbox" / "letters" / "2026-Q4").rglob("*.txt"))
    assert len(letters) == 8
    for table in ("forgotten", "forgotten_tokens"):
        assert engine.connect().exec_driver_sql(f"select count(*) from {table}").scalar() == 1
    engine.dispose()  # the next test searches the database's files: no journal may vanish under it


def test_a_form_of_theirs_that_comes_back_is_quarantined_as_forgotten(forgotten):
    from pipeline import stages
    from pipeline.workspace import Workspace

    root, words, _, kept, _ = forgotten
    drop(root, "late.xlsx", kept)
    report = stages.nightly(Workspace.at(root))
    (item,) = report["quarantined"]
    assert [p["code"] for p in item["problems"]] == ["forgotten"] and item["leader_id"] is None
    summary = stages.issue_forms(Workspace.at(root))
    assert summary.forgotten == [{"email": LEADER, "on": summary.forgotten[0]["on"]}] and summary.new == 0
    engine = open_state(root / "state" / "clb.sqlite")
    assert LEADER not in active_forms(engine, "2026-Q4")
    engine.dispose()  # before the search below reads the database's files
    assert LEADER in {leader.id for leader in load_config(root / "config").roster}  # the facilitator removes the row
    # forgetting them again takes the late file too
    again = stages.forget(Workspace.at(root), LEADER)
    assert again.lines and again.left == []
    assert search(root, words, skip=("config",)) == []


# ---------------------------------------------------------------- an erasure cut short is finished


def _without_dac_override() -> None:
    """Root, as a service account would run: without the capabilities that override file permissions."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_forget_that_cannot_remove_a_file_says_so_and_the_next_one_finishes(tmp_path):
    """A letter held by a program (here: its folder made read-only, as a file open in Excel or a browser
    is on Windows) cannot be removed. The installed clb forget says what is left and exits 1; the state
    keeps the to-do; once the file is free, the same command removes it and exits 0."""
    import os
    import subprocess
    import sys

    from pipeline.demo import prepare_demo, simulate_returns
    from tests.conftest import EXAMPLE_CONFIG, issue_forms_here
    from tests.intake_helpers import nightly

    root = prepare_demo(EXAMPLE_CONFIG, tmp_path / "ws")
    issue_forms_here(root)
    simulate_returns(root)
    nightly(root)
    [letter] = [
        p for p in (root / "outbox" / "letters").rglob("*.html") if "Aisling" in p.name and "email" not in p.name
    ]
    words = [LEADER, "Aisling Byrne"]
    assert search(root, words, skip=("config",))
    clb = str(Path(sys.executable).with_name("clb"))
    drop_caps = _without_dac_override if os.geteuid() == 0 else None
    os.chmod(letter.parent, 0o555)
    try:
        first = subprocess.run(
            [clb, "forget", LEADER, "--yes", "-w", str(root)],
            capture_output=True, text=True, timeout=120, preexec_fn=drop_caps,
        )  # fmt: skip
    finally:
        os.chmod(letter.parent, 0o700)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "Not finished" in first.stdout and letter.relative_to(root).as_posix() in " ".join(first.stdout.split())
    assert letter.exists()
    engine = open_state(root / "state" / "clb.sqlite")
    assert engine.connect().exec_driver_sql("select count(*) from erasures").scalar() == 1
    assert (
        engine.connect().exec_driver_sql("select count(*) from responses where leader_id = ?", (LEADER,)).scalar() == 0
    )
    engine.dispose()

    second = subprocess.run(
        [clb, "forget", LEADER, "--yes", "-w", str(root)], capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Done. Only a tombstone is kept." in second.stdout
    assert not letter.exists() and search(root, words, skip=("config",)) == []
    engine = open_state(root / "state" / "clb.sqlite")
    assert engine.connect().exec_driver_sql("select count(*) from erasures").scalar() == 0


# ---------------------------------------------------------------- Prefect never holds a name


def test_a_failing_night_tells_prefect_no_name_and_the_facilitator_everything(tmp_path):
    """A night that stops while writing one leader's letter, through the installed clb nightly on its own
    temporary engine: the screen and the workspace's log say which file; Prefect's database and files
    (states, logs, results) hold neither the leader's name, nor address, nor the file's name. Then clb
    forget: still nothing there."""
    import subprocess
    import sys

    from tests.conftest import example_workspace, outside_env
    from tests.intake_helpers import LEADER as PRIYA
    from tests.intake_helpers import filled, nightly

    root = example_workspace(tmp_path / "ws", issue=True)
    drop(root, "Priya Raman CLB.xlsx", filled(root, PRIYA))
    nightly(root)
    [letter] = (root / "outbox" / "letters").rglob("Priya Raman*.txt")
    letter.unlink()
    letter.mkdir()  # the next night cannot write it: it stops there
    engine = open_state(root / "state" / "clb.sqlite")
    with engine.begin() as connection:
        connection.exec_driver_sql("delete from letters")
        connection.exec_driver_sql("delete from meta where key like 'outputs%'")
    engine.dispose()
    env = outside_env()
    clb = str(Path(sys.executable).with_name("clb"))
    failed = subprocess.run([clb, "nightly", "-w", str(root)], env=env, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 4, failed.stdout + failed.stderr
    said = " ".join((failed.stdout + failed.stderr).split())
    assert "build outputs: while writing letter" in said and "Priya Raman" in said  # the screen: all
    assert "Priya Raman" in (root / "state" / "logs" / "clb.log").read_text()
    words = [PRIYA, "Priya Raman", "Priya", "Raman"]
    prefect = root / "state" / "prefect"
    assert (prefect / "prefect.db").exists()
    assert search(prefect, words) == []

    letter.rmdir()
    forgot = subprocess.run([clb, "forget", PRIYA, "--yes", "-w", str(root)], env=env, capture_output=True, text=True)
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert search(prefect, words) == [] and search(root, words, skip=("config",)) == []
