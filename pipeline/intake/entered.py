"""Answers a facilitator enters for a leader who returned the form on paper, as a scan or typed in an
email (`clb enter`). Qualtrics and SurveyMonkey let an administrator do the same.

The answers are not written into the state directly: they are written into a copy of the leader's own
issued form, which goes into ``inbox/entered/`` and is taken in by the nightly run like any return. So
they pass exactly the same checks, count as that leader's return, replace an earlier one only under the
same rules (and the leader is told), and the form kept in the archive shows what was entered. The intake
marks a return from ``inbox/entered/`` as entered by the facilitator (code ``entered``).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from pipeline.files import atomic_write
from pipeline.forms import layout as L
from pipeline.instrument import Instrument
from pipeline.intake.staging import archive_path
from pipeline.simulate import answers as ticks
from pipeline.simulate import fill

FOLDER = "entered"  # under inbox/


class EntryRefused(ValueError):
    """The answers as typed cannot be entered: the message says what to type instead."""


def parse_answers(instrument: Instrument, text: str) -> dict[int, str]:
    """ "1,2,3,1,1,2,3" or "comfortable,stretched,…" (or a mix) -> perspective number -> tick key: one
    value per row of the form, in order, each the answer column's number or its key."""
    keys = [tick.key for tick in instrument.ticks]
    values = [value.strip() for value in text.replace(";", ",").split(",")]
    rows = len(instrument.perspectives)
    noun = instrument.row_noun
    if len(values) != rows or not all(values):
        raise EntryRefused(
            f"{len([v for v in values if v])} answers given; give one for each of the {rows} {noun}s, in order, "
            f"separated by commas (e.g. {','.join(str(n % len(keys) + 1) for n in range(rows))})"
        )
    found: dict[int, str] = {}
    for perspective, value in zip(instrument.perspectives, values, strict=True):
        if value.isdigit() and 1 <= int(value) <= len(keys):
            found[perspective.number] = keys[int(value) - 1]
        elif value.casefold() in keys:
            found[perspective.number] = value.casefold()
        else:
            raise EntryRefused(
                f"answer {perspective.number}, '{value}', is neither a column number 1-{len(keys)} "
                f"nor one of {', '.join(keys)}"
            )
    return found


def entered_form(issued: bytes, instrument: Instrument, chosen: dict[int, str], log: str = "") -> bytes:
    """A copy of the leader's issued form with ``chosen`` ticked and ``log`` as the first line of the user
    log's first column."""
    values = dict(ticks(instrument, chosen, mark="✓"))
    if log.strip():
        values[L.log_name(instrument.user_log[0].key, 1)] = log.strip()
    return fill(issued, instrument, values)


def write_entry(
    root: Path, form_path: str, instrument: Instrument, chosen: dict[int, str], log: str, when: str
) -> tuple[str, str]:
    """The filled copy of the leader's issued form (``form_path``: outbox/forms/<round>/<organisation>/
    <leader>.xlsx) written into ``inbox/entered/`` as ``<when> <organisation> - <leader> (entered).xlsx``,
    dated a minute ago so the next run does not wait for it to settle: its workspace-relative path and
    sha256."""
    data = entered_form((root / form_path).read_bytes(), instrument, chosen, log)
    form = Path(form_path)
    relative = f"inbox/{FOLDER}/{when} {form.parent.name} - {form.stem} (entered).xlsx"
    atomic_write(root / relative, data)
    settled = time.time() - 60
    os.utime(root / relative, (settled, settled))
    return relative, hashlib.sha256(data).hexdigest()


def keep_source(root: Path, source: Path) -> str:
    """The scan or message the answers were read from, kept in the archive under its sha256 (as every
    return is): evidence of what was entered. Its sha256."""
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    target = root / archive_path(digest)
    if not target.exists():
        atomic_write(target, data)
    return digest
