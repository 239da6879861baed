"""The guard: the only code that touches a returned file's bytes before they are known to be safe.

Everything is checked from the zip's directory before anything is inflated (sizes, ratio, part count),
and parts are inflated with a hard ceiling at their declared size and checked against their CRC
(``unzip``). Only then are the XML parts checked to be UTF-8 (so nothing can hide in another encoding) and scanned
for DTDs and entities, and the worksheets for cells outside the form's area. After that no part can
declare or expand an entity, which is what lets the fast reader use the C XML parser. A file that passes
is handed on as its inflated parts, so no parser ever opens the zip itself: a hostile file never reaches
openpyxl, calamine or fastexcel, which may hang or abort the process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.intake.unzip import ZipDamaged, ZipUnsupported, entries, inflate
from pipeline.problems import Problem, problem

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_XML_DANGER = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_CELL_REF = re.compile(rb"<c\b[^>]*?\sr=\"([A-Za-z]{1,3})([0-9]{1,8})\"")
_ROW_REF = re.compile(rb"<row\b[^>]*?\sr=\"([0-9]{1,8})\"")
_CELL_TAG = re.compile(rb"<c[\s/>]")
_DECLARED = re.compile(rb"<\?xml([^>]*?)encoding=[\"']([A-Za-z0-9._-]+)[\"']")


@dataclass(frozen=True)
class Limits:
    """Generous for a filled form (~16 KB zipped, ~120 KB inflated), tiny for an attack."""

    max_file: int = 5 * 1024 * 1024
    max_parts: int = 200
    max_part: int = 4 * 1024 * 1024
    max_total: int = 16 * 1024 * 1024
    max_ratio: float = 100.0  # uncompressed / compressed, for parts over ratio_floor
    ratio_floor: int = 256 * 1024
    max_row: int = 300
    max_column: int = 40  # AN
    max_cells_per_sheet: int = 20_000


@dataclass
class Guarded:
    """A file that passed: its bytes and its inflated XML parts by name."""

    data: bytes
    parts: dict[str, bytes]


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + (char - 64)
    return number


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


def guard(data: bytes, limits: Limits = Limits()) -> Guarded | Problem:
    """Return the inflated parts of a safe .xlsx, or the one problem that stops it."""
    if len(data) > limits.max_file:
        return problem("too-large", detail=f"{_size(len(data))} (the limit is {_size(limits.max_file)})")
    if data.startswith(OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in data or b"EncryptedPackage" in data:
            return problem("encrypted")
        return problem("not-a-workbook", detail="it is an old Excel 97-2003 (.xls) file; save it as .xlsx")
    if not data.startswith(ZIP_MAGIC):
        return problem("not-a-workbook", detail=describe_non_zip(data))
    try:
        infos = entries(data)
    except ZipDamaged:
        return problem("not-a-workbook", detail="it is a damaged or incomplete zip file")
    except ZipUnsupported as exc:
        return problem("unsafe-file", detail=str(exc))
    if len(infos) > limits.max_parts:
        return problem("unsafe-file", detail=f"{len(infos)} parts inside (a form has about 12)")
    names = [info.name for info in infos]
    if len(set(names)) != len(names):
        return problem("unsafe-file", detail="two parts with the same name")
    if "xl/workbook.xml" not in names:
        detail = "it is a zip file that is not an Excel workbook"
        if "word/document.xml" in names:
            detail = "it is a Word document"
        elif "content.xml" in names:
            detail = "it is an OpenDocument file (.ods); save it as .xlsx"
        return problem("not-a-workbook", detail=detail)
    total = 0
    for info in infos:
        if info.encrypted:
            return problem("encrypted")
        if info.size > limits.max_part:
            return problem("unsafe-file", detail=f"a part inflating to {_size(info.size)} ({info.name})")
        if info.size > limits.ratio_floor and info.size > limits.max_ratio * max(info.compressed, 1):
            ratio = info.size // max(info.compressed, 1)
            return problem("unsafe-file", detail=f"a zip bomb (part {info.name} compressed {ratio}:1)")
        total += info.size
    if total > limits.max_total:
        return problem("unsafe-file", detail=f"{_size(total)} once unpacked")
    macro = next(
        (n for n in names if n.lower().endswith("vbaproject.bin") or n.lower().startswith("xl/macrosheets/")),
        None,
    )
    if macro is not None:
        return problem("macros", detail=macro)
    embedded = next((n for n in names if n.lower().startswith(("xl/embeddings/", "xl/activex/"))), None)
    if embedded is not None:
        return problem("unsafe-file", detail=f"an embedded object ({embedded})")

    parts: dict[str, bytes] = {}
    for info in infos:
        if not info.name.lower().endswith((".xml", ".rels", ".vml")):
            continue  # images, printer settings: never parsed
        try:
            body = inflate(data, info)
        except ZipDamaged:
            return problem("not-a-workbook", detail=f"part {info.name} is damaged")
        except ZipUnsupported as exc:
            return problem("unsafe-file", detail=str(exc))
        if body.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                body = body.decode("utf-16").encode("utf-8")
            except UnicodeError:
                return problem("unsafe-file", detail=f"XML that is not valid UTF-16 in {info.name}")
            body = _DECLARED.sub(b'<?xml\\1encoding="UTF-8"', body, count=1)
        declared = _DECLARED.search(body[:200])
        if declared is not None and declared.group(2).lower().replace(b"-", b"") != b"utf8":
            return problem("unsafe-file", detail=f"XML in an unexpected encoding in {info.name}")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return problem("unsafe-file", detail=f"XML that is not UTF-8 in {info.name}")
        if _XML_DANGER.search(body):
            return problem("unsafe-file", detail=f"an XML document type or entity declaration in {info.name}")
        parts[info.name] = body
    if "macroEnabled" in parts.get("[Content_Types].xml", b"").decode("utf-8", "replace"):
        return problem("macros", detail="a macro-enabled workbook (.xlsm)")
    for name, body in parts.items():
        if name.startswith("xl/worksheets/") and name.endswith(".xml"):
            found = _outside_area(body, limits)
            if found:
                return problem("unsafe-file", detail=f"{found} in {name}")
    return Guarded(data, parts)


def _outside_area(sheet: bytes, limits: Limits) -> str | None:
    cells = len(_CELL_TAG.findall(sheet))
    if cells > limits.max_cells_per_sheet:
        return f"{cells:,} cells (a form has a few hundred)"
    refs = _CELL_REF.findall(sheet)
    wide = {column for column in {letters for letters, _ in refs} if _column_number(column) > limits.max_column}
    if wide or (refs and max(int(digits) for _, digits in refs) > limits.max_row):
        column, row = next((c, r) for c, r in refs if c in wide or int(r) > limits.max_row)
        return f"cell {column.decode().upper()}{int(row)}, far outside the form"
    rows = _ROW_REF.findall(sheet)
    if rows and max(int(digits) for digits in rows) > limits.max_row:
        return f"row {max(int(digits) for digits in rows)}, far outside the form"
    return None
