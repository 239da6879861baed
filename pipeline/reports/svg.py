"""The pages' charts as inline SVG: horizontal 100% bars, one per row, in the one colour scheme
(``pipeline.colours``), each segment with its count written on it, as the workbooks' charts are.

Inline, so a page needs no file beside it, no script and no network; text, so it prints sharp and scales
at any zoom. Every string is escaped here (a statement or a heading may come from an instrument file).
The chart is an image with a title and a description for screen readers; the page puts the same
figures in a table beside it, so the chart is never the only way to read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from pipeline.colours import css_hex, scheme

WIDTH = 640
LABEL = 44  # the row's label column
TAIL = 76  # "n = 12" after the bar
ROW = 30
BAR = 20
LEGEND = 30
MIN_TEXT = 18  # a segment narrower than this carries no number (the table beside it has them all)


@dataclass(frozen=True)
class Bar:
    """One row of a chart: its label (a perspective's number), the count per answer in column order, or
    None where the figures are withheld, and what the row is, for the description."""

    label: str
    counts: Sequence[int] | None
    about: str = ""


def bars(title: str, rows: Sequence[Bar], answers: Sequence[str], ident: str) -> Markup:
    """The chart of ``rows`` with a legend of ``answers`` (the columns' labels, calm to concern).
    ``ident`` makes the title's and description's ids unique on the page."""
    colours = scheme(len(answers))
    height = LEGEND + ROW * len(rows) + 6
    span = WIDTH - LABEL - TAIL
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-labelledby="{ident}-title {ident}-desc" class="chart" '
        'font-family="Arial, Helvetica, sans-serif" font-size="13">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(describe(rows, answers))}</desc>',
    ]
    x = LABEL
    for key, (label, colour) in enumerate(zip(answers, colours.colours, strict=True)):
        parts.append(
            f'<rect x="{x}" y="6" width="14" height="14" fill="{css_hex(colour)}" stroke="#1b1b1b" stroke-width="0.5"/>'
            f'<text x="{x + 19}" y="18" fill="#1b1b1b">{escape(label)}</text>'
        )
        x += 24 + 7 * len(label) + (8 if key < len(answers) - 1 else 0)
    for index, row in enumerate(rows):
        y = LEGEND + ROW * index
        middle = y + BAR / 2 + 4.5
        parts.append(f'<text x="{LABEL - 8}" y="{middle}" text-anchor="end" fill="#1b1b1b">{escape(row.label)}</text>')
        total = sum(row.counts) if row.counts is not None else 0
        if row.counts is None or not total:
            words = "withheld" if row.counts is None else "no answers yet"
            parts.append(
                f'<rect x="{LABEL}" y="{y}" width="{span}" height="{BAR}" fill="#f2f2f2" stroke="#5a5a5a" '
                f'stroke-dasharray="4 3" stroke-width="0.8"/>'
                f'<text x="{LABEL + 8}" y="{middle}" fill="#3b3b3b" font-style="italic">{words}</text>'
            )
            continue
        left = float(LABEL)
        for count, colour, ink in zip(row.counts, colours.colours, colours.ink, strict=True):
            width = span * count / total
            if width > 0:
                parts.append(
                    f'<rect x="{left:.2f}" y="{y}" width="{width:.2f}" height="{BAR}" fill="{css_hex(colour)}"/>'
                )
                if width >= MIN_TEXT:
                    parts.append(
                        f'<text x="{left + width / 2:.2f}" y="{middle}" text-anchor="middle" font-weight="bold" '
                        f'fill="{css_hex(ink)}">{count}</text>'
                    )
            left += width
        parts.append(f'<text x="{LABEL + span + 8}" y="{middle}" fill="#1b1b1b">n = {total}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def describe(rows: Sequence[Bar], answers: Sequence[str]) -> str:
    """The chart in words: each row's counts, answer by answer."""
    lines = []
    for row in rows:
        name = f"{row.label}. {row.about}" if row.about else row.label
        if row.counts is None:
            lines.append(f"{name}: withheld")
        else:
            said = ", ".join(f"{count} {answer}" for count, answer in zip(row.counts, answers, strict=True))
            lines.append(f"{name}: {said}")
    return "; ".join(lines) + "."
