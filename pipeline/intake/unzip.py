"""Reading a zip's directory and inflating its parts, for the guard only.

Python's zipfile is general and careful, and its per-part overhead is most of what the guard spends on a
16 KB form. An .xlsx needs far less: one disk, no zip64, deflate or stored, no encryption. Anything else
is refused as damaged or unsafe before a byte is inflated, and every part is inflated with a hard
ceiling at its declared size, then checked against its CRC.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

from pipeline.text import visible

_EOCD = b"PK\x05\x06"
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<I22xHH")  # signature; version, flags, method, time, date, CRC, sizes skipped; name, extra
_END = struct.Struct("<IHHHHIIH")


class ZipDamaged(Exception):
    """The zip is incomplete or inconsistent."""


class ZipUnsupported(Exception):
    """A zip feature an .xlsx never uses (zip64, several disks, an unusual compression)."""


class Entry(NamedTuple):  # a tuple: a form's 14 are made in microseconds, where a frozen dataclass took 20
    name: str  # made visible: a hostile name may hold controls, and it is quoted in reasons
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    offset: int

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 0x1)


def entries(data: bytes) -> list[Entry]:
    """The central directory, in order."""
    end = data.rfind(_EOCD, max(0, len(data) - 65_557))
    if end < 0 or end + _END.size > len(data):
        raise ZipDamaged("no end of central directory")
    _, disk, start_disk, on_disk, total, size, offset, _ = _END.unpack_from(data, end)
    if disk or start_disk or on_disk != total:
        raise ZipUnsupported("a zip split over several disks")
    if total == 0xFFFF or offset == 0xFFFFFFFF or size == 0xFFFFFFFF:
        raise ZipUnsupported("a zip64 archive")
    if offset + size > end:
        raise ZipDamaged("the central directory lies outside the file")
    found: list[Entry] = []
    position = offset
    for _ in range(total):
        if position + _CENTRAL.size > end:
            raise ZipDamaged("the central directory is cut short")
        (
            signature,
            _,
            _,
            flags,
            method,
            _,
            _,
            crc,
            compressed,
            usize,
            name_length,
            extra_length,
            comment_length,
            _,
            _,
            _,
            local,
        ) = _CENTRAL.unpack_from(data, position)
        if signature != 0x02014B50:
            raise ZipDamaged("a central directory entry is damaged")
        raw_name = data[position + _CENTRAL.size : position + _CENTRAL.size + name_length]
        name = visible(raw_name.decode("utf-8", "surrogateescape") if flags & 0x800 else raw_name.decode("cp437"))
        found.append(Entry(name, flags, method, crc, compressed, usize, local))
        position += _CENTRAL.size + name_length + extra_length + comment_length
    return found


def inflate(data: bytes, entry: Entry) -> bytes:
    """One part's bytes, never more than its declared size, CRC checked."""
    return inflate_raw(compressed(data, entry), entry)


def compressed(data: bytes, entry: Entry) -> bytes:
    """One part's bytes as stored (its local header checked), not yet inflated."""
    if entry.offset + _LOCAL.size > len(data):
        raise ZipDamaged(f"{entry.name} lies outside the file")
    signature, name_length, extra_length = _LOCAL.unpack_from(data, entry.offset)
    if signature != 0x04034B50:
        raise ZipDamaged(f"the header of {entry.name} is damaged")
    start = entry.offset + _LOCAL.size + name_length + extra_length
    raw = data[start : start + entry.compressed]
    if len(raw) != entry.compressed:
        raise ZipDamaged(f"{entry.name} is cut short")
    return raw


def inflate_raw(raw: bytes, entry: Entry) -> bytes:
    """The stored bytes ``raw`` of ``entry`` inflated, never past its declared size, CRC checked."""
    if entry.method == 0:
        body = raw
    elif entry.method == 8:
        inflater = zlib.decompressobj(-15)
        try:
            body = inflater.decompress(raw, entry.size + 1)
        except zlib.error as exc:
            raise ZipDamaged(f"{entry.name} does not inflate ({exc})") from None
        if not inflater.eof and len(body) <= entry.size:
            raise ZipDamaged(f"{entry.name} is cut short")
    else:
        raise ZipUnsupported(f"{entry.name} uses compression method {entry.method}")
    if len(body) != entry.size or zlib.crc32(body) != entry.crc:
        raise ZipDamaged(f"{entry.name} is not what its directory says")
    return body
