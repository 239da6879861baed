"""Issuing a round: each leader gets exactly one current form, and reruns change only what must change."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.forms.issuing import (
    IssueSummary,
    file_sha256,
)
from pipeline.state import active_forms, form_by_token, open_state
from tests.conftest import issue_forms_here
from tests.formfacts import load


def issue(root: Path, reissue: tuple[str, ...] = ()) -> IssueSummary:
    return issue_forms_here(root, reissue)


def current(root: Path) -> dict:
    return active_forms(open_state(root / "state" / "clb.sqlite"), "2026-Q4")


def test_first_run_issues_one_form_per_leader(workspace):
    summary = issue(workspace)
    assert (summary.new, summary.written, summary.unchanged) == (15, 15, 0)
    forms = current(workspace)
    assert len(forms) == 15 and len({f.token for f in forms.values()}) == 15
    record = forms["jose.alvarez@uni-riverside.example"]
    assert record.path == "outbox/forms/2026-Q4/University of Riverside/José Álvarez.xlsx"
    path = workspace / record.path
    assert file_sha256(path) == record.sha256
    facts = load(path)
    assert facts.properties["clb_token"] == record.token == facts.data_sheet["token"]
    assert len(record.token) >= 32  # 192 bits, url-safe base64


def test_rerun_changes_nothing(workspace):
    issue(workspace)
    before = {p: p.stat().st_mtime_ns for p in (workspace / "outbox").rglob("*.xlsx")}
    tokens = {k: v.token for k, v in current(workspace).items()}
    summary = issue(workspace)
    assert (summary.unchanged, summary.written) == (15, 0)
    assert {p: p.stat().st_mtime_ns for p in (workspace / "outbox").rglob("*.xlsx")} == before
    assert {k: v.token for k, v in current(workspace).items()} == tokens


def test_added_leader_gets_a_form_without_disturbing_anyone(workspace):
    issue(workspace)
    tokens = {k: v.token for k, v in current(workspace).items()}
    with (workspace / "config" / "roster.csv").open("a", encoding="utf-8") as roster:
        roster.write("Riverside Police,Ana Costa,ana.costa@riverside-police.example,Inspector\n")
    summary = issue(workspace)
    assert (summary.new, summary.unchanged, summary.written) == (1, 15, 1)
    after = current(workspace)
    assert {k: after[k].token for k in tokens} == tokens


def test_removed_leader_is_reported_and_their_form_kept(workspace):
    issue(workspace)
    roster = workspace / "config" / "roster.csv"
    lines = roster.read_text(encoding="utf-8").splitlines(keepends=True)
    roster.write_text("".join(line for line in lines if "tom.hughes" not in line), encoding="utf-8")
    summary = issue(workspace)
    assert [r["leader_id"] for r in summary.removed] == ["tom.hughes@riverside-council.example"]
    assert (workspace / summary.removed[0]["path"]).exists()
    assert summary.unchanged == 14


def test_reissue_gives_a_new_token_and_revokes_the_old(workspace):
    issue(workspace)
    old = current(workspace)["priya.raman@riverside-council.example"]
    summary = issue(workspace, reissue=("Priya.Raman@riverside-council.example", "nobody@x.example"))
    assert (summary.reissued, summary.unchanged, summary.written) == (1, 14, 1)
    assert summary.unknown_reissue == ["nobody@x.example"]
    new = current(workspace)["priya.raman@riverside-council.example"]
    assert new.token != old.token
    engine = open_state(workspace / "state" / "clb.sqlite")
    assert form_by_token(engine, old.token).revoked_at is not None
    assert load(workspace / new.path).properties["clb_token"] == new.token


def test_changed_details_or_damaged_file_rewrite_with_the_same_token(workspace, edit_settings):
    issue(workspace)
    tokens = {k: v.token for k, v in current(workspace).items()}
    target = workspace / current(workspace)["zofia.nowak@riverside-nhs.example"].path
    target.write_bytes(b"damaged")
    summary = issue(workspace)
    assert (summary.updated, summary.written) == (1, 1)
    assert load(target).properties["clb_token"] == tokens["zofia.nowak@riverside-nhs.example"]
    edit_settings(deadline="2100-01-08")
    summary = issue(workspace)
    assert (summary.updated, summary.written) == (15, 15)
    assert {k: v.token for k, v in current(workspace).items()} == tokens


def test_a_deadline_in_the_past_is_refused_before_any_form_is_written(workspace, edit_settings):
    """Every form prints the deadline: one in the past is refused with what to write instead, and so is
    moving an issued round's deadline into the past (every form would be rewritten with it)."""
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.stages import DeadlinePassed

    edit_settings(deadline="2026-01-05")
    refused = CliRunner().invoke(app, ["forms", "--workspace", str(workspace)])
    assert refused.exit_code == 2, refused.output
    said = " ".join(refused.output.split())
    assert "No forms made: the deadline 05 January 2026" in said and "is in the past" in said
    assert "write the date leaders should return their form by, as YYYY-MM-DD" in said
    assert not (workspace / "outbox" / "forms").exists()
    with pytest.raises(DeadlinePassed):
        issue(workspace)  # the stage itself, whoever calls it
    edit_settings(deadline="2099-12-18")
    assert issue(workspace).written == 15
    out = {form.path: (workspace / form.path).read_bytes() for form in current(workspace).values()}
    edit_settings(deadline="2026-01-05")
    with pytest.raises(DeadlinePassed):
        issue(workspace)
    assert {form.path: (workspace / form.path).read_bytes() for form in current(workspace).values()} == out


def test_hostile_roster_text_makes_safe_files_that_stay_text(workspace, write_roster):
    write_roster(
        [
            ["../x", '=HYPERLINK("http://x","y")', "a@x.example", ""],
            ["CON", "Ana 🚒 Costa", "b@x.example", ""],
            ["Fire", "Same Name", "c@x.example", ""],
            ["Fire", "same name", "d@x.example", ""],
        ]
    )
    issue(workspace)
    forms = current(workspace)
    paths = sorted(f.path for f in forms.values())
    assert paths == [
        "outbox/forms/2026-Q4/Fire/Same Name (c@x.example).xlsx",
        "outbox/forms/2026-Q4/Fire/same name (d@x.example).xlsx",
        "outbox/forms/2026-Q4/_CON/Ana 🚒 Costa.xlsx",
        "outbox/forms/2026-Q4/x/=HYPERLINK(-http---x-,-y-).xlsx",
    ]
    for record in forms.values():
        assert (workspace / record.path).resolve().is_relative_to(workspace / "outbox" / "forms")
    cover = load(workspace / forms["a@x.example"].path).formulas["How to use"]
    cell = cover.cell(next(r for r in range(1, 20) if cover.cell(r, 1).value == "Leader"), 2)
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://x","y")', "s")
