"""Small openpyxl helpers shared by the workbook editions: text that stays text, tables, print setup."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.text import shown_safely
from pipeline.xlsx import stream_rows

Value = str | int | float | None
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F3864")
WRAP = Alignment(wrap_text=True, vertical="top")


def put(sheet: Worksheet, row: int, column: int, value: Value, number_format: str | None = None) -> None:
    """Write one value. Text is always text: a leader's "=HYPERLINK(...)" stays inert, and a control
    character or U+FFFE (which openpyxl refuses, or writes into XML no reader can load) is shown escaped."""
    _fill(sheet.cell(row=row, column=column), value, number_format)


def _fill(cell: Cell, value: Value, number_format: str | None = None, wrap: bool = False) -> Cell:
    if isinstance(value, str):
        value = shown_safely(value, lines=True)  # never a character that breaks the sheet's XML
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
    elif number_format:
        cell.number_format = number_format
    if wrap:
        cell.alignment = WRAP
    return cell


def title(sheet: Worksheet, text: str, lines: Sequence[str] = ()) -> int:
    """A title and explanatory lines above a table; returns the next free row."""
    put(sheet, 1, 1, text)
    sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
    for offset, line in enumerate(lines, start=2):
        put(sheet, offset, 1, line)
    return len(lines) + 3


def table(
    sheet: Worksheet,
    top: int,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    name: str,
    widths: Sequence[float] | None = None,
    formats: dict[int, str] | None = None,
    wrap: Sequence[int] = (),
    stream: bool = False,
) -> tuple[int, int]:
    """An Excel table with a filterable header row, frozen below its header; ``wrap`` columns wrap their
    text. With ``stream`` the data rows are made only while the workbook is saved (tables that grow
    with the roster). Returns (first, last) data rows."""
    sheet.row_dimensions[top].height = 32 if any(len(h) > 14 for h in headers) else 18
    for column, header in enumerate(headers, start=1):
        put(sheet, top, column, header)
        cell = sheet.cell(row=top, column=column)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    formats, wrapped = formats or {}, set(wrap)

    def cells(number: int, values: Sequence[Any], streamed: bool) -> list[Cell]:
        return [
            _fill(
                Cell(sheet, row=number, column=column) if streamed else sheet.cell(row=number, column=column),
                value,
                formats.get(column),
                column in wrapped,
            )
            for column, value in enumerate(values, start=1)
        ]

    for offset, values in enumerate(rows, start=1):  # wrapped text gets the lines it needs when printed
        texts = [(str(values[c - 1]), widths[c - 1]) for c in wrapped if widths and c <= min(len(values), len(widths))]
        if texts:
            fit_height(sheet, top + offset, texts)

    if stream:

        def source() -> Iterator[tuple[int, list[Cell]]]:
            for offset, values in enumerate(rows, start=1):
                yield top + offset, cells(top + offset, values, streamed=True)

        stream_rows(sheet, source, top + len(rows), len(headers))
    else:
        for offset, values in enumerate(rows, start=1):
            cells(top + offset, values, streamed=False)
    last = top + max(len(rows), 1)
    ref = f"A{top}:{get_column_letter(len(headers))}{last}"
    item = Table(displayName=re.sub(r"[^A-Za-z0-9_]", "_", name), ref=ref)
    item.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    item._initialise_columns()  # named here: openpyxl would otherwise make a cell for every one in the range
    for column, header in zip(item.tableColumns, headers, strict=True):
        column.name = shown_safely(header, lines=True)
    sheet.add_table(item)
    sheet.freeze_panes = sheet.cell(row=top + 1, column=1)
    for column, width in enumerate(widths or [], start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    return top + 1, last


def lines_needed(text: str, width: float) -> int:
    """Lines a text takes wrapped in a column of ``width`` (Excel's units, about one digit of the default
    font each): a conservative estimate, by words, at about 0.9 characters a unit."""
    per_line = max(1, int(width * 0.9))
    lines = 0
    for paragraph in text.split("\n"):
        length = 0
        lines += 1
        for word in paragraph.split():
            if length and length + 1 + len(word) > per_line:
                lines += 1
                length = len(word)
            else:
                length += (1 if length else 0) + len(word)
            while length > per_line:  # a word longer than the line wraps on its own
                lines += 1
                length -= per_line
    return max(lines, 1)


def fit_height(sheet: Worksheet, row: int, texts: Sequence[tuple[str, float]]) -> None:
    """Give a row of wrapped text the height its longest cell needs: spreadsheet programs do not grow a
    row that openpyxl wrote, and the text would print over the rows below."""
    lines = max(lines_needed(text, width) for text, width in texts)
    if lines > 1:
        sheet.row_dimensions[row].height = 15 * lines


def landscape(sheet: Worksheet) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.print_title_rows = None
