"""How much room text takes on a printed or shown sheet: row heights and page setup from font metrics.

Spreadsheet programs do not grow a row that a file gives a height, and LibreOffice does not re-measure
rows of an .xlsx at all: a row too short for its wrapped text prints over the rows below. So every row
of wrapped text we write gets its height here, from the widths of the characters it holds.

The widths are DejaVu Sans's (regular and bold), measured once from the font files with Pillow and kept
below in hundredths of the width of the digit 0, which is the unit of a column's width in every
spreadsheet program: a column of width 40 holds forty zeros. DejaVu Sans is what LibreOffice draws
Calibri with where Calibri is missing, and it is wider than Calibri, so the estimate errs towards room
to spare; ``tests/test_pagefit.py`` checks the table against the font files. Characters outside the table
take the width of their base letter (é as e), else that of a wide glyph.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

_MEASURED = "".join(chr(c) for c in range(32, 127)) + "‘’“”–—…•✓→€£©·×"
# fmt: off
_REGULAR = (
    50, 63, 72, 132, 100, 149, 123, 43, 61, 61, 79, 132, 50, 57, 50, 53, 100, 100, 100, 100, 100, 100, 100, 100,
    100, 100, 53, 53, 132, 132, 132, 83, 157, 108, 108, 110, 121, 99, 90, 122, 118, 46, 46, 103, 88, 136, 118,
    124, 95, 124, 109, 100, 96, 115, 108, 155, 108, 96, 108, 61, 53, 61, 132, 79, 79, 96, 100, 86, 100, 97, 55,
    100, 100, 44, 44, 91, 44, 153, 100, 96, 100, 100, 65, 82, 62, 100, 93, 129, 93, 93, 83, 100, 53, 100, 132,
    50, 50, 81, 81, 79, 157, 157, 93, 132, 132, 100, 100, 157, 50, 132,
)
_BOLD = (
    55, 72, 82, 132, 109, 157, 137, 48, 72, 72, 82, 132, 60, 65, 60, 57, 109, 109, 109, 109, 109, 109, 109, 109,
    109, 109, 63, 63, 132, 132, 132, 91, 157, 122, 120, 115, 130, 107, 107, 129, 132, 58, 58, 122, 100, 156, 132,
    134, 115, 134, 121, 113, 107, 128, 122, 173, 121, 114, 114, 72, 57, 72, 132, 79, 79, 106, 113, 93, 113, 107,
    68, 113, 112, 54, 54, 105, 54, 164, 112, 108, 113, 113, 78, 94, 75, 112, 102, 145, 101, 102, 91, 112, 57, 112,
    132, 60, 60, 103, 103, 79, 157, 157, 100, 132, 132, 109, 109, 157, 60, 132,
)
# fmt: on
_HYPHENATED = re.compile(r"(?<=-)(?=[^-])")  # a line may break after a hyphen, as in "Smith-/Jones"
WIDE = 1.6  # a glyph the table does not know: as wide as a CJK ideograph (one em)
MARGIN = 1.06  # Calibri's letters are up to 5% wider than DejaVu Sans's, counted in zeros
PADDING = 0.8  # the part of a column's width that cell padding takes, in zeros
POINTS_PER_UNIT = 7.0  # a column-width unit in points, as LibreOffice prints an 11-point sheet here
LINE = 1.32  # a line of wrapped text, in ems (Excel's Calibri: 14.5 points at 11; DejaVu Sans: 12.8)
MAX_ROW_HEIGHT = 409.0  # the tallest row a spreadsheet program allows, in points

A4_PORTRAIT, A4_LANDSCAPE = 523.0, 770.0  # printable widths in points with half-inch margins
A4_TALL, A4_SHORT = 745.0, 500.0  # printable heights with 0.6-inch margins, less a little to spare
DEFAULT_ROW = 15.0
MIN_SCALE = 70


def _measure(char: str, bold: bool) -> float:
    table = _BOLD if bold else _REGULAR
    if unicodedata.combining(char):
        return 0.0
    index = _MEASURED.find(char)
    if index < 0:
        base = unicodedata.normalize("NFD", char)[:1]
        index = _MEASURED.find(base) if base and base != char else -1
    return table[index] / 100 if index >= 0 else WIDE


class _Widths(dict[str, float]):
    """Widths by character, measured on first use: a plain dictionary lookup for every one after."""

    def __init__(self, bold: bool) -> None:
        super().__init__()
        self.bold = bold

    def __missing__(self, char: str) -> float:
        self[char] = width = _measure(char, self.bold)
        return width


_TABLES = (_Widths(bold=False), _Widths(bold=True))


def char_width(char: str, bold: bool = False) -> float:
    """One character's width in zeros of the regular font at the same size."""
    return _TABLES[bold][char]


