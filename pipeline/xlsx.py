"""Saving an openpyxl workbook so that the same content always gives the same bytes.

openpyxl's save stamps the document properties and every zip entry with the time of saving, so two saves
of one workbook differ whenever they straddle a two-second tick. Forms must be reproducible (the fast
path is proved identical to the reference builder) and the shareable edition must not change between
publications, so both are saved here: the properties carry ``stamp`` and every entry the same date.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter


class _FixedDateZip(zipfile.ZipFile):
    """A zip whose entries all carry one date, whatever the clock says."""

    def __init__(self, file: io.BytesIO, date_time: tuple[int, int, int, int, int, int]) -> None:
        super().__init__(file, "w", zipfile.ZIP_DEFLATED)
        self.date_time = date_time

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):  # type: ignore[no-untyped-def]
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = zipfile.ZipInfo(zinfo_or_arcname, date_time=self.date_time)
            zinfo_or_arcname.compress_type = self.compression
        return super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):  # type: ignore[no-untyped-def]
        """openpyxl writes worksheets from temporary files, whose modification time would be used."""
        with open(filename, "rb") as handle:
            self.writestr(str(arcname or filename), handle.read(), compress_type, compresslevel)


def workbook_bytes(workbook: Workbook, stamp: dt.datetime, creator: str = "clb") -> bytes:
    """The .xlsx bytes of ``workbook``, as made at ``stamp``."""
    workbook.properties.creator = creator
    workbook.properties.created = workbook.properties.modified = stamp
    buffer = io.BytesIO()
    date_time = (
        max(stamp.year, 1980),
        stamp.month,
        stamp.day,
        stamp.hour,
        stamp.minute,
        stamp.second - stamp.second % 2,
    )
    with _FixedDateZip(buffer, date_time) as archive:
        ExcelWriter(workbook, archive).write_data()
    return buffer.getvalue()
