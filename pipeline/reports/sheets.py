"""Small openpyxl helpers shared by the workbook editions: text that stays text, tables that fit the page."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Sequence
from copy import copy
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.pagefit import break_lines, fit_row, heading_widths, height_for, page_setup, row_height, row_lines
from pipeline.text import shown_safely
from pipeline.xlsx import stream_rows

Value = str | int | float | None
HEADER_FONT = Font(name="Calibri", bold=True, color="FFFFFF")  # named: else LibreOffice prints a serif
HEADER_FILL = PatternFill("solid", fgColor="1F3864")
TITLE_FONT = Font(name="Calibri", bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")


def put(sheet: Worksheet, row: int, column: int, value: Value, number_format: str | None = None) -> None:
    """Write one value. Text is always text: a leader's "=HYPERLINK(...)" stays inert, and a control
    character or U+FFFE (which openpyxl refuses, or writes into XML no reader can load) is shown escaped."""
    _fill(sheet.cell(row=row, column=column), value, number_format)


def _fill(cell: Cell, value: Value, number_format: str | None = None, aligned: bool = False) -> Cell:
    if isinstance(value, str):
        value = shown_safely(value, lines=True)  # never a character that breaks the sheet's XML
    cell.value = value
    text = isinstance(value, str)
    if text:
        cell.data_type = "s"
    if not aligned:
        if not text and number_format:
            cell.number_format = number_format
        return cell
    # in a table: text wraps in its column, and everything starts at the top of its row. A table's cells
    # have a few styles in all: each is registered with the workbook once and copied to the cells after
    # (openpyxl hashes every style object it is given, which was a fifth of writing a large edition)
    styles = _TABLE_STYLES.setdefault(cell.parent.parent, {})
    key = (text, None if text else number_format)
    known = styles.get(key)
    if known is None:
        if not text and number_format:
            cell.number_format = number_format
        cell.alignment = WRAP if text else TOP
        styles[key] = copy(cell._style)
    else:
        cell._style = copy(known)
    return cell


_TABLE_STYLES: weakref.WeakKeyDictionary[Any, dict[tuple[bool, str | None], Any]] = weakref.WeakKeyDictionary()


def title(sheet: Worksheet, text: str, lines: Sequence[str] = (), widths: Sequence[float] = (100,)) -> int:
    """A title and explanatory lines above a table; returns the next free row (a blank one is left).
    A line longer than the table is wide goes on in the row below, broken between words, rather than
    run off the printed page: cells are never merged, so that screen readers read them in order."""
    span = sum(widths)
    row = 1
    for size, line in [(TITLE_FONT.sz, text), *[(11.0, line) for line in lines]]:
        for part in break_lines(line, span, size=size, bold=size > 11):
            put(sheet, row, 1, part)
            if size > 11:
                sheet.cell(row=row, column=1).font = TITLE_FONT
                sheet.row_dimensions[row].height = row_height(1, size)
            row += 1
    return row + 1


def table(
    sheet: Worksheet,
    top: int,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    name: str,
    widths: Sequence[float],
    formats: dict[int, str] | None = None,
    stream: bool = False,
    repeat_columns: int = 1,
) -> tuple[int, int]:
    """An Excel table with a filterable header row, frozen below its header and printed with it on every
    page. Text wraps within its column and every row gets the height its text needs; ``widths`` are
    required for that. With ``stream`` the data rows are made only while the workbook is saved (tables
    that grow with the roster). Returns (first, last) data rows."""
    widths = heading_widths(headers, widths)
    for column, header in enumerate(headers, start=1):
        put(sheet, top, column, header)
        cell = sheet.cell(row=top, column=column)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    fit_row(sheet, top, list(zip(headers, widths, strict=True)), bold=True)
    formats = formats or {}

    def cells(number: int, values: Sequence[Any], streamed: bool) -> list[Cell]:
        return [
            _fill(
                Cell(sheet, row=number, column=column) if streamed else sheet.cell(row=number, column=column),
                value,
                formats.get(column),
                aligned=True,
            )
            for column, value in enumerate(values, start=1)
        ]

    def fitted(values: Sequence[Any]) -> list[tuple[str, float]]:
        return [(v, w) for v, w in zip(values, widths, strict=False) if isinstance(v, str)]

    if stream:  # the rows, and their heights, are made one at a time while the workbook is saved

        def source() -> Iterator[tuple[int, list[Cell], float | None]]:
            for offset, values in enumerate(rows, start=1):
                height = height_for(row_lines(fitted(values)))
                yield top + offset, cells(top + offset, values, streamed=True), height

        stream_rows(sheet, source, top + len(rows), len(headers))
    else:
        for offset, values in enumerate(rows, start=1):
            cells(top + offset, values, streamed=False)
            fit_row(sheet, top + offset, fitted(values))
    last = top + max(len(rows), 1)
    ref = f"A{top}:{get_column_letter(len(headers))}{last}"
    item = Table(displayName=re.sub(r"[^A-Za-z0-9_]", "_", name), ref=ref)
    item.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    item._initialise_columns()  # named here: openpyxl would otherwise make a cell for every one in the range
    for column, header in zip(item.tableColumns, headers, strict=True):
        column.name = shown_safely(header, lines=True)
    sheet.add_table(item)
    sheet.freeze_panes = f"A{top + 1}"  # a coordinate, not a cell: a cell there would be a row of its own
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    page_setup(sheet, widths, header_row=top, repeat_columns=repeat_columns)
    return top + 1, last
