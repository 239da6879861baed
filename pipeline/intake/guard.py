"""The guard: the only code that touches a returned file's bytes before they are known to be safe.

Everything is checked from the zip's directory before anything is inflated (sizes, ratio, part count),
and parts are inflated with a hard ceiling at their declared size and checked against their CRC
(``unzip``). Only then are the XML parts checked to be UTF-8, judged as an XML parser judges an encoding
(so nothing can hide in UTF-16 without a byte-order mark), and scanned for DTDs and entities. After that
no part can declare or expand an entity, which is what lets the guard and the fast reader use the C XML
parser. Every part that any reader could take for a sheet (through any relationship, content type or
folder) is then parsed, and its cells, rows and size are checked from the parsed elements, whatever the
quoting, namespace prefix or part name: a cell far outside the form aborts calamine. A file that passes
is handed on as its inflated parts, so no parser ever opens the zip itself: a hostile file never reaches
openpyxl, calamine or fastexcel, which may hang or abort the process.
"""

from __future__ import annotations

import functools
import posixpath
import re
from urllib.parse import unquote

from lxml.etree import _Element as Element

from pipeline.cells import column_letters, column_number
from pipeline.formats import OLE_MAGIC, ZIP_MAGIC
from pipeline.intake.memo import Memo
from pipeline.intake.safexml import Guarded, Limits, parse_xml, xml_part
from pipeline.intake.unzip import ZipDamaged, ZipUnsupported, entries
from pipeline.problems import Code, Problem, problem

_LOOSE_CELL = re.compile(r"^\s*\$?([A-Za-z]{1,10})\$?([0-9]{1,12})\s*$")
_SHEET_CONTENT = ("worksheet", "chartsheet", "dialogsheet", "macrosheet")
_SHEET_TYPES = {"worksheet", "chartsheet", "dialogsheet", "xlmacrosheet", "xlintlmacrosheet"}


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def describe_non_zip(data: bytes) -> str:
    """What a file that is not a zip most likely is, in a facilitator's words."""
    if not data:
        return "the file is empty"
    head = data[:512].lstrip()
    if head.startswith(b"%PDF"):
        return "it is a PDF document"
    if head[:5].lower() in (b"<html", b"<!doc") or head[:1] == b"<":
        return "it is a web page or XML file, not a workbook"
    if b"," in head or b";" in head or b"\t" in head:
        try:
            head.decode("utf-8")
            return "it is a text file (perhaps a CSV export), not the form"
        except UnicodeDecodeError:
            pass
    if data.startswith(b"PK"):
        return "it is a damaged zip file"
    return "the file's contents are not a workbook"


DEFAULT_LIMITS = Limits()


