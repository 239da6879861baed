"""A form saved as OpenDocument (.ods): LibreOffice's own format, and Gnumeric's and Google Sheets'
"OpenDocument" download. Its answers are all there: the form's reference (as document properties and
named cells), every tick, the user log. So it is read, not refused, and checked exactly as an .xlsx.

The guard's rules hold for it too (pipeline/intake/guard.py): the zip is judged from its directory before
anything is inflated, only the two parts intake needs (``content.xml``, ``meta.xml``) are inflated, each
must be UTF-8 without a DTD or entity, and a document carrying macros (``Basic/``, ``Scripts/``, or an
event bound to a script) is refused. Rows and cells repeated by count (``number-rows-repeated``,
``number-columns-repeated``: LibreOffice writes a million empty rows as one element) are never expanded:
positions are counted, and a non-empty cell outside the form's area is refused as in an .xlsx.

The reader gives the same ``Reading`` as the .xlsx readers, so ``validate.check_reading`` decides. Fonts
are not looked up (a Wingdings mark in an .ods reads as the letter it is stored as).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from lxml.etree import _Element as Element

from pipeline.cells import column_letters, split_coordinate
from pipeline.formats import suffix_of
from pipeline.intake.reading import EMPTY, Cell, CellRaw, Reading, cell_targets
from pipeline.intake.safexml import Guarded, Limits, inflated, parse_xml, xml_part
from pipeline.intake.unzip import Entry
from pipeline.problems import Code, Problem, problem

SPREADSHEET = b"application/vnd.oasis.opendocument.spreadsheet"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
META = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"
READ = ("content.xml", "meta.xml")
_CELLS = (f"{TABLE}table-cell", f"{TABLE}covered-table-cell")
_ROW, _ROWS = f"{TABLE}table-row", {f"{TABLE}table-rows", f"{TABLE}table-header-rows", f"{TABLE}table-row-group"}
_REPEAT_ROWS, _REPEAT_COLUMNS = f"{TABLE}number-rows-repeated", f"{TABLE}number-columns-repeated"
SPACES = 1000  # the most spaces one <text:s c="…"/> stands for here: a log answer, not a memory bomb
_EPOCH = dt.datetime(1899, 12, 30)  # Excel's serial day 0, as the .xlsx readers report dates


@dataclass
class GuardedOds(Guarded):
    """An .ods that passed the guard: its bytes, and ``content.xml`` and ``meta.xml`` parsed."""


def is_ods(names: Collection[str], data: bytes) -> bool:
    """Whether a zip is an OpenDocument file (of any kind): its ``mimetype`` first, or a ``content.xml``."""
    return suffix_of(data) == ".ods" or "content.xml" in names


def guard_ods(data: bytes, infos: list[Entry], limits: Limits) -> GuardedOds | Problem:
    """The guard for an OpenDocument file whose zip directory already passed the size checks."""
    names = {info.name: info for info in infos}
    kind = inflated(data, names["mimetype"]) if "mimetype" in names else b""
    if isinstance(kind, Problem):
        return kind
    if not kind.strip().startswith(SPREADSHEET):
        words = {b"text": "a text document (.odt)", b"presentation": "a presentation (.odp)"}
        what = next((w for key, w in words.items() if key in kind), "an OpenDocument file that is not a spreadsheet")
        return problem(Code.NOT_A_WORKBOOK, detail=f"it is {what}")
    macro = next((n for n in names if n.startswith(("Basic/", "Scripts/"))), None)
    if macro is not None:
        return problem(Code.MACROS, detail=macro)
    manifest = inflated(data, names["META-INF/manifest.xml"]) if "META-INF/manifest.xml" in names else b""
    if isinstance(manifest, Problem):
        return manifest
    if b"encryption-data" in manifest:
        return problem(Code.ENCRYPTED)
    parts: dict[str, bytes] = {}
    trees: dict[str, Element] = {}
    for name in READ:
        if name not in names:
            return problem(Code.NOT_A_WORKBOOK, detail=f"its {name} is missing")
        body = xml_part(data, names[name])
        if isinstance(body, Problem):
            return body
        root = parse_xml(body)
        if root is None:
            return problem(Code.NOT_A_WORKBOOK, detail=f"its {name} is damaged")
        parts[name], trees[name] = body, root
    content = trees["content.xml"]
    if next(content.iter(f"{OFFICE}event-listeners", "{*}event-listener"), None) is not None:
        return problem(Code.MACROS, detail="an event bound to a script")
    found = _outside_area(content, limits)
    if found:
        return problem(Code.UNSAFE_FILE, detail=f"{found} in content.xml")
    return GuardedOds(data, parts, trees)


def _outside_area(content: Element, limits: Limits) -> str | None:
    """A non-empty cell beyond the form's rows or columns, or a sheet of too many elements."""
    for table in content.iter(f"{TABLE}table"):
        elements = 0
        for row_number, row, rows in _rows(table):
            elements += 1
            for column, cell, width in _row_cells(row):
                elements += 1
                last_row, last_column = row_number + rows - 1, column + width - 1
                if _filled(cell) and (last_row > limits.max_row or last_column > limits.max_column):
                    return f"a cell far outside the form ({column_letters(min(last_column, 16384))}{last_row})"
            if elements > limits.max_elements_per_sheet:
                return f"a sheet of more than {limits.max_elements_per_sheet:,} elements"
    return None