def text_width(text: str, bold: bool = False) -> float:
    """A line of text's width in zeros, with the margin for fonts wider than DejaVu Sans."""
    return sum(map(_TABLES[bold].__getitem__, text)) * MARGIN


def wrapped_lines(text: str, width: float, size: float = 11, bold: bool = False) -> int:
    """The lines ``text`` takes in a wrapping cell of ``width`` (column units) at ``size`` points, broken
    at spaces as spreadsheet programs break it; a word longer than a line is broken where it must be."""
    if "\n" not in text and text_width(text, bold) <= max((width - PADDING) * 11 / size, 1.0):
        return 1  # most cells: one line, measured without breaking
    return len(break_lines(text, width, size, bold))


def break_lines(text: str, width: float, size: float = 11, bold: bool = False) -> list[str]:
    """``text`` broken into lines as spreadsheet programs break it in a wrapping cell: at spaces and after
    hyphens; a word wider than a line is cut where it must be. Also used to write a long line one row at
    a time where a cell may not be merged (spreadsheets for screen readers keep cells unmerged)."""
    room = max((width - PADDING) * 11 / size, 1.0)
    space = char_width(" ", bold) * MARGIN
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        used = 0.0
        for word in paragraph.split():
            for index, piece in enumerate(_HYPHENATED.split(word)):
                gap = space if current and index == 0 else 0.0
                length = text_width(piece, bold)
                if current and used + gap + length > room:
                    lines.append(current)
                    current, used, gap = "", 0.0, 0.0
                while not current and length > room:  # wider than a line: cut where it must be
                    cut = _fitting(piece, room, bold)
                    lines.append(piece[:cut])
                    piece = piece[cut:]
                    length = text_width(piece, bold)
                current += (" " if gap else "") + piece
                used += gap + length
        lines.append(current)
    return lines


def _fitting(word: str, room: float, bold: bool) -> int:
    used = 0.0
    for index, char in enumerate(word):
        used += char_width(char, bold) * MARGIN
        if used > room:
            return max(index, 1)
    return len(word)


def row_height(lines: int, size: float = 11) -> float:
    """The height in points a row needs for ``lines`` lines at ``size`` points."""
    return min(math.ceil(lines * size * LINE + 3), MAX_ROW_HEIGHT)


def lines_that_fit(size: float = 11) -> int:
    """The most lines a row can hold: a longer text must be split over several rows."""
    return int((MAX_ROW_HEIGHT - 3) / (size * LINE))


def widest_word(text: str, bold: bool = False) -> float:
    """The column width the longest word of ``text`` needs to stay whole."""
    return max((text_width(word, bold) for word in text.split()), default=0.0) + PADDING + 0.2


def heading_widths(headings: Sequence[str], widths: Sequence[float]) -> list[float]:
    """``widths``, widened where a bold heading has a word that would otherwise break in the middle."""
    return [
        max(width, round(widest_word(heading, bold=True), 1)) for heading, width in zip(headings, widths, strict=True)
    ]


def _row_points(sheet: Worksheet, number: int) -> float:
    tall = sheet.row_dimensions[number].height if number in sheet.row_dimensions else None
    return float(tall or DEFAULT_ROW)


def page_room(sheet: Worksheet) -> tuple[float, float]:
    """(the height a page holds, the part of it a continued page gives to the repeated heading rows), in
    the sheet's own points (before scaling)."""
    setup = sheet.page_setup
    page = (A4_TALL if setup.orientation == "portrait" else A4_SHORT) * 100 / (setup.scale or 100)
    titles = 0.0
    if sheet.print_title_rows:
        first, _, last = sheet.print_title_rows.replace("$", "").partition(":")  # openpyxl gives "$7:$7"
        titles = sum(_row_points(sheet, n) for n in range(int(first), int(last or first) + 1))
    return page, titles


