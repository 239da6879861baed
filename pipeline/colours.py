"""The one colour scheme for the three answers, in every output: form, workbooks, charts and letters.

Calm to concern, comfortable to a bit panicked: Okabe and Ito's blue, orange and vermilion, which stay
apart for every common colour-vision deficiency. Colour is never the only cue: wherever it appears, the
answer is also written in words or numbers beside it.
"""

from __future__ import annotations

CATEGORY_COLOURS = ("0072B2", "E69F00", "D55E00")  # bars, swatches, the form's column headings
CATEGORY_TINTS = ("8FC1E3", "F5CF7F", "EDA57F")  # cell fills under black text
CATEGORY_INK = ("FFFFFF", "000000", "000000")  # text on the full colour: each at least 4.5:1


def css_hex(colour: str) -> str:
    return f"#{colour.lower()}"
