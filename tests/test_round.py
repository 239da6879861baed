"""A facilitator's whole round through clb's commands (run in this process: tests/commands.py) and the
real engine, then the next round: 12 leaders, returns in layers of 6, 4 and 2 over three nights (with a
replacement), the close, the letters, and a second round in the same workspace whose letters show how
answers moved."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest

from pipeline.state import mail_records, open_state
from tests import commands
from tests.conftest import example_workspace
from tests.intake_helpers import drop, filled, forms

pytestmark = pytest.mark.flow
ANSWERS = ("comfortable", "stretched", "panicked")


def clb(root: Path, *args: str, code: int = 0) -> str:
    done = commands.clb(*args, "-w", str(root))
    assert done.returncode == code, f"clb {' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return " ".join((done.stdout + done.stderr).split())


def partners_csv(root: Path, round_id: str) -> list[dict[str, str]]:
    path = root / "outbox" / "reports" / round_id / f"comparison-{round_id}-shareable.csv"
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def returns(root: Path, leaders: list[str], night: str, shift: int = 0) -> None:
    """Each leader's return: answers spread evenly over the three on every perspective (``shift`` moves
    every leader to the next answer: the second round's movement)."""
    for index, leader in enumerate(leaders):
        choices = {number: ANSWERS[(index + number + shift) % 3] for number in range(1, 8)}
        drop(root, f"{night} {index}.xlsx", filled(root, leader, choices))


def test_a_round_from_invitations_to_the_close_and_the_next_round(tmp_path, prefect_engine):
    root = example_workspace(tmp_path / "riverside")
    roster = root / "config" / "roster.csv"
    roster.write_text("\n".join(roster.read_text(encoding="utf-8").splitlines()[:13]) + "\n", encoding="utf-8")
    clb(root, "forms")
    people = sorted(forms(root))
    assert len(people) == 12
    clb(root, "send", "invitations")
    said = clb(root, "send", "reminders")  # the invitations are drafts: nobody is invited yet
    assert "0 skipped" not in said and said.count("the invitation is only a draft") == 12
    assert "12 drafted invitations recorded as sent" in clb(root, "send", "invitations", "--mark-sent")
    said = clb(root, "send", "reminders")
    assert said.count("the first reminder goes from") == 12 and "nothing to send" in said  # the gap

    returns(root, people[:6], "night 1")
    clb(root, "nightly")
    assert all(row["count"] == "" for row in partners_csv(root, "2026-Q4"))  # nothing before the close
    returns(root, people[6:10], "night 2")
    drop(root, "night 2 again.xlsx", filled(root, people[0], dict.fromkeys(range(1, 8), "comfortable")))
    clb(root, "nightly")
    returns(root, people[10:12], "night 3")
    said = clb(root, "nightly")
    assert "12 of 12 leaders' responses accepted" in said and "wait for the close" in said
    assert "letters go once it closes" in clb(root, "send", "letters")  # not before the close

    said = clb(root, "close")
    assert "The round closed on" in said
    figures = partners_csv(root, "2026-Q4")
    assert {(row["respondents"], row["answered_so_far"], row["withheld"]) for row in figures} == {("12", "12", "false")}
    summary = openpyxl.load_workbook(root / "outbox" / "reports" / "2026-Q4" / "comparison-2026-Q4-shareable.xlsx")
    assert "Each perspective counts every leader who has answered it: 12 leaders" in summary["Summary"]["A2"].value
    clb(root, "send", "letters")
    letters = root / "outbox" / "mail" / "letter"
    assert len([p for p in letters.rglob("*.eml") if "superseded" not in p.parts]) == 12  # one per leader
    assert clb(root, "send", "letters").count("nothing to send; 0 skipped") == 1
    assert clb(root, "send", "reminders").count("nothing to send; 0 skipped") == 1  # all have returned
    said = clb(root, "send", "reminders", "--to", "[red]boom[/red]@x")  # as typed: no markup, no pseudonym
    assert "[red]boom[/red]@x skipped not on the roster" in said
    engine = open_state(root / "state" / "clb.sqlite")
    assert [r.kind for r in mail_records(engine, "2026-Q4") if r.kind == "reminder"] == []
    engine.dispose()

    # the next round, in the same workspace: the same leaders, their answers moved by one
    refused = clb(root, "round", "new", "2026-Q4", "--deadline", "2099-09-30", code=2)
    assert "has been run in this workspace already" in refused
    clb(root, "round", "new", "2027-Q3", "--deadline", "2099-09-30")
    clb(root, "forms")
    returns(root, people, "round 2", shift=1)
    clb(root, "close")
    page = next((root / "outbox" / "letters" / "2027-Q3").rglob("*.txt")).read_text(encoding="utf-8")
    assert "SINCE ROUND 2026-Q4" in page and " → " in page
    book = openpyxl.load_workbook(root / "outbox" / "reports" / "2027-Q3" / "comparison-2027-Q3-facilitator.xlsx")
    compared = [row[0] for row in book["Rounds compared"].iter_rows(values_only=True)]
    assert "2026-Q4" in compared and "2027-Q3" in compared
