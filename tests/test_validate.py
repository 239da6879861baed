"""Attribution and the tick rules, one file at a time (no inbox, no state writes)."""

from __future__ import annotations

import pytest

import tests.hostile as H
from pipeline.config import load_config
from pipeline.forms.layout import FormSpec
from pipeline.intake.validate import examine
from pipeline.simulate import Formula, repack
from pipeline.state import form_by_token, open_state
from tests.intake_helpers import LEADER, MIXED, filled, forms


@pytest.fixture
def check(issued):
    config = load_config(issued / "config")
    engine = open_state(issued / "state" / "clb.sqlite")
    spec = FormSpec.of(config.instrument)

    def run(data: bytes, round_id: str = "2026-Q4"):
        return examine(data, lambda token: form_by_token(engine, token), spec, round_id)

    return run


def codes(examination) -> list[str]:
    return [p.code for p in examination.problems]


def test_a_complete_form_is_attributed_by_its_token(check, issued):
    result = check(filled(issued, LEADER))
    assert codes(result) == []
    assert result.leader_id == LEADER and result.token == forms(issued)[LEADER].token
    assert result.answers == MIXED


@pytest.mark.parametrize("mark", ["✓", "x", "X", True, 1, "yes", "✔", "TRUE", "ok"])
def test_every_tick_style(check, issued, mark):
    assert check(filled(issued, LEADER, mark=mark)).answers == MIXED


def test_row_problems_name_perspective_cell_and_found_value(check, issued):
    data = filled(
        issued,
        LEADER,
        {1: "comfortable", 3: "panicked", 4: "stretched", 5: "comfortable", 6: "panicked", 7: "stretched"},
        p1_stretched="✓",
        p4_panicked="maybe",
    )
    result = check(data)
    found = {(p.code, p.cell, p.name, p.found) for p in result.problems}
    assert found == {
        ("multiple-ticks", "Self-assessment!C7:E7", "p1_*", "comfortable, stretched"),
        ("missing-tick", "Self-assessment!C8:E8", "p2_*", None),
        ("unrecognised-mark", "Self-assessment!E10", "p4_panicked", "maybe"),
    }
    leader = {p.code: p.leader_message for p in result.problems}
    # every line the same way, from the one catalogue: the perspective's number and statement, the box
    # where there is one, what was found, what to do
    assert leader["multiple-ticks"] == (
        "Perspective 1 (\u201cWe must have common aims but can't agree on them\u201d): "
        "you ticked both 'comfortable' and 'stretched'; please keep one."
    )
    assert leader["missing-tick"] == (
        "Perspective 2 (\u201cSharing power is important but people behave as if it's all in the purse strings\u201d): "
        "no box is ticked; please tick the one box that gives your answer."
    )
    assert leader["unrecognised-mark"] == (
        "Perspective 4 (\u201cWe are partnership-fatigued and tired of being pulled in all directions\u201d), "
        "the \u2018a bit panicked\u2019 box: we found \u2018maybe\u2019, which we cannot read as a mark; "
        "please use \u2713 or x."
    )
    assert result.blocking()


def test_false_beside_a_tick_is_not_a_second_mark(check, issued):
    assert codes(check(filled(issued, LEADER, p1_stretched=False, p1_panicked="-"))) == []


def test_a_lone_cross_is_the_rows_tick(check, issued):
    result = check(filled(issued, LEADER, mark="x"))
    assert result.answers == MIXED


def test_partial_returns_are_accepted_only_when_asked(check, issued):
    result = check(filled(issued, LEADER, {1: "comfortable", 2: "stretched"}))
    assert codes(result) == ["missing-tick"] * 5
    assert result.blocking(accept_partial=False)
    assert not result.blocking(accept_partial=True)
    assert result.answers[1] == "comfortable" and result.answers[3] is None


def test_user_log_is_text_and_formulas_are_noted(check, issued):
    data = filled(issued, LEADER, log_project='=HYPERLINK("http://x","y")', log_outcome=Formula("1+1", "2"))
    result = check(data)
    assert result.log == [{"project": '=HYPERLINK("http://x","y")', "outcome": "2"}]
    assert [(p.code, p.cell, p.name, p.found) for p in result.problems] == [
        ("formula-in-cell", "User log!B5", "log_outcome", "2")
    ]
    assert not result.blocking()


