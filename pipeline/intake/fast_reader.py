"""The fast reader: the cells intake needs from a guarded workbook, in well under a millisecond.

openpyxl takes 8-21 ms to load a form; this parses only the parts intake needs, from the bytes the guard
already inflated, and decodes only the cells it was asked for. It uses lxml's C parser, which is
safe here because it accepts only a ``Guarded`` file: the guard has refused every DTD and entity
declaration and bounded every size. openpyxl, the general parser, goes through defusedxml (asserted in
``reference_read``). Coordinates are assigned exactly as openpyxl assigns them, and a differential test
holds this reader to the openpyxl reference on every fixture and every hypothesis case.

(python-calamine reads a form faster still, but it drops error values and whitespace-only text and says
nothing of formulas or fonts; with the checks that would need, it was no faster here. It is kept as the
benchmark's baseline, and only ever given guarded files.)
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Collection, Mapping

from lxml.etree import _Element as Element

from pipeline.cells import column_letters, column_number
from pipeline.intake.memo import Memo
from pipeline.intake.ods import GuardedOds, read_ods
from pipeline.intake.reading import (
    EMPTY,
    Cell,
    CellRaw,
    Reading,
    cell_targets,
    needs_font,
    parse_reference,
)
from pipeline.intake.safexml import Guarded, parse_xml
from pipeline.intake.xls import GuardedXls, read_xls

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
CUSTOM = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
_COORD = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")
_LOOSE_COORD = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")
_SHEET_DATA, _ROW, _C, _SI = f"{MAIN}sheetData", f"{MAIN}row", f"{MAIN}c", f"{MAIN}si"
_F, _V, _IS, _T, _R = f"{MAIN}f", f"{MAIN}v", f"{MAIN}is", f"{MAIN}t", f"{MAIN}r"
_INT = re.compile(r"^-?[0-9]{1,15}$")


class UnreadableWorkbook(Exception):
    """A guarded file whose workbook structure cannot be read (broken XML, missing parts)."""


def read_guarded(guarded: Guarded, wanted: Mapping[str, Collection[str]], follow: Collection[str] = ()) -> Reading:
    """Names, properties, and exactly the ``wanted`` cells (by sheet) plus the cells the ``follow`` names
    point to in this file. A cell that is not there reads as empty."""
    if not isinstance(guarded, Guarded):
        raise TypeError("the fast reader only reads files the guard has passed")
    try:
        if isinstance(guarded, GuardedOds):
            return read_ods(guarded, wanted, follow)
        if isinstance(guarded, GuardedXls):
            return read_xls(guarded, wanted, follow)
        reading, paths = _workbook(guarded)
        targets = cell_targets(reading, wanted, follow)
        reading.cells = _tree_cells(guarded, paths, targets)
        return reading
    except UnreadableWorkbook:
        raise
    except Exception as exc:  # any parse failure in hostile input means "cannot read this workbook"
        raise UnreadableWorkbook(f"{type(exc).__name__}: {exc}") from exc


def _xml(guarded: Guarded, name: str) -> Element | None:
    """A part's elements: as the guard parsed them, or parsed now."""
    tree = guarded.trees.get(name)
    if tree is not None:
        return tree
    body = guarded.parts.get(name)
    return None if body is None else _parsed(body, name)


def _parsed(body: bytes, name: str) -> Element:
    root = parse_xml(body)
    if root is None:
        raise UnreadableWorkbook(f"{name} is not well-formed XML")
    return root


def _workbook(parts: Guarded) -> tuple[Reading, dict[str, str]]:
    """Sheets, names and properties, and where each sheet's part is."""
    sheets, names, paths = _structure(parts)
    reading = Reading(sheets=list(sheets), names=dict(names))
    reading.properties = _custom_properties(parts)
    return reading, dict(paths)


_Structure = tuple[tuple[str, ...], dict[str, tuple[str, str]], dict[str, str]]


def _structure(parts: Guarded) -> _Structure:
    """The sheets' titles, the defined names and each sheet's part: a function of the bytes of the
    workbook part and its relationships, the same in a round's every return (``memo``). The reader may
    only change the copies ``_workbook`` makes of it."""
    workbook_bytes = parts.parts.get("xl/workbook.xml")
    rels_bytes = parts.parts.get("xl/_rels/workbook.xml.rels")
    key = (workbook_bytes, rels_bytes)
    known = _STRUCTURES.get(key)
    if known is not None:
        return known
    workbook = _xml(parts, "xl/workbook.xml")
    if workbook is None:
        raise UnreadableWorkbook("xl/workbook.xml is missing")
    sheets: list[str] = []
    names: dict[str, tuple[str, str]] = {}
    targets = _sheet_targets(parts)
    paths: dict[str, str] = {}
    for sheet in workbook.iter(f"{MAIN}sheet"):
        title = sheet.get("name", "")
        sheets.append(title)
        rid = sheet.get(f"{REL}id")
        if rid in targets and title not in paths:
            paths[title] = targets[rid]
    for defined in workbook.iter(f"{MAIN}definedName"):
        name = defined.get("name", "")
        if defined.get("localSheetId") is not None or name.startswith("_xlnm."):
            continue
        target = parse_reference(defined.text or "")
        if target is not None:
            names[name] = target
    found = (tuple(sheets), names, paths)
    _STRUCTURES.put(key, found, len(workbook_bytes or b"") + len(rels_bytes or b""))
    return found


_STRUCTURES: Memo[tuple[bytes | None, bytes | None], _Structure] = Memo()


