"""The fast path: build the form once per run, then personalise it by swapping text.

Per leader only four things differ: name, organisation, role and token. The template is the reference
builder's own output with a unique placeholder in each of those places, so the fast path cannot drift
from the reference: a test compares the two part by part. Parts without placeholders are deflated once;
the few with them are re-deflated per leader.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape

from pipeline.forms.reference import FormFields, build_form, personal_lines
from pipeline.forms.zipwrite import Part, deflate, write_zip
from pipeline.instrument import Instrument

PERSONAL = ("name", "organisation", "role", "token")
_MARK = "\u2063clb-{}-placeholder\u2063"  # INVISIBLE SEPARATOR: never in roster text, never escaped


def personal_values(fields: FormFields) -> dict[str, str]:
    """The text each placeholder stands for, exactly as the reference builder writes it."""
    return {
        "name": fields.name,
        "organisation": fields.organisation,
        "role": fields.role or "(not given)",
        "token": fields.token,
    }


@dataclass(frozen=True)
class _Piece:
    """A part that needs personal text: its bytes split around the placeholders."""

    name: str
    chunks: tuple[bytes, ...]
    slots: tuple[str, ...]


class FormTemplate:
    """Built once from the round's shared fields; ``render`` gives one leader's form as bytes.

    The rows that hold personal text are as tall as that text needs, so there is one layout per distinct
    set of row heights (``personal_lines``): nearly every leader shares the first, and a long name or
    organisation costs one more build of the reference form, once per run."""

    def __init__(self, instrument: Instrument, shared: FormFields) -> None:
        self._instrument = instrument
        self._placeholder = dataclasses.replace(
            shared,
            name=_MARK.format("name"),
            organisation=_MARK.format("organisation"),
            role=_MARK.format("role"),
            token=_MARK.format("token"),
        )
        self._layouts: dict[tuple[int, ...], list[Part | _Piece]] = {}

    def _layout(self, lines: tuple[int, ...]) -> list[Part | _Piece]:
        layout = self._layouts.get(lines)
        if layout is not None:
            return layout
        layout = []
        pattern = re.compile("|".join(re.escape(_MARK.format(k)) for k in PERSONAL).encode())
        placeholder = dataclasses.replace(self._placeholder, lines=lines)
        with zipfile.ZipFile(io.BytesIO(build_form(self._instrument, placeholder))) as archive:
            for info in archive.infolist():
                data = archive.read(info)
                if pattern.search(data):
                    pieces = pattern.split(data)
                    slots = tuple(m.group().decode("utf-8").split("-")[1] for m in pattern.finditer(data))
                    layout.append(_Piece(info.filename, tuple(pieces), slots))
                else:
                    layout.append(deflate(info.filename, data))
        self._layouts[lines] = layout
        return layout

    def render(self, fields: FormFields) -> bytes:
        values = {key: escape(value).encode("utf-8") for key, value in personal_values(fields).items()}
        parts: list[Part] = []
        for item in self._layout(personal_lines(fields, self._instrument)):
            if isinstance(item, Part):
                parts.append(item)
                continue
            buffer = [item.chunks[0]]
            for slot, chunk in zip(item.slots, item.chunks[1:], strict=True):
                buffer += [values[slot], chunk]
            parts.append(deflate(item.name, b"".join(buffer)))
        return write_zip(parts)
