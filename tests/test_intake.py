"""The nightly batch: one recorded decision per file, nothing lost, repeats and resubmissions handled."""

from __future__ import annotations

import json

import tests.hostile as H
from pipeline.state import current_responses, open_state, table_counts
from tests.intake_helpers import ALL_COMFORTABLE, LEADER, MIXED, OTHER, drop, filled, nightly


def engine(root):
    return open_state(root / "state" / "clb.sqlite")


def test_valid_return_is_accepted_archived_and_leaves_the_inbox(issued):
    data = filled(issued, LEADER)
    drop(issued, "Copy of CLB form (2).xlsx", data)
    report = nightly(issued)
    [accepted] = report["accepted"]
    assert (accepted["file"], accepted["leader_id"], accepted["supersedes"]) == (
        "Copy of CLB form (2).xlsx",
        LEADER,
        None,
    )
    assert (issued / "state" / "archive" / accepted["sha256"][:2] / accepted["sha256"]).read_bytes() == data
    assert not (issued / "inbox" / "Copy of CLB form (2).xlsx").exists()
    assert current_responses(engine(issued), "2026-Q4")[LEADER].answers == MIXED
    saved = json.loads((issued / "outbox" / "runs" / report["run_id"] / "summary.json").read_text())
    assert saved == json.loads((issued / "outbox" / "runs" / "latest.json").read_text()) == report


def test_report_contract(issued):
    same = filled(issued, LEADER)  # made once: two fills may differ in their zip entries' times
    drop(issued, "sub/folder/a.xlsx", same)
    drop(issued, "b.xlsx", filled(issued, OTHER, {1: "comfortable"}))
    drop(issued, "c.xlsx", same)
    drop(issued, "d.part", b"half")
    report = nightly(issued)
    assert set(report) >= {"run_id", "started_at", "finished_at", "accepted", "duplicates", "quarantined", "waiting"}
    assert set(report["accepted"][0]) >= {"file", "sha256", "leader_id", "supersedes"}
    assert set(report["duplicates"][0]) == {"file", "sha256", "same_as"}
    assert set(report["quarantined"][0]) >= {"file", "sha256", "leader_id", "problems"}
    assert set(report["quarantined"][0]["problems"][0]) >= {"code", "cell", "message"}
    assert report["waiting"] == [
        {"file": "d.part", "why": "its name shows it is still being saved (a temporary file)", "needs_you": False}
    ]
    assert report["accepted"][0]["file"] == "sub/folder/a.xlsx"
    assert report["duplicates"][0] == {
        "file": "c.xlsx",
        "sha256": report["accepted"][0]["sha256"],
        "same_as": "sub/folder/a.xlsx",
    }
    assert (issued / "inbox" / "sub" / "folder").is_dir() and not list((issued / "inbox" / "sub").rglob("*.xlsx"))


def test_files_still_being_written_wait(issued):
    drop(issued, "fresh.xlsx", filled(issued, LEADER), age=0)
    drop(issued, "~$fresh.xlsx", b"lock")
    drop(issued, ".~lock.fresh.xlsx#", b"lock")
    report = nightly(issued)
    assert sorted(w["file"] for w in report["waiting"]) == [".~lock.fresh.xlsx#", "fresh.xlsx", "~$fresh.xlsx"]
    assert (issued / "inbox" / "fresh.xlsx").exists() and report["accepted"] == []


def test_quarantine_copy_reasons_and_correction_request(issued):
    data = filled(
        issued,
        LEADER,
        {1: "comfortable", 2: "stretched", 3: "panicked", 5: "comfortable", 6: "panicked", 7: "stretched"},
        p4_comfortable="✓",
        p4_stretched="✓",
    )
    drop(issued, "mine.xlsx", data)
    report = nightly(issued)
    [item] = report["quarantined"]
    assert item["leader_id"] == LEADER
    assert [(p["code"], p["cell"]) for p in item["problems"]] == [("multiple-ticks", "Self-assessment!C10:E10")]
    folder = issued / "outbox" / "quarantine" / report["run_id"]
    copy = folder / f"{item['sha256'][:8]} mine.xlsx"
    assert copy.read_bytes() == data
    reasons = (folder / f"{copy.name}.reasons.txt").read_text()
    assert "[multiple-ticks] at Self-assessment!C10:E10 (p4_*)" in reasons and "What to do:" in reasons
    html = (issued / item["correction_request"]).read_text()
    text = (issued / item["correction_request"]).with_suffix(".txt").read_text()
    line = (
        "Perspective 4 (\u201cWe are partnership-fatigued and tired of being pulled in all directions\u201d): "
        "you ticked both 'comfortable' and 'stretched'; please keep one."
    )
    assert line.replace("'", "&#39;") in html
    assert line in text
    assert current_responses(engine(issued), "2026-Q4") == {}


