"""clb enter: a leader's answers from paper, a scan or an email, entered by the facilitator, go through
the same checks as any return, count as that leader's, are marked as entered, and are audited."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.state import current_responses, open_state
from tests.intake_helpers import ALL_COMFORTABLE, LEADER, drop, filled, nightly

PAPER = {1: "comfortable", 2: "stretched", 3: "stretched", 4: "comfortable", 5: "panicked", 6: "stretched"}
PAPER[7] = "comfortable"


def enter(root, *args: str):
    return CliRunner().invoke(app, ["enter", *args, "--workspace", str(root)], env={"COLUMNS": "200"})


def answers_now(root) -> dict:
    engine = open_state(root / "state" / "clb.sqlite")
    try:
        return current_responses(engine, "2026-Q4")[LEADER].answers
    finally:
        engine.dispose()


def test_answers_read_from_a_scan_are_taken_in_as_the_leaders_return_marked_and_audited(issued, tmp_path):
    scan = tmp_path / "scan0001.pdf"
    scan.write_bytes(b"%PDF-1.4 the leader's ticks, on paper")
    done = enter(issued, LEADER.upper(), "--answers", "1, 2, stretched, 1, 3, 2, comfortable", "--log",
                 "=cmd|' /C calc'!A0 pilot", "--source", str(scan))  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "The next nightly run takes them in" in done.output
    [made] = list((issued / "inbox" / "entered").glob("*.xlsx"))
    assert made.name.endswith("Priya Raman (entered).xlsx")
    report = nightly(issued)
    [accepted] = report["accepted"]
    assert accepted["leader_id"] == LEADER and [n["code"] for n in accepted["notes"]] == ["entered"]
    assert answers_now(issued) == PAPER
    engine = open_state(issued / "state" / "clb.sqlite")
    (log,) = engine.connect().exec_driver_sql("select log from responses where leader_id = ?", (LEADER,)).one()
    engine.dispose()
    assert json.loads(log)[0]["project"] == "=cmd|' /C calc'!A0 pilot"  # text, as typed: never a formula
    audit = [json.loads(line) for line in (issued / "state" / "audit.log").read_text().splitlines()]
    entry = next(item for item in audit if item["action"] == "enter")
    import hashlib

    assert entry["details"]["source"] == hashlib.sha256(scan.read_bytes()).hexdigest()
    assert (issued / "state" / "archive" / entry["details"]["source"][:2] / entry["details"]["source"]).is_file()
    tracker = _tracker(issued)
    assert "Entered by the facilitator (clb enter)" in tracker[LEADER]
    from pipeline import stages
    from pipeline.workspace import Workspace

    kept = issued / "state" / "archive" / entry["details"]["source"][:2] / entry["details"]["source"]
    assert stages.forget(Workspace.at(issued), LEADER).left == []  # the scan is theirs: erased with them
    assert not kept.exists() and not list((issued / "inbox" / "entered").glob("*"))


def test_an_entered_return_replaces_an_earlier_one_only_as_any_return_would_and_the_leader_is_told(issued):
    drop(issued, "mine.xlsx", filled(issued, LEADER, ALL_COMFORTABLE))
    nightly(issued)
    assert enter(issued, LEADER, "--answers", "1,2,2,1,3,2,1").exit_code == 0
    report = nightly(issued)
    [accepted] = report["accepted"]
    assert accepted["supersedes"] and answers_now(issued) == PAPER
    assert [item["leader_id"] for item in report["notices"]["results"]] == [LEADER]  # told of the change


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--answers", "1,2,3"), "3 answers given; give one for each of the 7 perspectives"),
        (("--answers", "1,2,3,4,1,2,3"), "answer 4, '4', is neither a column number 1-3 nor one of"),
        (("--answers", "1,2,,1,1,2,3"), "6 answers given"),
    ],
)
def test_answers_that_cannot_be_entered_say_what_to_type(issued, args, words):
    done = enter(issued, LEADER, *args)
    assert done.exit_code == 2 and words in " ".join(done.output.split()), done.output
    assert not (issued / "inbox" / "entered").exists()


def test_an_address_with_no_form_is_refused(issued):
    done = enter(issued, "nobody@elsewhere.example", "--answers", "1,2,2,1,3,2,1")
    assert done.exit_code == 2 and "nobody@elsewhere.example has no form in round 2026-Q4" in done.output


def _tracker(root) -> dict[str, str]:
    """The facilitator workbook's Response tracker: each leader's address -> their details."""
    import openpyxl

    [path] = (root / "outbox" / "reports").rglob("*-facilitator.xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {row[2]: row[5] or "" for row in book["Response tracker"].iter_rows(min_row=4, values_only=True)}
    finally:
        book.close()


def test_a_file_nothing_placed_is_assigned_by_the_facilitator_and_audited(issued, tmp_path):
    from pipeline import stages
    from pipeline.workspace import Workspace

    drop(issued, "scan0001.pdf", b"%PDF-1.4 a scan someone saved into the inbox")
    [unplaced] = nightly(issued)["quarantined"]
    assert unplaced["leader_id"] is None
    status = stages.status(Workspace.at(issued))
    assert [item.file for item in status.unplaced] == ["scan0001.pdf"] and "PDF" in status.unplaced[0].why
    [copy] = [p for p in (issued / "outbox" / "quarantine").rglob("*scan0001.pdf")]

    wrong = CliRunner().invoke(app, ["assign", str(copy), "nobody@elsewhere.example", "-w", str(issued)])
    assert wrong.exit_code == 2 and "has no form in round 2026-Q4" in wrong.output
    stray = tmp_path / "other.pdf"
    stray.write_bytes(b"%PDF-1.4 never received")
    assert (
        "is not a quarantined file" in CliRunner().invoke(app, ["assign", str(stray), LEADER, "-w", str(issued)]).output
    )

    done = CliRunner().invoke(app, ["assign", str(copy), LEADER, "-w", str(issued)], env={"COLUMNS": "200"})
    assert done.exit_code == 0 and "is now shown as Priya Raman's" in done.output, done.output
    status = stages.status(Workspace.at(issued))
    assert status.unplaced == [] and [row.quarantined for row in status.rows if row.email == LEADER] == [1]
    audit = [json.loads(line) for line in (issued / "state" / "audit.log").read_text().splitlines()]
    assert audit[-1]["action"] == "assign" and audit[-1]["details"]["sha256"] == unplaced["sha256"]
    again = CliRunner().invoke(app, ["assign", str(copy), LEADER, "-w", str(issued)])
    assert again.exit_code == 2 and f"already shown as {LEADER}'s" in " ".join(again.output.split())
    assert "Placed with Priya Raman by the facilitator" in _tracker(issued)[LEADER]  # built again at once
    assert nightly(issued)["outputs"] == []  # and a night with nothing new leaves them as they are


def test_a_file_assigned_to_a_leader_does_not_stop_their_reminders(issued):
    """A quarantined file holds a leader's reminders while a correction waits to be sent; a file placed
    with them by clb assign has no correction to wait for, so their reminders go on."""
    import datetime as dt

    from pipeline import stages
    from pipeline.workspace import Workspace

    space = Workspace.at(issued)
    stages.send(space, "invitations")
    stages.mark_sent(space, "invitations")
    drop(issued, "scan0001.pdf", b"%PDF-1.4 a scan someone saved into the inbox")
    nightly(issued)
    [copy] = list((issued / "outbox" / "quarantine").rglob("*scan0001.pdf"))
    stages.assign(space, copy, LEADER)
    later = stages.send(space, "reminders", today=dt.date.today() + dt.timedelta(days=30))
    assert LEADER in {item["leader_id"] for item in later["results"]}, later["skipped"]
