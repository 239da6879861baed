"""Saving an openpyxl workbook so that the same content always gives the same bytes.

openpyxl's save stamps the document properties and every zip entry with the time of saving, so two saves
of one workbook differ whenever they straddle a two-second tick. Forms must be reproducible (the fast
path is proved identical to the reference builder) and the shareable edition must not change between
publications, so both are saved here: the properties carry ``stamp`` and every entry the same date.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import zipfile
from collections.abc import Callable, Iterator
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell._writer import write_cell
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

RowSource = Callable[[], Iterator[tuple[int, list[Cell], float | None]]]
_STREAM = "_clb_streamed_rows"  # the sheet's rows made while saving: (source, last row, last column)


def stream_rows(sheet: Worksheet, source: RowSource, last_row: int, last_column: int) -> None:
    """Rows that are made only while the sheet is saved, one at a time, then dropped: a table of 10,000
    leaders would otherwise hold 100,000 openpyxl cells (about 50 MB) until the workbook is written.
    ``source`` yields (row number, cells, height in points or None) in order, below every row the sheet
    holds itself: the height too is made only then, not kept for every row until saving."""
    setattr(sheet, _STREAM, (source, last_row, last_column))


class _StreamingSheetWriter(WorksheetWriter):
    """openpyxl's sheet writer, taking the streamed rows after the sheet's own."""

    def __init__(self, ws: Worksheet, stream: tuple[RowSource, int, int]) -> None:
        super().__init__(ws)
        self._stream = stream
        self._height: float | None = None  # the streamed row being written

    def write_dimensions(self) -> None:
        _, last_row, last_column = self._stream
        columns = max(self.ws.max_column, last_column)
        self.xf.send(SheetDimension(f"A1:{get_column_letter(columns)}{max(self.ws.max_row, last_row)}").to_tree())

    def rows(self) -> Any:
        yield from super().rows()
        for number, cells, height in self._stream[0]():
            self._height = height
            yield number, cells
            self._height = None

    def write_row(self, xf: Any, row: Any, row_idx: int) -> None:
        if self._height is None:
            super().write_row(xf, row, row_idx)
            return
        attrs = {"r": f"{row_idx}", "ht": f"{self._height:g}", "customHeight": "1"}
        with xf.element("row", attrs):
            for cell in row:  # as openpyxl writes a row; streamed cells carry no comments
                if cell._value is None and not cell.has_style:
                    continue
                made = raw_cell(cell) if RAW_CELLS else None
                if made is None:
                    write_cell(xf, self.ws, cell, cell.has_style)
                else:
                    xf._file(made)  # the standard-library writer's own output function


RAW_CELLS = True  # tests/test_xlsx.py turns it off to compare the bytes with openpyxl's own


def raw_cell(cell: Cell) -> str | None:
    """A streamed cell's XML exactly as openpyxl's standard-library writer makes it (tests/test_xlsx.py
    compares the two byte for byte), made as one string: openpyxl builds an element tree for every cell,
    a quarter of writing the facilitator's workbook. None for anything but text and finite numbers
    (formulas, dates, rich text, links): openpyxl writes those itself."""
    value, kind = cell._value, cell.data_type
    if cell.hyperlink is not None:
        return None
    head = f'<c r="{cell.coordinate}"' + (f' s="{cell.style_id}"' if cell.has_style else "")
    if kind == "s" and type(value) is str:
        if value == "":
            return f'{head} t="inlineStr" />'
        stripped = value.strip()
        space = ' xml:space="preserve"' if stripped and stripped != value else ""
        return f'{head} t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'
    if kind == "n":
        if value is None:
            return f'{head} t="n" />'
        if type(value) in (int, float) and math.isfinite(value):
            return f'{head} t="n"><v>{value:.16g}</v></c>'
    return None


class _Writer(ExcelWriter):
    def write_worksheet(self, ws: Worksheet) -> None:
        stream = getattr(ws, _STREAM, None)
        if stream is None:
            super().write_worksheet(ws)
            return
        from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing

        ws._drawing = SpreadsheetDrawing()  # as ExcelWriter.write_worksheet does, with the streaming writer
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = _StreamingSheetWriter(ws, stream)
        writer.write()
        ws._rels = writer._rels
        self._archive.write(writer.out, ws.path[1:])
        self.manifest.append(ws)
        writer.cleanup()


class _FixedDateZip(zipfile.ZipFile):
    """A zip whose entries all carry one date, whatever the clock says."""

    def __init__(self, file: io.BytesIO, date_time: tuple[int, int, int, int, int, int]) -> None:
        super().__init__(file, "w", zipfile.ZIP_DEFLATED)
        self.date_time = date_time

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):  # type: ignore[no-untyped-def]
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = zipfile.ZipInfo(zinfo_or_arcname, date_time=self.date_time)
            zinfo_or_arcname.compress_type = self.compression
        return super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):  # type: ignore[no-untyped-def]
        """openpyxl writes worksheets from temporary files, whose modification time would be used."""
        with open(filename, "rb") as handle:
            self.writestr(str(arcname or filename), handle.read(), compress_type, compresslevel)


def workbook_bytes(workbook: Workbook, stamp: dt.datetime, creator: str = "clb") -> bytes:
    """The .xlsx bytes of ``workbook``, as made at ``stamp``."""
    workbook.properties.creator = creator
    workbook.properties.created = workbook.properties.modified = stamp
    buffer = io.BytesIO()
    date_time = (
        max(stamp.year, 1980),
        stamp.month,
        stamp.day,
        stamp.hour,
        stamp.minute,
        stamp.second - stamp.second % 2,
    )
    try:
        with _FixedDateZip(buffer, date_time) as archive:
            _Writer(workbook, archive).write_data()
    finally:  # let the streamed rows go now, not whenever the workbook's own cycles are collected
        for sheet in workbook.worksheets:
            if hasattr(sheet, _STREAM):
                delattr(sheet, _STREAM)
    return buffer.getvalue()
