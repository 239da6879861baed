"""A streamed table's cells written as strings (pipeline.xlsx.raw_cell) are byte for byte what openpyxl's
own writer makes of them, whatever the values: a leader's text with markup, spaces, lines and any
character, numbers of every size, empty cells."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline.xlsx as xlsx
from pipeline.reports.sheets import table

STAMP = dt.datetime(2026, 12, 4, 8, 0, 0)
TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["", " ", "  lead", "trail  ", "a\nb", "\tx", "<b>&amp;</b>", '=HYPERLINK("x")', "x > y & z"]
)
NUMBER = st.integers(min_value=-(10**20), max_value=10**20) | st.floats(allow_nan=True, allow_infinity=True)
VALUE = st.none() | TEXT | NUMBER


def saved(rows: list[list[object]], raw: bool) -> bytes:
    from pipeline.reports.comparison import new_workbook

    workbook = new_workbook()
    sheet = workbook.create_sheet("Answers")
    table(sheet, 1, ["Name", "Answer", "Count"], rows, "Answers", [30, 20, 10], {3: "0"}, stream=True)
    before = xlsx.RAW_CELLS
    xlsx.RAW_CELLS = raw
    try:
        return xlsx.workbook_bytes(workbook, STAMP)
    finally:
        xlsx.RAW_CELLS = before


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(VALUE, min_size=3, max_size=3), min_size=1, max_size=6))
def test_a_streamed_table_is_the_bytes_openpyxl_writes(rows):
    assert saved(rows, raw=True) == saved(rows, raw=False)


def test_the_strings_are_what_is_written():
    """The comparison above cannot pass by writing neither: the raw path is taken for text and numbers."""
    from pipeline.reports.comparison import new_workbook
    from pipeline.reports.sheets import _fill

    sheet = new_workbook().create_sheet("Answers")
    assert xlsx.raw_cell(_fill(sheet.cell(row=5, column=1), " a & b")) == (
        '<c r="A5" t="inlineStr"><is><t xml:space="preserve"> a &amp; b</t></is></c>'
    )
    assert xlsx.raw_cell(_fill(sheet.cell(row=5, column=2), 3)) == '<c r="B5" t="n"><v>3</v></c>'
    assert xlsx.raw_cell(_fill(sheet.cell(row=5, column=3), float("nan"))) is None  # openpyxl's own
