"""Row heights and page setup from font metrics: the table against the font files, the line breaking
against its own count, and the page decisions against the 70% rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from pipeline import pagefit

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@pytest.mark.parametrize(("file", "bold"), [("DejaVuSans.ttf", False), ("DejaVuSans-Bold.ttf", True)])
def test_the_width_table_is_dejavu_sans(file, bold):
    """The table holds the font's own advance widths, in zeros of the regular face."""
    if not (DEJAVU / file).exists():
        if os.environ.get("CI"):
            pytest.fail("DejaVu fonts are missing: LibreOffice's fonts-dejavu should be installed")
        pytest.skip("DejaVu fonts are not installed")
    from PIL import ImageFont

    regular = ImageFont.truetype(str(DEJAVU / "DejaVuSans.ttf"), 2048)
    font = ImageFont.truetype(str(DEJAVU / file), 2048)
    zero = regular.getlength("0")
    for char in pagefit._MEASURED:
        assert pagefit.char_width(char, bold) == pytest.approx(font.getlength(char) / zero, abs=0.006), char


def test_letters_outside_the_table_take_their_base_letter_or_a_wide_width():
    assert pagefit.char_width("é") == pagefit.char_width("e")
    assert pagefit.char_width("Ł") == pagefit.WIDE  # no base letter to take: counted wide, never narrow
    assert pagefit.char_width("\u0301") == 0  # a combining accent adds no width
    assert pagefit.char_width("中") == pagefit.WIDE


text = st.lists(st.sampled_from([*"abcdefghij WXYZ-é中\n", "Wolstenholme-", "  "]), max_size=200).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=text, width=st.floats(min_value=2, max_value=120), bold=st.booleans())
def test_lines_keep_every_character_and_fit_their_column(text, width, bold):
    lines = pagefit.break_lines(text, width, bold=bold)
    assert pagefit.wrapped_lines(text, width, bold=bold) == len(lines)
    assert "".join("".join(lines).split()) == "".join(text.split())  # only breaks between, nothing lost
    room = width - pagefit.PADDING
    for line in lines:
        assert len(line) <= 1 or pagefit.text_width(line, bold) <= max(room, 1.0) + 1e-9, line


@settings(max_examples=100, deadline=None)
@given(words=st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=900), max_size=60))
def test_a_text_too_long_for_one_row_is_split_over_rows_that_each_fit(words):
    text = " ".join(words)
    pieces = pagefit.split_to_rows(text, 28)
    assert "".join("".join(pieces).split()) == "".join(text.split())
    assert all(pagefit.wrapped_lines(piece, 28) <= pagefit.lines_that_fit() for piece in pieces)
    if pagefit.wrapped_lines(text, 28) <= pagefit.lines_that_fit():
        assert pieces == [text]


@pytest.mark.parametrize(
    ("widths", "orientation", "scale", "split"),
    [
        ([20, 50], "portrait", 100, False),  # fits portrait A4 as it is
        ([40, 40, 30], "landscape", 100, False),
        ([40, 40, 40, 30], "landscape", 73, False),  # scaled down as far as needed, never below 70%
        ([60] * 5, "landscape", 70, True),  # too wide even at 70%: columns over pages, names repeated
    ],
)
def test_pages_are_a4_and_never_below_70_percent(widths, orientation, scale, split):
    sheet = Workbook().active
    pagefit.page_setup(sheet, widths, header_row=3)
    assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4)
    assert sheet.page_setup.orientation == orientation
    assert sheet.page_setup.scale == scale
    assert not sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == "$3:$3"
    assert bool(sheet.print_title_cols) == split


def test_a_chart_that_would_straddle_a_page_break_starts_a_new_page():
    sheet = Workbook().active
    pagefit.page_setup(sheet, [60], header_row=1)  # portrait
    pagefit.keep_together(sheet, 10, 200)  # 9 rows of 15 points above it: fits below them
    assert not sheet.row_breaks.brk
    pagefit.keep_together(sheet, 45, 200)  # 44 rows (660 points) above: it would cross the page's end
    assert [b.id for b in sheet.row_breaks.brk] == [44]
    assert pagefit.tallest_drawing(sheet) < pagefit.A4_TALL


def test_row_heights_grow_with_the_text_and_stop_at_the_spreadsheet_limit():
    sheet = Workbook().active
    pagefit.fit_row(sheet, 1, [("short", 20)])
    assert sheet.row_dimensions[1].height is None  # one line: the program's own height
    pagefit.fit_row(sheet, 2, [("word " * 40, 20)])
    lines = pagefit.wrapped_lines("word " * 40, 20)
    assert lines > 5 and sheet.row_dimensions[2].height == pagefit.row_height(lines)
    assert pagefit.row_height(1000) == pagefit.MAX_ROW_HEIGHT