def _tree_cells(parts: Guarded, paths: dict[str, str], targets: dict[str, set[str]]) -> dict[tuple[str, str], Cell]:
    """The target cells of each sheet; a target the sheet does not hold reads as empty."""
    cells: dict[tuple[str, str], Cell] = {}
    strings = _SharedStrings(parts)
    fonts = _Fonts(parts)
    for sheet, coordinates in targets.items():
        found: dict[str, Cell] = {}
        path = paths.get(sheet)
        tree = _xml(parts, path) if path is not None else None
        if tree is not None:
            found = _cells(tree, strings, fonts, coordinates)
        for coordinate in coordinates:
            cells[(sheet, coordinate)] = found.get(coordinate, EMPTY)
    return cells


def _sheet_targets(parts: Guarded) -> dict[str, str]:
    rels = _xml(parts, "xl/_rels/workbook.xml.rels")
    targets: dict[str, str] = {}
    if rels is None:
        return targets
    for rel in rels.iter(f"{PKG_REL}Relationship"):
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        targets[rel.get("Id", "")] = path
    return targets


def _custom_properties(parts: Guarded) -> dict[str, str]:
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


class _SharedStrings:
    """The shared-string table, each item decoded only when a wanted cell refers to it (LibreOffice puts
    every text of the form there; intake needs a handful)."""

    def __init__(self, parts: Guarded) -> None:
        root = _xml(parts, "xl/sharedStrings.xml")
        self._items = [] if root is None else list(root.iter(_SI))

    def get(self, index: int) -> str | None:
        return _text(self._items[index]) if 0 <= index < len(self._items) else None


class _Fonts:
    """Font name by style index, worked out only when a cell's font is actually asked for, and kept by the
    bytes of the styles part (the same in a round's every return)."""

    def __init__(self, parts: Guarded) -> None:
        self._parts = parts
        self._by_style: tuple[str | None, ...] | None = None

    def name(self, style: int) -> str | None:
        if self._by_style is None:
            self._by_style = _styles_fonts(self._parts)
        if 0 <= style < len(self._by_style):
            return self._by_style[style]
        return self._by_style[0] if self._by_style else None


def _styles_fonts(parts: Guarded) -> tuple[str | None, ...]:
    body = parts.parts.get("xl/styles.xml")
    if body is not None:
        known = _FONTS.get(body)
        if known is not None:
            return known
    by_style: list[str | None] = []
    root = _xml(parts, "xl/styles.xml")
    if root is not None:
        fonts_el = root.find(f"{MAIN}fonts")
        names = []
        for font in fonts_el if fonts_el is not None else []:
            element = font.find(f"{MAIN}name")
            names.append(element.get("val") if element is not None else None)
        xfs = root.find(f"{MAIN}cellXfs")
        for xf in xfs if xfs is not None else []:
            font_id = int(xf.get("fontId", "0") or 0)
            by_style.append(names[font_id] if 0 <= font_id < len(names) else None)
    found = tuple(by_style)
    if body is not None:
        _FONTS.put(body, found, len(body))
    return found


_FONTS: Memo[bytes, tuple[str | None, ...]] = Memo(items=8)


def _cells(sheet: Element, strings: _SharedStrings, fonts: _Fonts, wanted: Collection[str]) -> dict[str, Cell]:
    """The wanted cells of a sheet. As in openpyxl: a cell's reference is trusted as written; a cell
    without one follows the previous cell of its row; of two cells at one place, the later is read.
    Cells nobody asked for are never decoded."""
    found: dict[str, Cell] = {}
    data = sheet.find(_SHEET_DATA)
    if data is None:
        return found
    row_number = 0
    for row in data.iter(_ROW):
        row_ref = row.get("r")
        row_number = _row_number(row_ref) if row_ref else row_number + 1
        column = 0
        last_ref = ""
        for element in row.iterchildren(_C):  # lxml picks the cells out in C
            ref = element.get("r")
            if ref:
                coordinate = _canonical(ref)
                last_ref, column = coordinate, -1  # the column is worked out only if a cell without one follows
            else:
                if column < 0:
                    column = column_number(_COORD.match(last_ref).group(1))  # type: ignore[union-attr]
                column += 1
                coordinate = f"{column_letters(column)}{row_number}"
            if coordinate in wanted:
                found[coordinate] = _cell(element, strings, fonts) if len(element) else EMPTY  # no value, no formula
    return found


def _cell(element: Element, strings: _SharedStrings, fonts: _Fonts) -> Cell:
    value, formula = _raw_value(element, strings)
    if value == "":
        value = None
    font = fonts.name(int(element.get("s") or 0)) if needs_font(value) else None
    return Cell(value, formula, font)


def _row_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        number = float(text)
        if not number.is_integer():
            raise
        return int(number)


@functools.lru_cache(maxsize=8192)
def _canonical(ref: str) -> str:
    """ "c07" -> "C7", as openpyxl reads a reference; anything else is not a cell reference at all."""
    match = _LOOSE_COORD.match(ref)
    if match is None:
        raise UnreadableWorkbook(f"{ref!r} is not a cell reference")
    return f"{match.group(1).upper()}{int(match.group(2))}"


def _raw_value(element: Element, strings: _SharedStrings) -> tuple[CellRaw, bool]:
    kind = element.get("t", "n")
    formula, inline, v = False, None, None
    for child in element:  # one pass over a cell's few children (lxml's find() goes through Python)
        tag = child.tag
        if tag == _F:
            formula = True
        elif tag == _V and v is None:
            v = child
        elif tag == _IS and inline is None:
            inline = child
    if kind == "inlineStr":
        return (_text(inline) if inline is not None else ""), formula
    if v is None or v.text is None:
        return None, formula
    text = v.text
    if kind == "s":
        index = int(text)
        return strings.get(index), formula
    if kind == "b":
        return text.strip() in ("1", "true"), formula
    if kind in ("str", "e", "d"):
        return text, formula
    if _INT.match(text):
        return int(text), formula
    return float(text), formula
