"""The guard's zip reader gives exactly what Python's zipfile gives, and refuses what it cannot vouch for."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.intake.unzip import ZipDamaged, ZipUnsupported, entries, inflate

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz/._-é", min_size=1, max_size=20).filter(
    lambda n: not n.endswith("/")
)


@given(
    st.dictionaries(names, st.binary(max_size=3000), min_size=1, max_size=8),
    st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]),
)
def test_same_parts_as_zipfile(parts, method):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    data = buffer.getvalue()
    found = {entry.name: inflate(data, entry) for entry in entries(data)}
    assert found == parts


def test_lying_sizes_and_crcs_are_caught():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.xml", b"x" * 1000)
    data = bytearray(buffer.getvalue())
    [entry] = entries(bytes(data))
    small = entry._replace(size=10)
    with pytest.raises(ZipDamaged):
        inflate(bytes(data), small)  # never inflates past the declared size
    wrong_crc = entry._replace(crc=entry.crc ^ 1)
    with pytest.raises(ZipDamaged):
        inflate(bytes(data), wrong_crc)
    with pytest.raises(ZipDamaged):
        entries(bytes(data[:-30]))


def test_zip64_and_split_archives_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.xml", b"<a/>")
    data = buffer.getvalue()
    end = data.rfind(b"PK\x05\x06")
    as_zip64 = data[: end + 8] + b"\xff\xff\xff\xff" + data[end + 12 :]  # entry counts say "see zip64"
    with pytest.raises(ZipUnsupported, match="zip64"):
        entries(as_zip64)
    split = data[: end + 4] + b"\x01\x00" + data[end + 6 :]  # this is disk 1 of several
    with pytest.raises(ZipUnsupported, match="several disks"):
        entries(split)
