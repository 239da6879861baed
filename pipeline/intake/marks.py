"""What counts as a tick.

Leaders tick in many ways: the dropdown's ✓, a typed x, TRUE from a checkbox, 1, "yes", a Wingdings ü.
Every one is normalised here once, so the rule "exactly one mark per row" is applied to meanings, not
to characters. Invisible characters that word processors and phones add are stripped first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pipeline.intake.reading import Cell


class Kind(StrEnum):
    TICK = "tick"
    CROSS = "cross"
    EMPTY = "empty"
    UNRECOGNISED = "unrecognised"


TICK_TEXT = frozenset({"✓", "✔", "√", "☑", "✅", "🗸", "yes", "y", "true", "1", "ok"})
CROSS_TEXT = frozenset({"x", "✗", "✘", "×", "☒"})
EMPTY_TEXT = frozenset({"", "false", "0", "no", "-"})
WINGDINGS_TICKS = frozenset({"ü", "þ"})  # Wingdings: ü is ✓, þ is ☑
WINGDINGS_CROSSES = frozenset({"û", "ý"})  # Wingdings: û is ✗, ý is ☒

# no-break and other odd spaces, zero-width characters, the BOM, variation selectors (text and emoji style)
_INVISIBLE = re.compile("[\u00a0\u2007\u202f\u200b-\u200f\u2060-\u2064\ufeff\ufe00-\ufe0f\U000e0100-\U000e01ef]")


@dataclass(frozen=True)
class Mark:
    kind: Kind
    raw: str  # what the cell held, as text, for reports


def normalise_text(text: str) -> str:
    return _INVISIBLE.sub("", text).strip().casefold()


def classify(cell: Cell | None) -> Mark:
    """The meaning of one tick cell's cached value."""
    if cell is None or cell.value is None:
        return Mark(Kind.EMPTY, "")
    value = cell.value
    if isinstance(value, bool):
        return Mark(Kind.TICK if value else Kind.EMPTY, "TRUE" if value else "FALSE")
    if isinstance(value, int | float):
        raw = str(int(value)) if float(value).is_integer() else str(value)
        if value == 1:
            return Mark(Kind.TICK, raw)
        if value == 0:
            return Mark(Kind.EMPTY, raw)
        return Mark(Kind.UNRECOGNISED, raw)
    text = normalise_text(value)
    if cell.font and "wingdings" in cell.font.casefold():
        if text in WINGDINGS_TICKS:
            return Mark(Kind.TICK, value)
        if text in WINGDINGS_CROSSES:
            return Mark(Kind.CROSS, value)
    if text in TICK_TEXT:
        return Mark(Kind.TICK, value)
    if text in CROSS_TEXT:
        return Mark(Kind.CROSS, value)
    if text in EMPTY_TEXT:
        return Mark(Kind.EMPTY, value)
    return Mark(Kind.UNRECOGNISED, value)