def _repeat(element: Element, attribute: str) -> int:
    try:
        return max(1, int(element.get(attribute) or 1))
    except ValueError:
        return 1


def _rows(table: Element) -> list[tuple[int, Element, int]]:
    """Each row element of a sheet (within row groups and header rows too), with its first row number
    and how many rows it stands for."""
    found: list[tuple[int, Element, int]] = []
    number = 1

    def walk(parent: Element) -> None:
        nonlocal number
        for child in parent:
            if child.tag == _ROW:
                count = _repeat(child, _REPEAT_ROWS)
                found.append((number, child, count))
                number += count
            elif child.tag in _ROWS:
                walk(child)

    walk(table)
    return found


def _row_cells(row: Element) -> list[tuple[int, Element, int]]:
    """Each cell element of a row (covered cells of a merge included: they take a column), with its
    first column number and how many columns it stands for."""
    found, column = [], 1
    for child in row:
        if child.tag in _CELLS:
            count = _repeat(child, _REPEAT_COLUMNS)
            found.append((column, child, count))
            column += count
    return found


def _filled(cell: Element) -> bool:
    return cell.get(f"{OFFICE}value-type") is not None or cell.get(f"{TABLE}formula") is not None or len(cell) > 0


def read_ods(guarded: GuardedOds, wanted: Mapping[str, Collection[str]], follow: Collection[str] = ()) -> Reading:
    """Names, properties, and exactly the ``wanted`` cells (by sheet) plus the cells the ``follow`` names
    point to, as the .xlsx readers give them. A cell that is not there reads as empty."""
    content = guarded.trees["content.xml"]
    reading = Reading(properties=_properties(guarded.trees["meta.xml"]))
    tables: dict[str, Element] = {}
    for table in content.iter(f"{TABLE}table"):
        name = table.get(f"{TABLE}name", "")
        reading.sheets.append(name)
        tables.setdefault(name, table)
    spreadsheet = next(content.iter(f"{OFFICE}spreadsheet"), None)
    if spreadsheet is not None:
        for expressions in spreadsheet.findall(f"{TABLE}named-expressions"):  # the workbook's, not a sheet's
            for named in expressions.findall(f"{TABLE}named-range"):
                target = _address(named.get(f"{TABLE}cell-range-address", ""))
                if target is not None:
                    reading.names[named.get(f"{TABLE}name", "")] = target
    for sheet, coordinates in cell_targets(reading, wanted, follow).items():
        found = _cells(tables[sheet], set(coordinates))
        for coordinate in coordinates:
            reading.cells[(sheet, coordinate)] = found.get(coordinate, EMPTY)
    return reading