def test_no_token_unknown_token_and_disagreeing_tokens(check, issued):
    form = filled(issued, LEADER)
    token = forms(issued)[LEADER].token.encode()
    parts = H.parts_of(form)
    no_token = dict(parts)
    no_token["docProps/custom.xml"] = parts["docProps/custom.xml"].replace(token, b"")
    no_token["xl/worksheets/sheet5.xml"] = parts["xl/worksheets/sheet5.xml"].replace(token, b"")
    assert codes(check(repack(no_token))) == ["unknown-form"]

    forged = {k: v.replace(token, b"A" * len(token)) for k, v in parts.items()}
    result = check(repack(forged))
    assert codes(result) == ["unknown-form"] and result.leader_id is None

    other = forms(issued)["tom.hughes@riverside-council.example"].token.encode()
    mixed = dict(parts)
    mixed["docProps/custom.xml"] = parts["docProps/custom.xml"].replace(token, other)
    result = check(repack(mixed))
    assert codes(result) == ["altered-form"] and result.leader_id is None

    only_sheet = dict(parts)
    only_sheet["docProps/custom.xml"] = parts["docProps/custom.xml"].replace(token, b"")
    assert check(repack(only_sheet)).leader_id == LEADER  # either place is enough


def test_wrong_round_names_the_round(check, issued):
    result = check(filled(issued, LEADER), round_id="2027-Q1")
    assert codes(result) == ["wrong-round"]
    assert "2026-Q4" in result.problems[0].message and "2027-Q1" in result.problems[0].message
    assert result.leader_id == LEADER


def test_a_replaced_form_is_attributed_and_refused(check, issued):
    old = filled(issued, LEADER)
    from tests.conftest import issue_forms_here

    issue_forms_here(issued, reissue=(LEADER,))
    result = check(old)
    assert codes(result) == ["replaced-form"] and result.leader_id == LEADER


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda p, v: {
                **p,
                "docProps/custom.xml": p["docProps/custom.xml"].replace(v, b"CLB0.01-0000000000000000"),
                "xl/worksheets/sheet5.xml": p["xl/worksheets/sheet5.xml"].replace(v, b"CLB0.01-0000000000000000"),
            },
            "form version",
        ),
        (
            lambda p, v: {
                **p,
                "xl/worksheets/sheet2.xml": p["xl/worksheets/sheet2.xml"].replace(
                    b"Everything keeps changing", b"Nothing changes"
                ),
            },
            "wording of perspective 5",
        ),
        (
            lambda p, v: {**p, "xl/workbook.xml": p["xl/workbook.xml"].replace(b"$C$7<", b"$C$99<")},
            "named answer cells",
        ),
    ],
)
def test_altered_forms(check, issued, change, words):
    parts = H.parts_of(filled(issued, LEADER))
    version = forms(issued)[LEADER].form_version.encode()
    result = check(repack(change(parts, version)))
    assert codes(result) == ["altered-form"]
    assert words in result.problems[0].message
    assert result.leader_id == LEADER


def test_real_program_fixture_attribution(issued, check):
    """The kept LibreOffice file carries a fixture token that this workspace never issued."""
    from tests.conftest import DATA

    assert codes(check((DATA / "returns" / "libreoffice-complete.xlsx").read_bytes())) == ["unknown-form"]


def test_a_copy_sent_before_its_form_was_rewritten_is_accepted_while_it_asks_the_same(issued):
    """New wording that is not a question (here the letter's), or a new clb: clb forms rewrites every
    form under the same reference, and the copies leaders already have still count. Once a question
    changes, an old copy is an altered form."""
    from tests.conftest import issue_forms_here

    def check(data: bytes):
        config = load_config(issued / "config")
        engine = open_state(issued / "state" / "clb.sqlite")
        return examine(
            data,
            lambda token: form_by_token(engine, token),
            FormSpec.of(config.instrument),
            "2026-Q4",
            versions=lambda token: issued_versions(engine, token),
        )

    old = filled(issued, LEADER)
    before = forms(issued)[LEADER]
    from pipeline.state import form_versions, issued_versions

    with open_state(issued / "state" / "clb.sqlite").begin() as db:  # as a database of an earlier clb
        db.execute(form_versions.delete())
    path = issued / "config" / "instrument.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("Stretch yourself further", "Go further"), "utf-8")
    assert issue_forms_here(issued).updated == 15
    after = forms(issued)[LEADER]
    assert after.token == before.token and after.form_version != before.form_version
    result = check(old)
    assert codes(result) == [] and result.answers == MIXED
    forged = H.parts_of(old)
    for part in ("docProps/custom.xml", "xl/worksheets/sheet5.xml"):
        forged[part] = forged[part].replace(before.form_version.encode(), b"CLB0.01-0123456789abcdef")
    assert codes(check(repack(forged))) == ["altered-form"]  # a version never issued to this reference

    path.write_text(
        path.read_text(encoding="utf-8").replace("Everything keeps changing", "Change never stops"), "utf-8"
    )
    issue_forms_here(issued)
    again = check(old)
    assert codes(again) == ["altered-form"] and "wording of perspective 5" in again.problems[0].message
