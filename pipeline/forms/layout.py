"""Where everything sits on the form, in one place.

The defined names are a public contract: returns are read by name, whatever a spreadsheet program did to
the layout. ``LAYOUT_VERSION`` is part of the form version; bump it whenever a cell moves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pipeline.cells import column_letters
from pipeline.instrument import Instrument

LAYOUT_VERSION = "1"

COVER_SHEET = "How to use"
FORM_SHEET = "Self-assessment"
LOG_SHEET = "User log"
PRACTICES_SHEET = "Effective practices"
DATA_SHEET = "Form data"

# Self-assessment sheet
FORM_HEADER_ROW = 6
FIRST_PERSPECTIVE_ROW = 7
TICK_FIRST_COLUMN = 3  # C onwards: one column per answer, then the marks in the row, then its status
OVERALL_ROW = 4

# User log sheet
LOG_HEADER_ROW = 4
LOG_FIRST_ROW = 5
LOG_LINES = 5

# Form data sheet (the second home of the token and version, beside the custom document properties)
DATA_KEYS = ("tool", "round", "token", "form_version")
DATA_FIRST_ROW = 2

# Custom document property names (strings: LibreOffice turns integers into floats)
PROPERTY_NAMES = {
    "tool": "clb_tool",
    "round": "clb_round",
    "token": "clb_token",
    "form_version": "clb_form_version",
}


@dataclass(frozen=True)
class CellRef:
    sheet: str
    row: int
    column: int

    @property
    def coordinate(self) -> str:
        return f"{column_letters(self.column)}{self.row}"

    @property
    def absolute(self) -> str:
        quoted = "'" + self.sheet.replace("'", "''") + "'"
        return f"{quoted}!${column_letters(self.column)}${self.row}"

    def __str__(self) -> str:
        return f"{self.sheet}!{self.coordinate}"


def count_column(instrument: Instrument) -> int:
    """The column counting the marks in a row, just after the answer columns (F for CLB0.01)."""
    return TICK_FIRST_COLUMN + len(instrument.ticks)


def status_column(instrument: Instrument) -> int:
    """The column saying in words whether the row is done (G for CLB0.01)."""
    return count_column(instrument) + 1


def sheet_names(instrument: Instrument) -> list[str]:
    """The form's sheets in order; the practices sheet only for an instrument that has practices."""
    practices = [PRACTICES_SHEET] if instrument.practices else []
    return [COVER_SHEET, FORM_SHEET, LOG_SHEET, *practices, DATA_SHEET]


def perspective_row(number: int) -> int:
    return FIRST_PERSPECTIVE_ROW + number - 1


def tick_name(number: int, key: str) -> str:
    return f"p{number}_{key}"


def log_name(key: str, line: int) -> str:
    return f"log_{key}" if line == 1 else f"log_{key}_{line}"


def input_names(instrument: Instrument) -> dict[str, CellRef]:
    """Every input cell by its defined name: ticks first (p1_comfortable ...), then the user log."""
    names: dict[str, CellRef] = {}
    for perspective in instrument.perspectives:
        for offset, tick in enumerate(instrument.ticks):
            names[tick_name(perspective.number, tick.key)] = CellRef(
                FORM_SHEET, perspective_row(perspective.number), TICK_FIRST_COLUMN + offset
            )
    for line in range(1, LOG_LINES + 1):
        for offset, column in enumerate(instrument.user_log):
            names[log_name(column.key, line)] = CellRef(LOG_SHEET, LOG_FIRST_ROW + line - 1, 1 + offset)
    return names


def data_names() -> dict[str, CellRef]:
    """The token, version, round and tool code on the hidden data sheet, by name (clb_token ...)."""
    return {f"clb_{key}": CellRef(DATA_SHEET, DATA_FIRST_ROW + i, 2) for i, key in enumerate(DATA_KEYS)}


def form_version(instrument: Instrument) -> str:
    """A short hash of the wording and the layout: equal versions mean equal forms."""
    digest = hashlib.sha256(f"{instrument.fingerprint()}|layout-{LAYOUT_VERSION}".encode()).hexdigest()
    return f"{instrument.code}-{digest[:16]}"


def tick_range(instrument: Instrument) -> str:
    last_row = perspective_row(len(instrument.perspectives))
    first = column_letters(TICK_FIRST_COLUMN)
    last = column_letters(TICK_FIRST_COLUMN + len(instrument.ticks) - 1)
    return f"{first}{FIRST_PERSPECTIVE_ROW}:{last}{last_row}"


@dataclass(frozen=True)
class FormSpec:
    """What a returned form must match, worked out once per run rather than once per file."""

    instrument: Instrument
    version: str
    inputs: dict[str, CellRef]
    expected: dict[str, tuple[str, str]]  # defined name -> (sheet, coordinate)
    short_labels: dict[str, str]  # tick key -> the answer in words ("a bit panicked")
    wanted: dict[str, frozenset[str]] = field(default_factory=dict)  # the cells intake reads, by sheet
    follow: frozenset[str] = frozenset()  # names whose cells are read wherever the file points them

    @classmethod
    def of(cls, instrument: Instrument) -> FormSpec:
        inputs = input_names(instrument)
        spec = cls(
            instrument=instrument,
            version=form_version(instrument),
            inputs=inputs,
            expected={name: (ref.sheet, ref.coordinate) for name, ref in inputs.items()},
            short_labels=instrument.short_labels(),
            follow=frozenset([*inputs, *data_names()]),
        )
        object.__setattr__(spec, "wanted", wanted_cells(spec))
        return spec


def wanted_cells(spec: FormSpec) -> dict[str, frozenset[str]]:
    """The cells intake reads, by sheet: every input, the data sheet's values and the perspective wording."""
    wanted: dict[str, set[str]] = {}
    for ref in [*spec.inputs.values(), *data_names().values()]:
        wanted.setdefault(ref.sheet, set()).add(ref.coordinate)
    for perspective in spec.instrument.perspectives:
        row = perspective_row(perspective.number)
        wanted.setdefault(FORM_SHEET, set()).update({f"A{row}", f"B{row}"})
    for offset in range(len(spec.instrument.ticks)):  # the answer columns' headings
        wanted[FORM_SHEET].add(CellRef(FORM_SHEET, FORM_HEADER_ROW, TICK_FIRST_COLUMN + offset).coordinate)
    return {sheet: frozenset(cells) for sheet, cells in wanted.items()}
