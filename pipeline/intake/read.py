"""The fast reader: a guarded workbook's answers straight from its XML parts.

openpyxl takes 15-21 ms to load a form; this reads the three sheets intake needs in well under a
millisecond, from the parts the guard already inflated. It accepts only a ``Guarded`` (UTF-8 parts with
no DTD or entity declaration, bounded sizes), which is why the C parser is safe here; openpyxl, the
general parser, goes through defusedxml (asserted in ``reference_read``). A differential test holds this
reader to the openpyxl reference on every fixture and every hypothesis case.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from xml.etree.ElementTree import Element, fromstring

from pipeline.intake.guard import Guarded
from pipeline.intake.reading import Cell, CellRaw, Reading, needs_font, parse_reference

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
CUSTOM = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
_COORD = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")
_SHEET_DATA, _ROW, _C, _SI = f"{MAIN}sheetData", f"{MAIN}row", f"{MAIN}c", f"{MAIN}si"
_F, _V, _IS, _T, _R = f"{MAIN}f", f"{MAIN}v", f"{MAIN}is", f"{MAIN}t", f"{MAIN}r"
_INT = re.compile(r"^-?[0-9]{1,15}$")


class UnreadableWorkbook(Exception):
    """A guarded file whose workbook structure cannot be read (broken XML, missing parts)."""


def column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_number(letters: str) -> int:
    number = 0
    for char in letters:
        number = number * 26 + ord(char) - 64
    return number


def read_guarded(guarded: Guarded, sheets_wanted: Iterable[str] | None = None) -> Reading:
    """Read names, properties and the cells of ``sheets_wanted`` (default: every sheet a name points to)."""
    if not isinstance(guarded, Guarded):
        raise TypeError("the fast reader only reads files the guard has passed")
    try:
        return _read(guarded.parts, sheets_wanted)
    except UnreadableWorkbook:
        raise
    except Exception as exc:  # any parse failure in hostile input means "cannot read this workbook"
        raise UnreadableWorkbook(f"{type(exc).__name__}: {exc}") from exc


def _xml(parts: dict[str, bytes], name: str) -> Element | None:
    body = parts.get(name)
    return None if body is None else fromstring(body)


def _read(parts: dict[str, bytes], sheets_wanted: Iterable[str] | None) -> Reading:
    workbook = _xml(parts, "xl/workbook.xml")
    if workbook is None:
        raise UnreadableWorkbook("xl/workbook.xml is missing")
    reading = Reading()
    targets = _sheet_targets(parts)
    sheet_paths: dict[str, str] = {}
    for sheet in workbook.iter(f"{MAIN}sheet"):
        title = sheet.get("name", "")
        reading.sheets.append(title)
        rid = sheet.get(f"{REL}id")
        if rid in targets:
            sheet_paths[title] = targets[rid]
    for defined in workbook.iter(f"{MAIN}definedName"):
        name = defined.get("name", "")
        if defined.get("localSheetId") is not None or name.startswith("_xlnm."):
            continue
        target = parse_reference(defined.text or "")
        if target is not None:
            reading.names[name] = target
    reading.properties = _custom_properties(parts)
    wanted = set(sheets_wanted) if sheets_wanted is not None else {sheet for sheet, _ in reading.names.values()}
    strings: list[str] | None = None
    fonts: _Fonts | None = None
    for title in reading.sheets:
        path = sheet_paths.get(title)
        if title not in wanted or path is None or path not in parts:
            continue
        if strings is None:
            strings = _shared_strings(parts)
            fonts = _Fonts(parts)
        assert fonts is not None
        for coordinate, cell in _cells(fromstring(parts[path]), strings, fonts):
            reading.cells[(title, coordinate)] = cell
    return reading


def _sheet_targets(parts: dict[str, bytes]) -> dict[str, str]:
    rels = _xml(parts, "xl/_rels/workbook.xml.rels")
    targets: dict[str, str] = {}
    if rels is None:
        return targets
    for rel in rels.iter(f"{PKG_REL}Relationship"):
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        targets[rel.get("Id", "")] = path
    return targets


def _custom_properties(parts: dict[str, bytes]) -> dict[str, str]:
    root = _xml(parts, "docProps/custom.xml")
    found: dict[str, str] = {}
    if root is None:
        return found
    for prop in root.iter(f"{CUSTOM}property"):
        value = next(iter(prop), None)
        if value is not None:
            found[prop.get("name", "")] = value.text or ""
    return found


def _text(element: Element) -> str:
    """The text of a string item: its own <t>, or its rich-text runs' <t>, never phonetic guides."""
    pieces = []
    for child in element:
        if child.tag == _T:
            pieces.append(child.text or "")
        elif child.tag == _R:
            pieces.extend(t.text or "" for t in child.iter(_T))
    return "".join(pieces)


def _shared_strings(parts: dict[str, bytes]) -> list[str]:
    root = _xml(parts, "xl/sharedStrings.xml")
    return [] if root is None else [_text(item) for item in root.iter(_SI)]


class _Fonts:
    """Font name by style index, parsed only when a cell's font is actually asked for."""

    def __init__(self, parts: dict[str, bytes]) -> None:
        self._parts = parts
        self._by_style: list[str | None] | None = None

    def name(self, style: int) -> str | None:
        if self._by_style is None:
            self._by_style = []
            root = _xml(self._parts, "xl/styles.xml")
            if root is not None:
                fonts_el = root.find(f"{MAIN}fonts")
                names = []
                for font in fonts_el if fonts_el is not None else []:
                    element = font.find(f"{MAIN}name")
                    names.append(element.get("val") if element is not None else None)
                xfs = root.find(f"{MAIN}cellXfs")
                for xf in xfs if xfs is not None else []:
                    font_id = int(xf.get("fontId", "0") or 0)
                    self._by_style.append(names[font_id] if 0 <= font_id < len(names) else None)
        if 0 <= style < len(self._by_style):
            return self._by_style[style]
        return self._by_style[0] if self._by_style else None


def _cells(sheet: Element, strings: list[str], fonts: _Fonts) -> Iterable[tuple[str, Cell]]:
    """Every cell of a sheet with its coordinate. Cells may omit their reference (then they follow the
    previous one); the column number is worked out only in that rare case."""
    data = sheet.find(_SHEET_DATA)
    if data is None:
        return
    row_number = 0
    for row in data.iter(_ROW):
        row_number = int(row.get("r") or row_number + 1)
        column: int | None = 0
        letters = ""
        for element in row.iter(_C):
            ref = element.get("r")
            match = _COORD.match(ref) if ref else None
            if match is not None and int(match.group(2)) == row_number:
                coordinate, letters, column = match.group(0), match.group(1), None
            else:
                column = (column_number(letters) if column is None else column) + 1
                coordinate = f"{column_letters(column)}{row_number}"
            value, formula = _value(element, strings)
            font = fonts.name(int(element.get("s") or 0)) if needs_font(value) else None
            yield coordinate, Cell(value, formula, font)


def _value(element: Element, strings: list[str]) -> tuple[CellRaw, bool]:
    kind = element.get("t", "n")
    formula = element.find(_F) is not None
    if kind == "inlineStr":
        inline = element.find(_IS)
        return (_text(inline) if inline is not None else ""), formula
    v = element.find(_V)
    if v is None or v.text is None:
        return None, formula
    text = v.text
    if kind == "s":
        index = int(text)
        return (strings[index] if 0 <= index < len(strings) else None), formula
    if kind == "b":
        return text.strip() in ("1", "true"), formula
    if kind in ("str", "e", "d"):
        return text, formula
    if _INT.match(text):
        return int(text), formula
    return float(text), formula
