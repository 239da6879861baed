"""Factories for the hostile corpus: every kind of file that is not a filled form, made on demand."""

from __future__ import annotations

import io
import zipfile
import zlib

from pipeline.simulate import repack


def parts_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def old_xls() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2000


def csv_renamed() -> bytes:
    return b"organisation,name,answer\nCouncil,Priya,comfortable\n"


def truncated(form: bytes) -> bytes:
    return form[: len(form) // 2]


def encrypted(form: bytes, password: str = "secret") -> bytes:
    import msoffcrypto.format.ooxml

    source = io.BytesIO(form)
    target = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(source).encrypt(password, target)
    return target.getvalue()


def with_macros(form: bytes) -> bytes:
    parts = parts_of(form)
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0" + b"\x00" * 100
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"sheet.main+xml", b"sheet.macroEnabled.main+xml"
    )
    return repack(parts)


def zip_bomb(inflated_mb: int = 200) -> bytes:
    """A workbook whose one sheet inflates to ``inflated_mb`` MB of spaces (about 200 KB zipped)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b" " * (1 << 20)
    body = b"".join(compressor.compress(chunk) for _ in range(inflated_mb)) + compressor.flush()
    crc = 0
    for _ in range(inflated_mb):
        crc = zlib.crc32(chunk, crc)
    from pipeline.forms.zipwrite import Part, deflate, write_zip

    return write_zip(
        [
            deflate("[Content_Types].xml", b"<Types/>"),
            deflate("xl/workbook.xml", b"<workbook/>"),
            Part("xl/worksheets/sheet1.xml", crc, inflated_mb << 20, body),
        ]
    )


def billion_laughs(form: bytes) -> bytes:
    parts = parts_of(form)
    lol = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;">]>'
    parts["xl/sharedStrings.xml"] = (
        lol + b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol1;</t></si></sst>'
    )
    return repack(parts)


def xxe(form: bytes) -> bytes:
    parts = parts_of(form)
    parts["docProps/custom.xml"] = (
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + parts["docProps/custom.xml"]
    ).replace(b"<vt:lpwstr>CLB0.01</vt:lpwstr>", b"<vt:lpwstr>&x;</vt:lpwstr>")
    return repack(parts)


def utf16_smuggled_doctype(form: bytes) -> bytes:
    parts = parts_of(form)
    parts["docProps/app.xml"] = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY b "c">]><a/>'.encode(
        "utf-16"
    )
    return repack(parts)


def far_cell(form: bytes) -> bytes:
    """The 6.6 KB shape that aborts calamine and fastexcel: a sheet holding A1 and XFD1048576."""
    parts = parts_of(form)
    parts["xl/worksheets/sheet4.xml"] = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
        b"</sheetData></worksheet>"
    )
    return repack(parts)


def many_cells(form: bytes, cells: int = 2_000_000) -> bytes:
    """A sheet with two million cells, all inside a small area (no r attributes)."""
    parts = parts_of(form)
    row = b"<row>" + b"<c><v>1</v></c>" * 1000 + b"</row>"
    parts["xl/worksheets/sheet4.xml"] = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + row * (cells // 1000)
        + b"</sheetData></worksheet>"
    )
    return repack(parts)


def word_document() -> bytes:
    return repack({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<document/>"})


def excel_checkbox_workbook() -> bytes:
    """An Excel 365 workbook with in-cell checkboxes (XlsxWriter's insert_checkbox): unticked holds FALSE."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Self-assessment")
    sheet.insert_checkbox("C7", True)
    sheet.insert_checkbox("D7", False)
    sheet.insert_checkbox("E7", False)
    book.define_name("p1_comfortable", "='Self-assessment'!$C$7")
    book.define_name("p1_stretched", "='Self-assessment'!$D$7")
    book.define_name("p1_panicked", "='Self-assessment'!$E$7")
    book.close()
    return buffer.getvalue()


# ---------------------------------------------------------------- walking round the guard


def self_assessment_part(parts: dict[str, bytes]) -> str:
    """The part holding the Self-assessment sheet (the one intake reads)."""
    return next(name for name, body in parts.items() if name.startswith("xl/worksheets/") and b"p1" in body) or ""


def utf16_without_bom(form: bytes) -> bytes:
    """The form's workbook part in UTF-16 with no byte-order mark, an entity declared and used: every
    byte is below 0x80 and the DOCTYPE is invisible to a byte search because of the NULs."""
    parts = parts_of(form)
    body = parts["xl/workbook.xml"].decode("utf-8")
    body = body.replace('encoding="UTF-8"', 'encoding="UTF-16"').replace(
        "?>", '?><!DOCTYPE w [<!ENTITY n "Self-assessment">]>', 1
    )
    parts["xl/workbook.xml"] = body.encode("utf-16-le")
    return repack(parts)


def declared_encoding(form: bytes) -> bytes:
    """A part declaring another encoding with spaces around '=' and single quotes."""
    parts = parts_of(form)
    parts["docProps/app.xml"] = b"<?xml version='1.0' encoding = 'ISO-8859-1' ?><a>\xe9</a>"
    return repack(parts)


def _far_sheet(form: bytes, cell: bytes) -> dict[str, bytes]:
    parts = parts_of(form)
    parts["xl/worksheets/sheet4.xml"] = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1"><v>1</v></c></row>' + cell + b"</sheetData></worksheet>"
    )
    return parts