def test_hostile_text_never_becomes_html(issued, write_roster):
    from tests.conftest import issue_forms_here

    write_roster([["Council", "<script>alert(1)</script>", "evil@x.example", ""]])
    issue_forms_here(issued)
    drop(issued, "<img src=x onerror=alert(1)>.xlsx", filled(issued, "evil@x.example", {1: "comfortable"}))
    report = nightly(issued)
    html = (issued / report["quarantined"][0]["correction_request"]).read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_hostile_files_are_quarantined_without_a_leader(issued):
    form = filled(issued, LEADER)
    drop(issued, "bomb.xlsx", H.zip_bomb(200))
    drop(issued, "far.xlsx", H.far_cell(form))
    drop(issued, "renamed.xlsx", H.old_xls())
    drop(issued, "empty.xlsx", b"")
    report = nightly(issued)
    codes = {q["file"]: (q["problems"][0]["code"], q["leader_id"]) for q in report["quarantined"]}
    assert codes == {
        "bomb.xlsx": ("unsafe-file", None),
        "far.xlsx": ("unsafe-file", None),
        "renamed.xlsx": ("not-a-workbook", None),
        "empty.xlsx": ("not-a-workbook", None),
    }
    assert not list((issued / "outbox" / "corrections").rglob("*.html"))
    assert not list((issued / "inbox").iterdir())


def test_resubmission_supersedes_and_invalid_never_displaces(issued):
    first = filled(issued, LEADER)
    drop(issued, "first.xlsx", first)
    nightly(issued)
    drop(issued, "second.xlsx", filled(issued, LEADER, ALL_COMFORTABLE))
    drop(issued, "third-broken.xlsx", filled(issued, LEADER, {1: "comfortable"}))
    report = nightly(issued)
    assert report["accepted"][0]["supersedes"] is not None
    assert [q["file"] for q in report["quarantined"]] == ["third-broken.xlsx"]
    assert current_responses(engine(issued), "2026-Q4")[LEADER].answers == ALL_COMFORTABLE
    counts = table_counts(engine(issued))
    assert (counts["responses"], counts["received"]) == (2, 3)  # the earlier response stays in history


def test_byte_identical_file_later_is_a_duplicate(issued):
    data = filled(issued, LEADER)
    drop(issued, "a.xlsx", data)
    first = nightly(issued)
    drop(issued, "a again.xlsx", data)
    second = nightly(issued)
    assert second["duplicates"] == [
        {"file": "a again.xlsx", "sha256": first["accepted"][0]["sha256"], "same_as": "a.xlsx"}
    ]
    assert second["accepted"] == []
    assert table_counts(engine(issued))["responses"] == 1


def test_an_empty_run_changes_nothing(issued):
    drop(issued, "a.xlsx", filled(issued, LEADER))
    nightly(issued)
    before = table_counts(engine(issued))
    report = nightly(issued)
    assert (report["accepted"], report["quarantined"], report["duplicates"]) == ([], [], [])
    after = table_counts(engine(issued))
    assert {k: v for k, v in after.items() if k != "runs"} == {k: v for k, v in before.items() if k != "runs"}


def test_the_run_report_keeps_every_key_of_earlier_releases(issued):
    """summary.json is a public contract: keys may be added, never removed. The key skeleton of the
    report as released in November 2026 (tests/data) must all be present."""
    import json

    from pipeline.simulate import Formula
    from tests.conftest import DATA

    same = filled(issued, LEADER, log_project=Formula('HYPERLINK("http://x.example","x")', "x"))
    drop(issued, "a.xlsx", same)
    drop(issued, "b.xlsx", filled(issued, OTHER, {1: "comfortable"}))
    drop(issued, "c.xlsx", same)
    drop(issued, "d.part", b"half")
    nightly(issued)
    report = json.loads((issued / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))
    skeleton = json.loads((DATA / "summary-keys-2026-11.json").read_text(encoding="utf-8"))

    def lacking(expected: object, found: object, where: str) -> list[str]:
        if isinstance(expected, dict):
            assert isinstance(found, dict), where
            return [
                miss
                for key, value in expected.items()
                for miss in ([f"{where}.{key}"] if key not in found else lacking(value, found[key], f"{where}.{key}"))
            ]
        if isinstance(expected, list) and expected:
            assert isinstance(found, list) and found, where
            return [miss for item in found[:1] for miss in lacking(expected[0], item, f"{where}[]")]
        return []

    assert lacking(skeleton, report, "report") == []