def guard(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Guarded | Problem:
    """Return the inflated parts of a safe .xlsx (or a safe .ods or .xls: pipeline/intake/ods.py, xls.py),
    or the one problem that stops it."""
    if len(data) > limits.max_file:
        return problem(Code.TOO_LARGE, detail=f"{_size(len(data))} (the limit is {_size(limits.max_file)})")
    if data.startswith(OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in data or b"EncryptedPackage" in data:
            return problem(Code.ENCRYPTED)
        from pipeline.intake.xls import guard_xls

        return guard_xls(data, limits)
    if not data.startswith(ZIP_MAGIC):
        return problem(Code.NOT_A_WORKBOOK, detail=describe_non_zip(data))
    try:
        infos = entries(data)
    except ZipDamaged:
        return problem(Code.NOT_A_WORKBOOK, detail="it is a damaged or incomplete zip file")
    except ZipUnsupported as exc:
        return problem(Code.UNSAFE_FILE, detail=str(exc))
    if len(infos) > limits.max_parts:
        return problem(Code.UNSAFE_FILE, detail=f"{len(infos)} parts inside (a form has about 12)")
    names = [info.name for info in infos]
    if len(set(names)) != len(names):
        return problem(Code.UNSAFE_FILE, detail="two parts with the same name")
    total = 0
    for info in infos:
        if info.encrypted:
            return problem(Code.ENCRYPTED)
        if info.size > limits.max_part:
            return problem(Code.UNSAFE_FILE, detail=f"a part inflating to {_size(info.size)} ({info.name})")
        if info.size > limits.ratio_floor and info.size > limits.max_ratio * max(info.compressed, 1):
            ratio = info.size // max(info.compressed, 1)
            return problem(Code.UNSAFE_FILE, detail=f"a zip bomb (part {info.name} compressed {ratio}:1)")
        total += info.size
    if total > limits.max_total:
        return problem(Code.UNSAFE_FILE, detail=f"{_size(total)} once unpacked")
    if "xl/workbook.xml" not in names:
        from pipeline.intake.ods import guard_ods, is_ods

        if is_ods(names, data):
            return guard_ods(data, infos, limits)
        detail = "it is a zip file that is not an Excel workbook"
        if "word/document.xml" in names:
            detail = "it is a Word document"
        return problem(Code.NOT_A_WORKBOOK, detail=detail)
    macro = next(
        (n for n in names if n.lower().endswith("vbaproject.bin") or n.lower().startswith("xl/macrosheets/")),
        None,
    )
    if macro is not None:
        return problem(Code.MACROS, detail=macro)
    embedded = next((n for n in names if n.lower().startswith(("xl/embeddings/", "xl/activex/"))), None)
    if embedded is not None:
        return problem(Code.UNSAFE_FILE, detail=f"an embedded object ({embedded})")

    parts: dict[str, bytes] = {}
    for info in infos:
        if not info.name.lower().endswith((".xml", ".rels", ".vml")):
            continue  # images, printer settings: never parsed
        body = xml_part(data, info)
        if isinstance(body, Problem):
            return body
        parts[info.name] = body
    if "macroEnabled" in parts.get("[Content_Types].xml", b"").decode("utf-8", "replace"):
        return problem(Code.MACROS, detail="a macro-enabled workbook (.xlsm)")
    trees: dict[str, Element] = {}
    for name in sorted(_sheet_parts_seen(parts)):
        body = parts[name]
        if _SAFE_SHEETS.get((body, limits)):
            continue  # byte for byte a sheet already checked under these limits (the blank log, the practices)
        found, tree = _outside_area(body, limits)
        if found:
            return problem(Code.UNSAFE_FILE, detail=f"{found} in {name}")
        if tree is not None:
            trees[name] = tree
            _SAFE_SHEETS.put((body, limits), True, len(body))
    return Guarded(data, parts, trees)


# Most of a form's structure is the same in every return of a round (``memo``): the sheets nobody types
# in, and which parts are sheets, are worked out once for the same bytes.
_SAFE_SHEETS: Memo[tuple[bytes, Limits], bool] = Memo()
_STRUCTURES: Memo[tuple[tuple[str, ...], tuple[bytes, ...]], frozenset[str]] = Memo()


def _sheet_parts_seen(parts: dict[str, bytes]) -> frozenset[str]:
    """``sheet_parts``, remembered by the part names and the bytes of the parts it reads."""
    names = tuple(parts)
    structure = tuple(body for name, body in parts.items() if _structural(name))
    key = (names, structure)
    found = _STRUCTURES.get(key)
    if found is None:
        found = frozenset(sheet_parts(parts))
        _STRUCTURES.put(key, found, sum(map(len, structure)))
    return found


def _structural(name: str) -> bool:
    folded = name.casefold()
    return folded.endswith(".rels") or folded == "[content_types].xml"


def sheet_parts(parts: dict[str, bytes]) -> set[str]:
    """Every part some reader could take for a sheet: each target of a sheet relationship in any .rels
    part (resolved as readers resolve it, any case), each part typed as a sheet in [Content_Types].xml,
    and each part under xl/worksheets/. Only parts present can be parsed, so only those are returned."""
    by_folded = {name.casefold(): name for name in parts}
    wanted: set[str] = set()

    def add(target: str) -> None:
        target = target.lstrip("/")
        for candidate in (target, unquote(target)):
            name = by_folded.get(candidate.casefold())
            if name is not None:
                wanted.add(name)

    for name, body in parts.items():
        folded = name.casefold()
        if folded.startswith(("xl/worksheets/", "xl/chartsheets/")):
            wanted.add(name)
        if folded.endswith(".rels"):
            root = parse_xml(body)
            if root is None:
                continue
            source = posixpath.dirname(posixpath.dirname(name))  # "xl/_rels/workbook.xml.rels" -> "xl"
            for element in root.iter("{*}Relationship"):
                target, kind = element.get("Target"), element.get("Type", "")
                if target and kind.rsplit("/", 1)[-1].casefold() in _SHEET_TYPES:
                    add(target if target.startswith("/") else posixpath.normpath(posixpath.join(source, target)))
        elif folded == "[content_types].xml":
            root = parse_xml(body)
            for element in [] if root is None else root.iter("{*}Override"):
                kind = element.get("ContentType", "").casefold()
                if any(word in kind for word in _SHEET_CONTENT) and element.get("PartName"):
                    add(element.get("PartName", ""))
    return wanted


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _outside_area(sheet: bytes, limits: Limits) -> tuple[str | None, Element | None]:
    """A cell, row or sheet size outside the form's area, read from the parsed elements (any prefix,
    any quoting, any namespace: readers such as calamine match local names), or too many elements;
    with the parsed sheet, which the reader then uses as it is."""
    if sheet.count(b"<") > limits.max_elements_per_sheet:
        return f"{sheet.count(b'<'):,} XML elements (a form has a few hundred)", None
    root = parse_xml(sheet)
    if root is None:
        return None, None  # not well-formed: no reader can take a cell from it, and the reader says why
    # lxml filters the elements in C by local name, in any namespace or none
    references = [cell.get("r") for cell in root.iter("{*}c")]
    if len(references) > limits.max_cells_per_sheet:
        return f"{len(references):,} cells (a form has a few hundred)", None
    if None in references or _prefixed_r(sheet):
        # a cell placed by counting, or a reference in a namespaced attribute: walk row by row
        found = _walk_rows(root, limits)
        if found:
            return found, None
    for where in set(references):
        place = _position(where) if where is not None else None
        if place is not None and (place[0] > limits.max_column or place[1] > limits.max_row):
            return f"cell {column_letters(place[0])}{place[1]}, far outside the form", None
    for where in {row.get("r") for row in root.iter("{*}row")}:
        if where is not None and _number(where) > limits.max_row:
            return f"row {where.strip()[:20]}, far outside the form", None
    for dimension in root.iter("{*}dimension"):
        for end in (dimension.get("ref") or "").split(":"):
            place = _position(end)
            if place is not None and (place[0] > limits.max_column or place[1] > limits.max_row):
                return f"a sheet size reaching {column_letters(place[0])}{place[1]}", None
    return None, root


def _prefixed_r(sheet: bytes) -> bool:
    """Whether any attribute could be a namespaced r ("x:r="): it only chooses the slower walk below,
    every check reads parsed elements. (A plain byte search: a regex here cost a third of a millisecond.)"""
    at = sheet.find(b":r")
    while at >= 0:
        if sheet[at - 5 : at] != b"xmlns" and sheet[at + 2 : at + 3] in (b"=", b" ", b"\t", b"\n", b"\r"):
            return True
        at = sheet.find(b":r", at + 2)
    return False


def _walk_rows(root: Element, limits: Limits) -> str | None:
    """Every cell's place as a reader works it out: its reference, in any attribute whose local name is
    r, or one column after the cell before it in its row."""
    for row in root.iter("{*}row"):
        where = _attribute(row, "r")
        if where is not None and _number(where) > limits.max_row:
            return f"row {where.strip()[:20]}, far outside the form"
        column = 0
        for cell in row.iter("{*}c"):
            reference = _attribute(cell, "r")
            place = _position(reference) if reference is not None else None
            column = place[0] if place is not None else column + 1
            if column > limits.max_column or (place is not None and place[1] > limits.max_row):
                return f"cell {column_letters(column)}{place[1] if place else ''}, far outside the form"
    return None


@functools.lru_cache(maxsize=4096)
def _position(reference: str) -> tuple[int, int] | None:
    """(column, row) of a cell reference as a lenient reader takes it ("XFD1048576", " $c$7 ")."""
    match = _LOOSE_CELL.match(reference)
    if match is None:
        return None
    return column_number(match.group(1).upper()), int(match.group(2))


def _attribute(element: Element, name: str) -> str | None:
    """The attribute ``name`` (unprefixed, or else in any namespace): the farther of the two counts."""
    values = [value for key, value in element.attrib.items() if _local(key) == name]
    places = [(_position(value) or (0, 0), value) for value in values]
    return max(places)[1] if places else None


def _number(text: str) -> float:
    """A row number as the most lenient reader takes it ("7", " 7 ", "7.0", "1e6"); 0 if none."""
    try:
        value = float(text)
    except ValueError:
        return 0
    return value if value == value else 0
