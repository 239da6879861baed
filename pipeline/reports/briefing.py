"""The partnership briefing: one page partners can put on a board agenda, from the shareable figures alone.

What it may hold is what the shareable CSV holds (``figures.Figure``), this round's and, for movement,
the last round's as it was published; and words that are no one's (the instrument's statements and
practices). So it names no one, and a figure withheld in the CSV is withheld here: the practices "most
letters suggest" are counted from the published counts of the perspectives shown, never from letters.

Written beside the shareable workbook as HTML, and as a PDF where a Chromium browser (Chrome, Edge or
Chromium) is installed: see ``pipeline.pdf``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jinja2 import Environment
from markupsafe import Markup

from pipeline.instrument import Instrument
from pipeline.names import safe_segment
from pipeline.reports.suppress import safe
from pipeline.reports.svg import Bar, bars

TOP_PRACTICES = 3


def briefing_paths(round_id: str) -> tuple[str, str]:
    """The briefing's HTML and PDF, workspace-relative, beside the shareable workbook."""
    stem = f"outbox/reports/{safe_segment(round_id)}/briefing-{safe_segment(round_id)}"
    return f"{stem}.html", f"{stem}.pdf"


@dataclass(frozen=True)
class Row:
    """A perspective as partners see it: its counts per answer, or None where withheld or not published."""

    number: int
    statement: str
    counts: list[int] | None
    published: bool

    @property
    def answered(self) -> int:
        return sum(self.counts) if self.counts else 0


@dataclass(frozen=True)
class Moved:
    number: int
    statement: str
    before: str  # "7 of 12 comfortable (58%)"
    now: str
    change: int  # percentage points, comfortable


@dataclass(frozen=True)
class Suggested:
    number: int
    text: str
    times: int  # answers outside the comfort zone, in the shown perspectives that suggest it
    perspectives: list[int]


def rows_of(instrument: Instrument, counts: Mapping[int, Mapping[str, int]], k: int) -> list[Row]:
    """Each perspective's published counts (``RoundData.published_counts``, or a CSV's), None where the
    disclosure rule withholds them, as the shareable workbook does."""
    keys = [tick.key for tick in instrument.ticks]
    found = []
    for p in instrument.perspectives:
        tally = counts.get(p.number)
        shown = [int(tally.get(key, 0)) for key in keys] if tally is not None else None
        published = tally is not None and sum(shown or []) > 0
        ok = shown is not None and published and safe(shown, k)
        found.append(Row(p.number, p.statement, shown if ok else None, published))
    return found


def comfort(row: Row, comfortable: int) -> int:
    """How many in the row answered inside the comfort zone (the first ``comfortable`` columns)."""
    return sum(row.counts[:comfortable]) if row.counts else 0


def suggested(instrument: Instrument, rows: Sequence[Row], practices: Mapping[int, list[int]]) -> list[Suggested]:
    """The practices the letters suggest most: for each practice, the answers outside the comfort zone in
    the shown perspectives whose suggestions include it (a letter suggests a perspective's practices to
    a leader who answered it so). Counted from the published counts; withheld perspectives count nothing."""
    comfortable = instrument.comfort_columns
    times: dict[int, int] = {}
    where: dict[int, list[int]] = {}
    for row in rows:
        if row.counts is None:
            continue
        outside = row.answered - comfort(row, comfortable)
        for number in practices.get(row.number, []):
            if outside:
                times[number] = times.get(number, 0) + outside
                where.setdefault(number, []).append(row.number)
    text = {practice.number: practice.text for practice in instrument.practices}
    ranked = sorted(times, key=lambda number: (-times[number], number))[:TOP_PRACTICES]
    return [Suggested(number, text.get(number, ""), times[number], where[number]) for number in ranked]


def movement(instrument: Instrument, before: Sequence[Row], now: Sequence[Row]) -> list[Moved]:
    """Per perspective shown in both rounds: the comfortable share then and now."""
    comfortable = instrument.comfort_columns
    then = {row.number: row for row in before}
    moved = []
    for row in now:
        old = then.get(row.number)
        if row.counts is None or old is None or old.counts is None:
            continue
        was, is_ = comfort(old, comfortable) / old.answered, comfort(row, comfortable) / row.answered
        moved.append(
            Moved(
                row.number,
                row.statement,
                f"{comfort(old, comfortable)} of {old.answered} ({was:.0%})",
                f"{comfort(row, comfortable)} of {row.answered} ({is_:.0%})",
                round(is_ * 100) - round(was * 100),
            )
        )
    return moved


def render_briefing(
    templates: Environment,
    instrument: Instrument,
    partnership: str,
    round_id: str,
    rows: Sequence[Row],
    practices: Mapping[int, list[int]],
    whom: str,
    withheld_rule: str,
    closed: str,
    earlier: tuple[str, Sequence[Row]] | None,
    waiting: bool = False,
) -> str:
    """The briefing page. ``whom``: whom the figures count (``data.whom_counted``); ``closed``: the day the
    round closed, or "" while its figures may still change; ``earlier``: the last round with published
    figures, and its rows; ``waiting``: partners' figures wait for the close (a row not published is not
    published *yet*; otherwise it is withheld, as the CSV says)."""
    labels = instrument.short_labels()
    answers = [labels[tick.key][:1].upper() + labels[tick.key][1:] for tick in instrument.ticks]
    comfortable = instrument.comfort_columns
    shown = [row for row in rows if row.counts]
    inside = [row for row in shown if comfort(row, comfortable) * 2 > row.answered]
    outside = [row for row in shown if comfort(row, comfortable) * 2 <= row.answered]
    chart = bars(
        f"How leaders answered, per {instrument.row_noun}",
        [Bar(str(row.number), row.counts if row.published else [0] * len(answers), row.statement) for row in rows],
        answers,
        "briefing-chart",
    )
    return templates.get_template("briefing.html.j2").render(
        instrument=instrument,
        partnership=partnership,
        round=round_id,
        rows=rows,
        answers=answers,
        chart=Markup(chart),
        whom=whom,
        comfortable_words=", ".join(labels[tick.key] for tick in instrument.ticks[:comfortable]),
        inside=inside,
        outside=outside,
        comfortable=comfortable,
        suggested=suggested(instrument, rows, practices),
        earlier_round=earlier[0] if earlier else "",
        moved=movement(instrument, earlier[1], rows) if earlier else [],
        withheld=[row for row in rows if row.counts is None and (row.published or not waiting)],
        unpublished=[row for row in rows if not row.published and waiting],
        waiting=waiting,
        withheld_rule=withheld_rule,
        closed=closed,
    )