def far_cell_single_quotes(form: bytes) -> bytes:
    return repack(_far_sheet(form, b"<row r='1048576'><c r='XFD1048576'><v>1</v></c></row>"))


def far_cell_spaced(form: bytes) -> bytes:
    return repack(_far_sheet(form, b'<row r = "5"><c r = "XFD1048576"><v>1</v></c></row>'))


def far_cell_prefixed(form: bytes) -> bytes:
    parts = parts_of(form)
    parts["xl/worksheets/sheet4.xml"] = (
        b'<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
        b'<x:row r="5"><x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row></x:sheetData></x:worksheet>'
    )
    return repack(parts)


def far_cell_unnumbered(form: bytes) -> bytes:
    """A row of 16,384 cells without references: readers place the last one at XFD."""
    return repack(_far_sheet(form, b'<row r="2">' + b"<c><v>1</v></c>" * 16_384 + b"</row>"))


def far_dimension(form: bytes) -> bytes:
    parts = parts_of(form)
    name = "xl/worksheets/sheet4.xml"
    parts[name] = parts[name].replace(b"<sheetData", b'<dimension ref="A1:XFD1048576"/><sheetData', 1)
    return repack(parts)


def _moved_sheet(form: bytes, new_name: str, cell: bytes) -> bytes:
    """Sheet 4 stored under another name, the workbook's relationship pointing there."""
    parts = parts_of(form)
    old = "xl/worksheets/sheet4.xml"
    parts.pop(old)
    parts[new_name] = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + cell
        + b"</sheetData></worksheet>"
    )
    rels = "xl/_rels/workbook.xml.rels"
    target = new_name.removeprefix("xl/").encode()
    parts[rels] = parts[rels].replace(b"worksheets/sheet4.xml", target)
    types = "[Content_Types].xml"
    parts[types] = parts[types].replace(b"/xl/worksheets/sheet4.xml", b"/" + new_name.encode())
    return repack(parts)


def far_cell_upper_case_name(form: bytes) -> bytes:
    return _moved_sheet(form, "xl/worksheets/SHEET4.XML", b'<row r="9"><c r="XFD1048576"><v>1</v></c></row>')


def far_cell_elsewhere(form: bytes) -> bytes:
    return _moved_sheet(form, "xl/data/numbers.xml", b'<row r="9"><c r="XFD1048576"><v>1</v></c></row>')


def control_part_name(form: bytes) -> bytes:
    """A macro part whose name holds ESC and BEL, stored as a cp437 name (no UTF-8 flag)."""
    parts = parts_of(form)
    parts["xl/\x1b]0;owned\x07\x1b[31mvbaProject.bin"] = b"\xd0\xcf\x11\xe0" + b"\x00" * 100
    return repack(parts)


def noncharacter_part_name(form: bytes) -> bytes:
    """An embedded object whose UTF-8 name holds U+FFFE (it once broke the facilitator workbook)."""
    parts = parts_of(form)
    parts["xl/embeddings/\ufffe\ufffftrick.bin"] = b"x"
    return repack(parts)


def same_crc_and_size(like: bytes, head: bytes) -> bytes:
    """A body of ``like``'s size and CRC-32 that starts with ``head``: a CRC is no proof of bytes. Its
    last 64 bytes are each "a" or "b", chosen by solving the CRC's linear equations over GF(2)."""
    free = 64
    assert len(head) + free <= len(like)
    base = bytearray(head + b" " * (len(like) - len(head) - free) + b"a" * free)
    start, zero = len(base) - free, zlib.crc32(bytes(base))
    rows: list[tuple[int, int]] = []  # (the CRC's change, the positions that make it) in reduced form
    for position in range(free):
        flipped = bytearray(base)
        flipped[start + position] = ord("b")
        change, chosen = zlib.crc32(bytes(flipped)) ^ zero, 1 << position
        for pivot, (row_change, row_chosen) in rows:
            if change & pivot:
                change, chosen = change ^ row_change, chosen ^ row_chosen
        if change:
            pivot = change & -change
            rows = [(p, (c ^ change, s ^ chosen) if c & pivot else (c, s)) for p, (c, s) in rows]
            rows.append((pivot, (change, chosen)))
    want, chosen = zlib.crc32(like) ^ zero, 0
    for pivot, (row_change, row_chosen) in rows:
        if want & pivot:
            want, chosen = want ^ row_change, chosen ^ row_chosen
    assert want == 0, "not enough free bytes to reach that CRC"
    for position in range(free):
        if chosen >> position & 1:
            base[start + position] = ord("b")
    assert zlib.crc32(bytes(base)) == zlib.crc32(like) and len(base) == len(like)
    return bytes(base)
