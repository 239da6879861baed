"""A form saved as an Excel 97-2003 workbook (.xls): what an old Excel, or "Save as .xls" anywhere, gives.
Its answers and the form's reference survive (the named cells and the hidden data sheet), so it is read
and checked as an .xlsx is, not refused.

The file is an OLE2 container holding a BIFF8 stream. xlrd (the reader pandas uses for .xls, pure Python,
so a hostile file can raise but never abort the process) reads names and cells. Before it loads a sheet,
the guard walks the stream's records itself, bounded by the file's size: a macro project or an Excel 4.0
macro sheet is refused as macros, a password as encrypted, a value record outside the form's area or too
many of them as unsafe; and it notes which cells hold formulas, which xlrd does not say.

Not read here: document properties (the form's reference is read from its data sheet, where the form also
puts it) and fonts (a Wingdings mark reads as the letter it is stored as).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.cells import column_letters, split_coordinate
from pipeline.intake.reading import EMPTY, Cell, CellRaw, Reading, cell_targets
from pipeline.intake.safexml import Guarded, Limits
from pipeline.problems import Code, Problem, problem

_BOF, _EOF, _BOUNDSHEET, _FILEPASS, _FORMULA = 0x0809, 0x000A, 0x0085, 0x002F, 0x0006
_VALUES = {0x0203, 0x0204, 0x00FD, 0x027E, 0x0205, 0x0006, 0x0201, 0x00D6}  # one cell: row, column first
_SPANS = {0x00BD, 0x00BE}  # MULRK, MULBLANK: row, first column, …, last column in the last two bytes
_MACRO_STREAMS = ("_VBA_PROJECT_CUR", "_VBA_PROJECT", "Macros")


@dataclass
class GuardedXls(Guarded):
    """An .xls that passed the guard: xlrd's book, and the cells of each sheet that hold formulas."""

    book: Any = None
    formulas: dict[str, set[tuple[int, int]]] = field(default_factory=dict)


def guard_xls(data: bytes, limits: Limits) -> GuardedXls | Problem:
    """The guard for an OLE2 file that is not encrypted by the container's own scheme."""
    if any(name.encode("utf-16-le") in data for name in _MACRO_STREAMS):
        return problem(Code.MACROS, detail="a macro project in an .xls")
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, logfile=io.StringIO(), on_demand=True, ragged_rows=True)
    except xlrd.XLRDError as exc:
        said = str(exc).casefold()
        if "encrypted" in said:
            return problem(Code.ENCRYPTED)
        if "can't find workbook" in said:
            return problem(Code.NOT_A_WORKBOOK, detail="it is an Office document that is not a workbook (Word?)")
        return problem(Code.NOT_A_WORKBOOK, detail="it is a damaged Excel 97-2003 (.xls) file")
    except Exception:  # any failure on hostile input means the same
        return problem(Code.NOT_A_WORKBOOK, detail="it is a damaged Excel 97-2003 (.xls) file")
    found = _walk(book, limits)
    if isinstance(found, Problem):
        book.release_resources()
        return found
    return GuardedXls(data, {}, {}, book, found)


def _records(mem: bytes, start: int, end: int, most: int) -> list[tuple[int, int, bytes]]:
    """The records of one substream, from its BOF at ``start`` to its EOF: (type, offset, data)."""
    found: list[tuple[int, int, bytes]] = []
    at = start
    while at + 4 <= end and len(found) < most:
        kind, length = struct.unpack_from("<HH", mem, at)
        body = mem[at + 4 : at + 4 + length]
        found.append((kind, at, body))
        at += 4 + length
        if kind == _EOF:
            break
    return found


