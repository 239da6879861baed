"""What every guard shares, whatever the file's format (.xlsx: guard.py, .ods: ods.py, .xls: xls.py): the
limits, what a file that passed is handed on as, and XML that no parser can be tricked by (UTF-8 only,
judged as a parser judges an encoding; no DTD or entity; lxml told never to load or resolve one)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from lxml import etree
from lxml.etree import _Element as Element

from pipeline.intake.memo import Memo
from pipeline.intake.unzip import Entry, ZipDamaged, ZipUnsupported, compressed, inflate, inflate_raw
from pipeline.problems import Code, Problem, problem

XML_DANGER = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED = re.compile(rb"<\?xml\s[^>]*?\bencoding\s*=\s*([\"'])(.*?)\1", re.DOTALL)
_OTHER_ENCODINGS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
    (b"\x00\x00\x00\x3c", "UTF-32"),
    (b"\x3c\x00\x00\x00", "UTF-32"),
    (b"\x00\x3c", "UTF-16"),  # as expat decides: a NUL first or second byte means UTF-16
    (b"\x3c\x00", "UTF-16"),
    (b"\x4c\x6f\xa7\x94", "EBCDIC"),
)


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
    max_elements_per_sheet: int = 200_000


@dataclass
class Guarded:
    """A file that passed: its bytes, its inflated XML parts by name, and its sheets as the guard parsed
    them (the reader uses these rather than parse them again)."""

    data: bytes
    parts: dict[str, bytes]
    trees: dict[str, Element] = field(default_factory=dict)


def encoding_problem(body: bytes) -> str | None:
    """Why an XML part is not plain UTF-8, judged as an XML parser would judge it (appendix F of the
    XML spec): by its byte-order mark, by the shape of its first four bytes when it has none (UTF-16
    and UTF-32 without a mark are all ASCII bytes and NULs, so a byte search for <!DOCTYPE misses
    them), and by its declaration, whose quotes and spaces may vary. None: it is UTF-8."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    head = body[:4]
    for marks, name in _OTHER_ENCODINGS:
        if head.startswith(marks):
            return f"XML in {name}"
    if b"\x00" in body:
        return "XML holding NUL bytes (UTF-16 or UTF-32)"
    if body.startswith(b"<?xml"):
        declared = _DECLARED.match(body, 0, max(body.find(b"?>"), 0))
        if declared is not None and declared.group(2).lower() not in (b"utf-8", b"utf8"):
            return f"XML in an unexpected encoding ({declared.group(2).decode('ascii', 'replace')[:40]})"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "XML that is not UTF-8"
    return None


def parse_xml(body: bytes) -> Element | None:
    """A guarded part's elements, or None when it is not well-formed XML. Only for parts that passed
    the encoding and DTD checks; the parser is told besides never to load a DTD, resolve an entity or
    touch the network, and keeps libxml2's default depth and size limits. (lxml builds the tree in C and
    makes Python objects only for the elements asked for: a form's five sheets parse and are checked in
    well under half a millisecond, where the standard library's parser took twice that.)"""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
    try:
        return etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return None


_PARSERS = threading.local()  # an lxml parser must not be shared between threads


def inflated(data: bytes, info: Entry) -> bytes | Problem:
    """One part of a guarded zip, inflated (within its declared size, its CRC checked), or why not."""
    try:
        return inflate(data, info)
    except (ZipDamaged, ZipUnsupported) as exc:
        return _refused(info, exc)


def _refused(info: Entry, exc: ZipDamaged | ZipUnsupported) -> Problem:
    """Why a part that cannot be inflated refuses the file."""
    if isinstance(exc, ZipDamaged):
        return problem(Code.NOT_A_WORKBOOK, detail=f"part {info.name} is damaged")
    return problem(Code.UNSAFE_FILE, detail=str(exc))


def xml_part(data: bytes, info: Entry) -> bytes | Problem:
    """An XML part, inflated, that no parser can be tricked by: UTF-8 (``encoding_problem``), with no DTD
    or entity declaration; or the problem that refuses the file. A part stored byte for byte as one that
    passed before (a round's theme, styles, relationships) is that part again (``memo``)."""
    try:
        raw = compressed(data, info)
        key = (info.method, info.size, info.crc, raw)
        known = _PASSED.get(key)
        if known is not None:
            return known
        body = inflate_raw(raw, info)
    except (ZipDamaged, ZipUnsupported) as exc:
        return _refused(info, exc)
    wrong = encoding_problem(body)
    if wrong is not None:
        return problem(Code.UNSAFE_FILE, detail=f"{wrong} in {info.name}")
    if XML_DANGER.search(body):
        return problem(Code.UNSAFE_FILE, detail=f"an XML document type or entity declaration in {info.name}")
    _PASSED.put(key, body, len(raw) + len(body))
    return body


# Parts that passed, by how they are stored: the verdict and the bytes depend on nothing else.
_PASSED: Memo[tuple[int, int, int, bytes], bytes] = Memo(items=64)
