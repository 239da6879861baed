"""The one colour scheme for the answers, in every output: form, workbooks, charts and letters.

Calm to concern: Okabe and Ito's blue, sky blue, yellow, orange and vermilion, which stay apart for
every common colour-vision deficiency; an instrument with fewer answer columns takes the subset that keeps
its ends (blue, then vermilion) and the most distance between neighbours. Colour is never the only cue:
wherever it appears, the answer is also written in words or numbers beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

BLUE, SKY, YELLOW, ORANGE, VERMILION = range(5)
_COLOURS = ("0072B2", "56B4E9", "F0E442", "E69F00", "D55E00")  # bars, swatches, the form's column headings
_TINTS = ("8FC1E3", "BBE0F5", "F8F3B0", "F5CF7F", "EDA57F")  # cell fills under black text
_INK = ("FFFFFF", "000000", "000000", "000000", "000000")  # text on the full colour: each at least 4.5:1
_CHOICE = {
    2: (BLUE, VERMILION),
    3: (BLUE, ORANGE, VERMILION),
    4: (BLUE, SKY, ORANGE, VERMILION),
    5: (BLUE, SKY, YELLOW, ORANGE, VERMILION),
}


@dataclass(frozen=True)
class Scheme:
    """The colours of an instrument's answer columns, in column order."""

    colours: tuple[str, ...]
    tints: tuple[str, ...]
    ink: tuple[str, ...]


def scheme(answers: int) -> Scheme:
    """The colours for ``answers`` columns (2 to 5, as the instrument allows)."""
    chosen = _CHOICE[answers]
    return Scheme(tuple(_COLOURS[i] for i in chosen), tuple(_TINTS[i] for i in chosen), tuple(_INK[i] for i in chosen))


def css_hex(colour: str) -> str:
    return f"#{colour.lower()}"