def _walk(book: Any, limits: Limits) -> dict[str, set[tuple[int, int]]] | Problem:
    mem, base = book.mem, getattr(book, "base", 0)
    end = base + getattr(book, "stream_len", len(mem) - base)
    most = limits.max_elements_per_sheet
    sheets: list[tuple[str, int]] = []
    for kind, _, body in _records(mem, base, end, most):
        if kind == _FILEPASS:
            return problem(Code.ENCRYPTED)
        if kind == _BOUNDSHEET and len(body) >= 6:
            offset, _, sheet_type = struct.unpack_from("<IBB", body)
            if sheet_type in (1, 6):  # an Excel 4.0 macro sheet, a VBA module
                return problem(Code.MACROS, detail="a macro sheet in an .xls")
            sheets.append((_name(body), base + offset))
    formulas: dict[str, set[tuple[int, int]]] = {}
    for name, start in sheets:
        cells = formulas.setdefault(name, set())
        values = 0
        for kind, _, body in _records(mem, start, end, most):
            if len(body) < 4 or not (kind in _VALUES or kind in _SPANS):
                continue
            row, column = struct.unpack_from("<HH", body)
            last = struct.unpack_from("<H", body, len(body) - 2)[0] if kind in _SPANS else column
            values += 1 + max(0, last - column)
            outside = row + 1 > limits.max_row or last + 1 > limits.max_column
            if outside and kind not in (0x0201, 0x00BE):  # a blank, formatted cell is nothing
                place = f"{column_letters(last + 1)}{row + 1}"
                return problem(Code.UNSAFE_FILE, detail=f"a cell far outside the form ({place})")
            if values > limits.max_cells_per_sheet:
                return problem(Code.UNSAFE_FILE, detail=f"more than {limits.max_cells_per_sheet:,} cells on a sheet")
            if kind == _FORMULA:
                cells.add((row, column))
    return formulas


def _name(body: bytes) -> str:
    """A BOUNDSHEET record's sheet name (BIFF8: a short unicode string)."""
    if len(body) < 8:
        return ""
    length, wide = body[6], body[7] & 1
    raw = body[8 : 8 + length * (2 if wide else 1)]
    return raw.decode("utf-16-le" if wide else "latin-1", "replace")


def read_xls(guarded: GuardedXls, wanted: Mapping[str, Collection[str]], follow: Collection[str] = ()) -> Reading:
    """Names and exactly the ``wanted`` cells (by sheet) plus the cells the ``follow`` names point to, as
    the .xlsx readers give them. A cell that is not there reads as empty."""
    book = guarded.book
    reading = Reading(sheets=list(book.sheet_names()))
    for named in book.name_obj_list:
        if named.scope != -1 or named.builtin:
            continue
        try:
            sheet, first_row, last_row, first_column, last_column = named.area2d(clipped=False)
        except Exception:  # a name that is not one cell's reference (a formula, an external one)
            continue
        if last_row - first_row == 1 and last_column - first_column == 1:
            reading.names[named.name] = (sheet.name, f"{column_letters(first_column + 1)}{first_row + 1}")
    try:
        for sheet_name, coordinates in cell_targets(reading, wanted, follow).items():
            sheet = book.sheet_by_name(sheet_name)
            formulas = guarded.formulas.get(sheet_name, set())
            for coordinate in coordinates:
                reading.cells[(sheet_name, coordinate)] = _cell(sheet, coordinate, formulas)
    finally:
        book.release_resources()
    return reading


def _cell(sheet: Any, coordinate: str, formulas: set[tuple[int, int]]) -> Cell:
    row, column = (number - 1 for number in split_coordinate(coordinate))  # xlrd counts from 0
    if row >= sheet.nrows or column >= sheet.row_len(row):
        return EMPTY
    value = _value(sheet.cell(row, column))
    return Cell(None if value == "" else value, (row, column) in formulas)


def _value(cell: Any) -> CellRaw:
    import xlrd

    kind, value = cell.ctype, cell.value
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if kind == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if kind == xlrd.XL_CELL_ERROR:
        return str(xlrd.error_text_from_code.get(value, "#ERR"))
    if kind in (xlrd.XL_CELL_NUMBER, xlrd.XL_CELL_DATE):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 1e15 else number
    return str(value)
