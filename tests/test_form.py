"""The personalised form: faithful to the tool, fillable only where it should be, readable by name."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from openpyxl.utils import range_boundaries

from pipeline.forms import layout as L
from pipeline.forms.reference import FormFields, build_form
from tests.formfacts import FormFacts, load

CLB_COUNT_COLUMN, CLB_STATUS_COLUMN = 6, 7  # F and G: a contract of CLB0.01's form (layout.count_column)

FIELDS = FormFields(
    name="Siân Llewellyn",
    organisation="Riverside Homes",
    role="Director",
    partnership="Riverside Partnership",
    round="2026-Q4",
    deadline=dt.date(2026, 12, 18),
    facilitator_name="Sam Okafor",
    facilitator_email="sam@example.org",
    token="tok-ABC123",
)


@pytest.fixture(scope="module")
def form(example_config, tmp_path_factory) -> FormFacts:
    path = tmp_path_factory.mktemp("form") / "form.xlsx"
    path.write_bytes(build_form(example_config.instrument, FIELDS))
    return load(path)


def test_every_input_has_its_defined_name(form, example_config):
    expected = {name: str(ref) for name, ref in L.input_names(example_config.instrument).items()}
    assert {k: v for k, v in form.names.items() if not k.startswith("clb_")} == expected
    assert form.names["p1_comfortable"] == "Self-assessment!C7"
    assert form.names["p7_panicked"] == "Self-assessment!E13"
    assert form.names["log_project"] == "User log!A5"
    assert form.names["log_differently_5"] == "User log!D9"
    assert len([n for n in form.names if n.startswith("p")]) == 21


def test_token_and_version_live_in_two_independent_places(form, example_config):
    version = L.form_version(example_config.instrument)
    assert form.properties == {
        "clb_tool": "CLB0.01",
        "clb_round": "2026-Q4",
        "clb_token": "tok-ABC123",
        "clb_form_version": version,
    }
    assert form.data_sheet == {
        "tool": "CLB0.01",
        "round": "2026-Q4",
        "token": "tok-ABC123",
        "form_version": version,
    }
    assert form.names["clb_token"] == "Form data!B4"
    assert form.sheet_states["Form data"] == "hidden"


def test_only_the_inputs_are_unlocked_and_every_sheet_is_protected(form, example_config):
    assert all(form.protected.values())
    inputs = L.input_names(example_config.instrument)
    for sheet, cells in form.unlocked.items():
        assert cells == {ref.coordinate for ref in inputs.values() if ref.sheet == sheet}, sheet


def test_tick_cells_offer_a_tick_and_explain_themselves(form):
    assert form.validations["Self-assessment"] == [("C7:E13", "list", '"✓,x"')]
    validation = form.formulas["Self-assessment"].data_validations.dataValidation[0]
    assert validation.showInputMessage and validation.prompt and validation.promptTitle
    assert validation.showErrorMessage and validation.error and validation.errorTitle
    assert validation.errorStyle == "warning", "typing x or another tick mark must stay possible"
    assert len(validation.prompt) <= 255 and len(validation.promptTitle) <= 32


def test_faithful_wording_on_the_form(form, example_config):
    sheet = form.formulas["Self-assessment"]
    instrument = example_config.instrument
    assert [sheet.cell(6, c).value for c in range(1, 6)] == [
        "Seven Overlapping Perspectives",
        "Collaborative Activity Required",
        "I would feel comfortable",
        "I would feel stretched",
        "I would feel a bit panicked",
    ]
    for p in instrument.perspectives:
        assert sheet.cell(L.perspective_row(p.number), 1).value == f"{p.number}. {p.statement}"
        assert sheet.cell(L.perspective_row(p.number), 2).value == p.activity
    texts = {c.value for ws in form.formulas.worksheets for row in ws.iter_rows() for c in row if c.value}
    assert "© 2013 Shared Service Architecture Ltd" in texts
    assert {"Step 1", "Step 2", "Step 3"} <= texts
    assert [form.formulas["User log"].cell(4, c).value for c in range(1, 5)] == [
        "Project & date tool used",
        "What was the desired outcome of using this tool?",
        "What actually happened?",
        "What would you do differently next time?",
    ]
    practices = form.formulas["Effective practices"]
    header = next(r for r in range(1, 20) if practices.cell(r, 1).value == "Practice")
    assert [practices.cell(header + n, 2).value for n in range(1, 8)] == [p.text for p in instrument.practices]


def test_personalised(form):
    cover = form.formulas["How to use"]
    details = {cover.cell(r, 1).value: cover.cell(r, 2).value for r in range(5, 12)}
    assert details["Leader"] == "Siân Llewellyn"
    assert details["Organisation"] == "Riverside Homes"
    assert details["Partnership"] == "Riverside Partnership"
    assert details["Round"] == "2026-Q4"
    assert details["Please return by"] == "Friday 18 December 2026"
    assert "Siân Llewellyn" in form.formulas["Self-assessment"]["A2"].value


def test_row_status_and_overall_status_are_live_formulas(form):
    sheet = form.formulas["Self-assessment"]
    for row in range(7, 14):
        count = sheet.cell(row, CLB_COUNT_COLUMN).value
        assert count.startswith("=") and f"ISLOGICAL(C{row})" in count and f"E{row}" in count
        assert '"Done"' in sheet.cell(row, CLB_STATUS_COLUMN).value
    assert "COUNTIF(F7:F13,1)" in sheet["B4"].value
    rules = [rule.formula[0] for cf in sheet.conditional_formatting for rule in cf.rules]
    assert sorted(rules) == ["$F7=0", "$F7>=2"]


def test_accessible_spreadsheet_basics(form):
    """GSS checklist basics: named sheets, no merged cells, header rows without blanks, wrapped text."""
    assert list(form.sheet_states) == [
        "How to use",
        "Self-assessment",
        "User log",
        "Effective practices",
        "Form data",
    ]
    for sheet in form.formulas.worksheets:
        assert not sheet.merged_cells.ranges, sheet.title
    headers = {
        "How to use": ("Prepared for", 2),
        "Self-assessment": ("Seven Overlapping Perspectives", 7),
        "User log": ("Project & date tool used", 4),
        "Effective practices": ("Practice", 2),
    }
    for title, (first, width) in headers.items():
        sheet = form.formulas[title]
        row = next(r for r in range(1, 30) if sheet.cell(r, 1).value == first)
        cells = [sheet.cell(row, c) for c in range(1, width + 1)]
        assert all(c.value for c in cells), title
        assert all(c.font.b for c in cells), title
    for ref in ("A7", "B7"):
        assert form.formulas["Self-assessment"][ref].alignment.wrap_text


def test_prints_landscape_at_a_readable_scale(form):
    """The scale is set, not left to fit-to-page (which shrinks without limit); tests/test_pages.py
    checks the printed page itself."""
    sheet = form.formulas["Self-assessment"]
    assert sheet.page_setup.orientation == "landscape"
    assert not sheet.sheet_properties.pageSetUpPr.fitToPage
    assert 70 <= sheet.page_setup.scale <= 100
    min_col, min_row, max_col, max_row = range_boundaries(sheet.print_area.split("!")[1].replace("$", ""))
    assert (min_col, min_row, max_col) == (1, 1, 7) and max_row >= 13


@pytest.mark.parametrize(
    "hostile",
    [
        '=HYPERLINK("http://x","y")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1)",
        "<b>bold</b> & co",
    ],
)
def test_roster_text_stays_text(example_config, tmp_path, hostile):
    fields = dataclasses.replace(FIELDS, name=hostile, organisation=hostile, role=hostile)
    path = tmp_path / "f.xlsx"
    path.write_bytes(build_form(example_config.instrument, fields))
    facts = load(path)
    cover = facts.formulas["How to use"]
    leader = next(r for r in range(1, 20) if cover.cell(r, 1).value == "Leader")
    cell = cover.cell(leader, 2)
    assert cell.value == hostile and cell.data_type == "s"
    assert cover.cell(leader + 1, 2).value == hostile
    assert (
        facts.formulas["Self-assessment"]["B2"].value == hostile
        and facts.formulas["Self-assessment"]["B2"].data_type == "s"
    )


def test_same_inputs_give_the_same_bytes(example_config):
    assert build_form(example_config.instrument, FIELDS) == build_form(example_config.instrument, FIELDS)


def test_password_is_applied_when_configured(example_config, tmp_path):
    path = tmp_path / "f.xlsx"
    path.write_bytes(build_form(example_config.instrument, dataclasses.replace(FIELDS, password="s3cret")))
    facts = load(path)
    assert facts.formulas["Self-assessment"].protection.password
    assert facts.formulas.security.lockStructure


def test_same_inputs_give_the_same_bytes_across_a_clock_tick(example_config, monkeypatch):
    """openpyxl dates every zip entry with the time of saving (two-second resolution); ours may not."""
    import time

    from openpyxl import Workbook

    from pipeline.xlsx import workbook_bytes

    def small() -> bytes:
        book = Workbook()
        book.active["A1"] = "x"
        return workbook_bytes(book, dt.datetime(2026, 11, 28, 3, 0, 0))

    before = (small(), build_form(example_config.instrument, FIELDS))
    # the clock an hour on, wherever the libraries read it: zipfile (time.time), openpyxl (datetime.now)
    import types

    import openpyxl.packaging.core
    import openpyxl.writer.excel

    later = time.time() + 3600

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return dt.datetime.fromtimestamp(later, tz)

    monkeypatch.setattr(time, "time", lambda: later)
    for module in (openpyxl.packaging.core, openpyxl.writer.excel):
        monkeypatch.setattr(module, "datetime", types.SimpleNamespace(datetime=Later, timezone=dt.timezone))
    assert (small(), build_form(example_config.instrument, FIELDS)) == before


PAPER_WORDING = ("opposite page", "on the left", "on the right", "overleaf", "this page")


def test_the_form_speaks_of_sheets_not_pages(form, example_config):
    """The seed points at a printed booklet; the form uses each step's workbook wording instead."""
    texts = " ".join(
        str(c.value) for ws in form.formulas.worksheets for row in ws.iter_rows() for c in row if c.value
    ).lower()
    assert not [phrase for phrase in PAPER_WORDING if phrase in texts]
    for step in example_config.instrument.steps:
        assert step.wording("workbook").lower() in texts
    assert "on the self-assessment sheet" in texts and "(on the effective practices sheet)" in texts


def test_the_answer_columns_wear_the_answers_colours(form):
    from pipeline.colours import scheme

    sheet = form.formulas["Self-assessment"]
    fills = [sheet.cell(L.FORM_HEADER_ROW, L.TICK_FIRST_COLUMN + i).fill.fgColor.rgb[-6:] for i in range(3)]
    assert fills == list(scheme(3).colours)
