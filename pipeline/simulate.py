"""What a leader does to a form, done by code: for the demo's simulated returns and the tests' factories.

Values are written into the issued workbook's XML the way a spreadsheet program stores them (text as an
inline string, TRUE as a boolean cell, 1 as a number), leaving everything else byte-for-byte as issued.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape

from pipeline.forms import layout as L
from pipeline.instrument import Instrument

# The sheets a leader types in, by their part in the issued workbook (the same for every instrument:
# they come before the optional practices sheet).
SHEET_PARTS = {
    sheet: f"xl/worksheets/sheet{index}.xml"
    for index, sheet in enumerate([L.COVER_SHEET, L.FORM_SHEET, L.LOG_SHEET], 1)
}


@dataclass(frozen=True)
class Formula:
    """A formula as a spreadsheet program saves it: its text and the value it last showed."""

    text: str
    shown: str


Value = str | bool | int | float | Formula | None


def _cell_xml(coordinate: str, style: str, value: Value) -> str:
    if isinstance(value, Formula):
        return f'<c r="{coordinate}"{style} t="str"><f>{escape(value.text)}</f><v>{escape(value.shown)}</v></c>'
    if value is None:
        return f'<c r="{coordinate}"{style}/>'
    if isinstance(value, bool):
        return f'<c r="{coordinate}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{coordinate}"{style}><v>{value}</v></c>'
    return f'<c r="{coordinate}"{style} t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'


def fill(data: bytes, instrument: Instrument, values: dict[str, Value]) -> bytes:
    """A copy of the issued form ``data`` with input cells (by defined name) set to ``values``."""
    names = L.input_names(instrument)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    for name, value in values.items():
        ref = names[name]
        part = SHEET_PARTS[ref.sheet]
        xml = parts[part].decode("utf-8")
        pattern = re.compile(rf'<c r="{ref.coordinate}"( s="\d+")?(?: t="\w+")?\s*(?:/>|>.*?</c>)', re.S)
        match = pattern.search(xml)
        if match is None:
            raise ValueError(f"{name} ({ref}) is not a cell of this form")
        replacement = _cell_xml(ref.coordinate, match.group(1) or "", value)
        xml = xml[: match.start()] + replacement + xml[match.end() :]
        parts[part] = xml.encode("utf-8")
    return repack(parts)


def repack(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def answers(instrument: Instrument, choices: dict[int, str], mark: Value = "✓") -> dict[str, Value]:
    """Input values that tick ``choices`` (perspective -> tick key) with ``mark``."""
    return {L.tick_name(number, key): mark for number, key in choices.items()}