def keep_together(sheet: Worksheet, row: int, height: float) -> None:
    """Start a new page at ``row`` if the ``height`` points from there (a chart) would not fit on the rest
    of the page, so that a page break never cuts through it. The rows above are measured as written; a
    continued page starts below the repeated heading rows. A chart moved below a table that is whole on
    the page before starts its page itself: the heading rows are not repeated over it."""
    page, titles = page_room(sheet)
    breaks = {item.id for item in sheet.row_breaks.brk}
    used = 0.0
    one_page = True  # the rows above all print on the first page
    for number in range(1, row):
        step = _row_points(sheet, number)
        turned = used + step > page or number - 1 in breaks
        one_page &= not turned
        used = titles + step if turned else used + step
    if used and used + height > page:
        sheet.row_breaks.append(Break(id=row - 1))
        if one_page:  # the table is whole on its page: repeated headings would stand alone over the chart
            sheet._print_rows = None  # openpyxl's setter ignores None: this is what it reads when it saves


def tallest_drawing(sheet: Worksheet) -> float:
    """The tallest chart, in points, that fits a continued page of the sheet whole."""
    page, titles = page_room(sheet)
    return page - titles - DEFAULT_ROW


def split_to_rows(text: str, width: float) -> list[str]:
    """``text`` in pieces that each fit the tallest row a column of ``width`` can have, split between
    words (a word too long for a whole row is cut), so that a long text is never cut off."""
    limit = lines_that_fit()
    if wrapped_lines(text, width) <= limit:
        return [text]
    safe = max(1, int(limit * (width - PADDING) / (WIDE * MARGIN)))  # characters that fit, whatever they are
    words = [
        chunk for word in text.split(" ") for chunk in ([word[i : i + safe] for i in range(0, len(word), safe)] or [""])
    ]
    pieces: list[str] = []
    current: list[str] = []
    for word in words:
        if current and wrapped_lines(" ".join([*current, word]), width) > limit:
            pieces.append(" ".join(current))
            current = []
        current.append(word)
    pieces.append(" ".join(current))
    return pieces


def row_lines(cells: Sequence[tuple[str, float]], size: float = 11, bold: bool = False) -> int:
    """The lines the tallest of ``cells`` (text, column width) needs."""
    return max((wrapped_lines(text, width, size, bold) for text, width in cells), default=1)


def fit_row(
    sheet: Worksheet, row: int, cells: Sequence[tuple[str, float]], size: float = 11, bold: bool = False
) -> None:
    """Give ``row`` the height its tallest wrapped cell needs: ``cells`` are (text, column width). A row
    that needs one line keeps the default height."""
    fit_lines(sheet, row, row_lines(cells, size, bold), size)


def height_for(lines: int, size: float = 11) -> float | None:
    """The height a row of ``lines`` lines needs, or None where the program's own height does."""
    return row_height(lines, size) if lines > 1 or size > 11 else None


def fit_lines(sheet: Worksheet, row: int, lines: int, size: float = 11) -> None:
    """Give ``row`` the height of ``lines`` lines (when they were counted already, as for personal text)."""
    height = height_for(lines, size)
    if height is not None:
        sheet.row_dimensions[row].height = height


def page_setup(
    sheet: Worksheet, widths: Sequence[float], header_row: int | None = None, repeat_columns: int = 1
) -> None:
    """A4, never below 70%: portrait when the columns fit it, else landscape, scaled down only as far as
    needed. A sheet too wide even at 70% prints its columns over several pages, its first
    ``repeat_columns`` (the names) repeated on each, rather than at a scale nobody can read."""
    total = sum(widths) * POINTS_PER_UNIT
    setup = sheet.page_setup
    setup.paperSize = sheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = False
    sheet.page_margins.left = sheet.page_margins.right = 0.5
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.print_options.gridLines = False
    if total <= A4_PORTRAIT:
        setup.orientation, setup.scale = "portrait", 100
    else:
        setup.orientation = "landscape"
        setup.scale = max(MIN_SCALE, min(100, math.floor(100 * A4_LANDSCAPE / total)))
        if total * setup.scale / 100 > A4_LANDSCAPE and repeat_columns:
            sheet.print_title_cols = f"A:{get_column_letter(repeat_columns)}"
            setup.pageOrder = "downThenOver"
    if header_row is not None:
        sheet.print_title_rows = f"{header_row}:{header_row}"
