"""What a reader gives back: raw cell values by sheet and coordinate, defined names, document properties.

Both readers (the fast one over the guard's parts, and the openpyxl reference used to check it) produce
this shape, so a differential test can compare them exactly.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

CellRaw = str | bool | int | float | None

_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]{1,3})\$?([0-9]{1,7})$")


@dataclass(frozen=True)
class Cell:
    value: CellRaw  # the cached value: what the person saw
    formula: bool = False  # the cell holds a formula
    font: str | None = None  # the font name of the cell's style


EMPTY = Cell(None)


@dataclass
class Reading:
    properties: dict[str, str] = field(default_factory=dict)
    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (sheet, "C7")
    sheets: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)

    def cell(self, sheet: str, coordinate: str) -> Cell:
        return self.cells.get((sheet, coordinate), EMPTY)

    def named(self, name: str) -> Cell | None:
        target = self.names.get(name)
        return None if target is None else self.cell(*target)


WINGDINGS_CANDIDATES = frozenset("üþûýÜÞÛÝ")


def needs_font(value: CellRaw) -> bool:
    """Fonts matter only for Wingdings marks (ü þ are ticks, û ý crosses); readers look no other font up."""
    return isinstance(value, str) and value.strip() in WINGDINGS_CANDIDATES


@functools.lru_cache(maxsize=8192)
def parse_reference(text: str) -> tuple[str, str] | None:
    """ "'Self-assessment'!$C$7" -> ("Self-assessment", "C7"); None for anything but one cell."""
    match = _REF.match(text.strip())
    if match is None:
        return None
    sheet = match.group(1).replace("''", "'") if match.group(1) is not None else match.group(2)
    return sheet, f"{match.group(3)}{int(match.group(4))}"


def normal_value(value: object) -> CellRaw:
    """A value as both readers report it: empty text is empty, dates and times are Excel serial numbers."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        from openpyxl.utils.datetime import to_excel

        return float(to_excel(value))
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def cell_targets(
    reading: Reading, wanted: Mapping[str, Collection[str]], follow: Collection[str]
) -> dict[str, set[str]]:
    """Which cells to read: the wanted ones and the followed names' cells, on sheets the file has."""
    targets = {sheet: set(cells) for sheet, cells in wanted.items() if sheet in reading.sheets}
    for name in follow:
        target = reading.names.get(name)
        if target is not None and target[0] in reading.sheets:
            targets.setdefault(target[0], set()).add(target[1])
    return targets
