"""Retention: a round aged past its deadline with a fake clock, its personal data removed in three
steps, the round's totals and its shareable edition kept."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from pipeline import stages
from pipeline.stages import send as mail_run
from pipeline.state import open_state, responses, round_figures
from pipeline.workspace import Workspace
from tests.bytesearch import search
from tests.conftest import TEST_DEADLINE
from tests.intake_helpers import LEADER, OTHER, drop, filled

DEADLINE = TEST_DEADLINE
LOG = "Estates board, November 2026"


def _round(workspace, edit_settings):
    edit_settings(retention={"returns_days": 90, "letters_days": 365, "answers_days": 730})
    space = Workspace.at(workspace)
    stages.issue_forms(space)
    drop(workspace, "mine.xlsx", filled(workspace, LEADER, log_project=LOG))
    drop(workspace, "maybe.xlsx", filled(workspace, OTHER, p1_comfortable="perhaps"))
    stages.nightly(space, close=True)
    config = stages.workspace_config(space)
    for kind in ("corrections", "letters"):
        mail_run(space, kind, config)
    return space


def _after(days: int) -> dt.date:
    return DEADLINE + dt.timedelta(days=days)


def test_each_kind_goes_when_its_time_comes_and_the_totals_stay(workspace, edit_settings):
    space = _round(workspace, edit_settings)
    engine = open_state(space.database)
    archive = list((workspace / "state" / "archive").rglob("*"))
    facilitator = workspace / "outbox" / "reports" / "2026-Q4" / "comparison-2026-Q4-facilitator.xlsx"
    shareable = workspace / "outbox" / "reports" / "2026-Q4" / "comparison-2026-Q4-shareable.xlsx"
    assert search(workspace / "outbox" / "reports", [LOG]) and search(workspace / "state" / "archive", [LOG])

    assert stages.purge(space, today=_after(89)) == []
    planned = stages.purge(space, today=_after(90), dry_run=True)
    assert len(planned) == 1 and "returned files" in planned[0]
    assert list((workspace / "state" / "archive").rglob("*")) == archive  # a dry run removes nothing

    # returns: the files and every trace of what was typed in them
    assert stages.purge(space, today=_after(90)) == planned
    assert not [p for p in (workspace / "state" / "archive").rglob("*") if p.is_file()]
    assert not [p for p in (workspace / "outbox" / "quarantine").rglob("*") if p.is_file()]
    left = search(workspace, [LOG, "perhaps", "mine.xlsx", "maybe.xlsx"], skip=("config",))
    # what is left quotes them in messages to the leader: those go with the letters
    assert {where.split("/ws/")[1].split("/")[1] for where, _ in left} <= {"corrections", "mail"}, left
    assert facilitator.is_file()  # built again without the user log
    assert stages.purge(space, today=_after(90)) == []  # done once

    # letters: letters, their index, correction messages, drafts and the sent log
    assert len(stages.purge(space, today=_after(365))) == 1
    assert not list((workspace / "outbox" / "letters").rglob("*.html"))
    assert not list((workspace / "outbox" / "corrections").rglob("*.txt"))
    assert not list((workspace / "outbox" / "mail").rglob("*.eml"))
    with engine.connect() as db:
        assert db.exec_driver_sql("select count(*) from mail").scalar() == 0
    assert search(workspace, [LOG, "perhaps", "mine.xlsx", "maybe.xlsx"], skip=("config",)) == []

    # answers: forms and answers go; the round's totals and the shareable edition stay
    with engine.connect() as db:
        (answers,) = db.execute(select(responses.c.answers)).one()
    before = json.loads(answers)
    assert len(stages.purge(space, today=_after(730))) == 1
    assert not list((workspace / "outbox" / "forms").rglob("*.xlsx"))
    assert not facilitator.exists() and shareable.is_file()
    with engine.connect() as db:
        assert db.exec_driver_sql("select count(*) from responses").scalar() == 0
        assert db.exec_driver_sql("select count(*) from forms").scalar() == 0
        totals = {(r.perspective, r.category): r._mapping["count"] for r in db.execute(select(round_figures))}
    assert totals == {(int(n), key): 1 for n, key in before.items()}
    actions = [json.loads(line)["action"] for line in (workspace / "state" / "audit.log").read_text().splitlines()]
    assert actions.count("purge") == 3


def test_the_nightly_run_applies_the_policy(workspace, edit_settings):
    edit_settings(retention={"returns_days": 0})
    space = Workspace.at(workspace)
    stages.issue_forms(space)
    drop(workspace, "mine.xlsx", filled(workspace, LEADER, log_project=LOG))
    edit_settings(deadline="2026-01-05")  # a round long past its deadline: the night closes it, and purges
    report = stages.nightly(space)
    assert report["purged"] and "returned files" in report["purged"][0]
    assert not [p for p in (workspace / "state" / "archive").rglob("*") if p.is_file()]


def test_a_purged_round_is_still_compared_by_its_totals(workspace, edit_settings):
    from openpyxl import load_workbook

    space = _round(workspace, edit_settings)
    stages.purge(space, today=_after(730))  # everything goes, the totals stay
    edit_settings(round="2027-Q1", deadline=str(DEADLINE + dt.timedelta(days=90)))
    space = Workspace.at(workspace)
    stages.issue_forms(space)
    drop(workspace, "next.xlsx", filled(workspace, LEADER, {n: "comfortable" for n in range(1, 8)}))
    stages.nightly(space)
    book = load_workbook(workspace / "outbox" / "reports" / "2027-Q1" / "comparison-2027-Q1-facilitator.xlsx")
    sheet = book["Rounds compared"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows() if row[0].value in ("2026-Q4", "2027-Q1")]
    earlier = [row for row in rows if row[0] == "2026-Q4"]
    assert len(earlier) == 7 and [row[1:6] for row in earlier[:2]] == [[1, 1, 0, 0, 1], [2, 0, 1, 0, 1]]
    assert [row[2] for row in rows if row[0] == "2027-Q1"] == [1] * 7
