"""Which spreadsheet format a file's bytes are, whatever its name says: the intake chooses its reader by
this, and a return sent back to its leader keeps the ending its content has."""

from __future__ import annotations

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE2 container: .xls (or .doc, .msg, an encrypted .xlsx)
ZIP_MAGIC = b"PK\x03\x04"  # a zip: .xlsx, .ods


def suffix_of(data: bytes) -> str:
    """ ".xls", ".ods" or ".xlsx" (the default): an .ods is a zip whose first entry is its ``mimetype``."""
    if data.startswith(OLE_MAGIC):
        return ".xls"
    if data.startswith(ZIP_MAGIC) and data[30:38] == b"mimetype":
        return ".ods"
    return ".xlsx"
