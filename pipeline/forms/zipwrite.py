"""A minimal zip writer that accepts parts already deflated.

Python's zipfile always compresses what it writes. The fast form path keeps most parts of the template
compressed once and only re-deflates the few that carry personal text, which is what makes issuing 2,000
forms cost milliseconds instead of seconds. Only what an .xlsx needs: deflate, no zip64, no comments.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

# 2013-01-01 00:00 in DOS format: fixed, so the same inputs give the same bytes.
_DOS_TIME = 0
_DOS_DATE = ((2013 - 1980) << 9) | (1 << 5) | 1


@dataclass(frozen=True)
class Part:
    name: str
    crc: int
    size: int
    deflated: bytes


def deflate(name: str, data: bytes, level: int = 6) -> Part:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    packed = compressor.compress(data) + compressor.flush()
    return Part(name=name, crc=zlib.crc32(data), size=len(data), deflated=packed)


def write_zip(parts: list[Part]) -> bytes:
    """The bytes of a zip archive holding ``parts`` in order."""
    out: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for part in parts:
        name = part.name.encode("utf-8")
        header = struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            20,
            0x0800,
            8,
            _DOS_TIME,
            _DOS_DATE,
            part.crc,
            len(part.deflated),
            part.size,
            len(name),
            0,
        )
        out += [header, name, part.deflated]
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0x0800,
                8,
                _DOS_TIME,
                _DOS_DATE,
                part.crc,
                len(part.deflated),
                part.size,
                len(name),
                0,
                0,
                0,
                0,
                0o100644 << 16,
                offset,
            )
            + name
        )
        offset += len(header) + len(name) + len(part.deflated)
    directory = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(directory), offset, 0)
    return b"".join(out) + directory + end