def _properties(meta: Element) -> dict[str, str]:
    return {item.get(f"{META}name", ""): item.text or "" for item in meta.iter(f"{META}user-defined")}


def _address(text: str) -> tuple[str, str] | None:
    """ "$'Form data'.$B$5" -> ("Form data", "B5"); None for a range or anything else."""
    text = text.strip().lstrip("$")
    if ":" in text or "." not in text:
        return None
    if text.startswith("'"):
        end = 1
        while True:
            end = text.find("'", end)
            if end < 0:
                return None
            if text[end : end + 2] == "''":
                end += 2
                continue
            break
        sheet, rest = text[1:end].replace("''", "'"), text[end + 1 :]
    else:
        sheet, _, rest = text.partition(".")
        rest = "." + rest
    if not rest.startswith("."):
        return None
    cell = rest[1:].replace("$", "")
    letters = cell.rstrip("0123456789")
    digits = cell[len(letters) :]
    if not (letters.isalpha() and letters.isascii() and 1 <= len(letters) <= 3 and digits.isdigit()):
        return None
    return sheet, f"{letters.upper()}{int(digits)}"


def _cells(table: Element, wanted: set[str]) -> dict[str, Cell]:
    places = {split_coordinate(coordinate): coordinate for coordinate in wanted}  # (row, column) -> "C7"
    found: dict[str, Cell] = {}
    for first, row, count in _rows(table):
        inside = [place for place in places if first <= place[0] < first + count]
        if not inside:
            continue
        for column, cell, width in _row_cells(row):
            for place in inside:
                if column <= place[1] < column + width:
                    found[places[place]] = _cell(cell)
    return found


def _cell(cell: Element) -> Cell:
    formula = cell.get(f"{TABLE}formula") is not None
    value = _value(cell)
    return Cell(None if value == "" else value, formula)


def _value(cell: Element) -> CellRaw:
    kind = cell.get(f"{OFFICE}value-type")
    if kind in ("float", "percentage", "currency"):
        return _number(cell.get(f"{OFFICE}value", ""))
    if kind == "boolean":
        return str(cell.get(f"{OFFICE}boolean-value", "")).strip().lower() == "true"
    if kind == "date":
        return _date(cell.get(f"{OFFICE}date-value", ""))
    if kind == "time":
        return _duration(cell.get(f"{OFFICE}time-value", ""))
    paragraphs = [_text(p) for p in cell if p.tag == f"{TEXT}p"]
    return "\n".join(paragraphs) if paragraphs else None


def _number(text: str) -> CellRaw:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and abs(number) < 1e15 else number


def _date(text: str) -> CellRaw:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    return (moment - _EPOCH).total_seconds() / 86400


def _duration(text: str) -> CellRaw:
    """ "PT12H30M00S" -> 0.5208…, a fraction of a day, as the .xlsx readers give a time."""
    import re

    match = re.fullmatch(r"-?P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", text.strip())
    if match is None:
        return text
    days, hours, minutes, seconds = (float(group or 0) for group in match.groups())
    return days + (hours * 3600 + minutes * 60 + seconds) / 86400


def _text(element: Element) -> str:
    """A paragraph's text as the person typed it: spaces (``text:s``), tabs and line breaks put back, the
    text of spans and links kept."""
    pieces = [element.text or ""]
    for child in element:
        tag = child.tag
        if tag == f"{TEXT}s":
            pieces.append(" " * min(_repeat(child, f"{TEXT}c"), SPACES))
        elif tag == f"{TEXT}tab":
            pieces.append("\t")
        elif tag == f"{TEXT}line-break":
            pieces.append("\n")
        elif tag not in (f"{OFFICE}annotation", f"{TEXT}note"):
            pieces.append(_text(child))
        pieces.append(child.tail or "")
    return "".join(pieces)
