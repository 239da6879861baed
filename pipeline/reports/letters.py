"""Each leader's feedback letter: Steps 1 to 3 of the tool, in their own terms.

The letter is built as plain data (``letter_context``) and rendered with Jinja2 (autoescaped: nothing a
leader typed becomes HTML). Partnership context comes only from the published shareable snapshot and only
where its figure is shown there, so a letter can never say more about partners than the shareable
edition does. A letter is rendered again only when what it is made from changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import css_inline
import yaml
from jinja2 import Environment, Template

from pipeline.colours import css_hex, scheme
from pipeline.instrument import Instrument
from pipeline.reports.data import Answer

if TYPE_CHECKING:
    from pipeline.state import EarlierResponse


class PracticesError(ValueError):
    """config/practices.yaml cannot be used."""


def load_practices(path: Path, instrument: Instrument) -> dict[int, list[int]]:
    """Row -> suggested practice numbers: the instrument's own suggestions, each replaced by
    config/practices.yaml's where that file names the row."""
    defaults = {p.number: list(p.practices) for p in instrument.perspectives}
    if not path.exists():
        return defaults
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    practices = {p.number for p in instrument.practices}
    noun = instrument.row_noun
    if not isinstance(data, dict):
        raise PracticesError("config/practices.yaml: give one line per row number, e.g. '1: [5, 2, 6]'")
    for key, value in data.items():
        if key not in defaults:
            raise PracticesError(f"config/practices.yaml, key {key!r}: not a {noun} number (1 to {len(defaults)})")
        if not isinstance(value, list) or not value or any(item not in practices for item in value):
            raise PracticesError(
                f"config/practices.yaml, key {key}: give a list of practice numbers 1 to {len(practices)}"
            )
    return {number: list(data.get(number, suggested)) for number, suggested in defaults.items()}


class LetterRow(TypedDict):
    number: int
    statement: str
    activity: str
    answer: str  # the column's label, or "not answered"
    key: str  # the column's key, or ""


class LetterStep(TypedDict):
    number: int
    heading: str
    text: str
    shows: str  # "", "zones" or "practices"
    note: str


class Zone(TypedDict):
    """Step 1: one column and the leader's rows answered in it."""

    title: str
    items: list[str]
    key: str


class PracticeItem(TypedDict):
    """Step 2: one row outside the comfort zone and the practices for it."""

    number: int
    statement: str
    lead: str
    practices: list[str]
    context: str | None  # how many partners feel the same, when the shareable edition shows it


class Swatch(TypedDict):
    key: str
    colour: str
    tint: str


class LetterContext(TypedDict):
    """Everything one letter says: what the templates render, and what its inputs hash is made of."""

    name: str
    organisation: str
    partnership: str
    round: str
    date: str
    rows: list[LetterRow]
    row_title: str
    question: str
    activity_heading: str
    steps: list[LetterStep]
    zones: list[Zone]
    mentor: str
    stretch: list[PracticeItem]
    all_comfortable: str
    earlier_round: str | None
    moved: list[str]
    earlier_log: list[dict[str, str]]
    log_labels: dict[str, str]
    copyright: str
    palette: list[Swatch]
    code: str
    title: str


@dataclass(frozen=True)
class Context:
    """The partnership figure for one row and category, when the shareable edition shows it."""

    count: int
    answered: int  # the leaders the figure counts
    so_far: int = 0  # the leaders who have answered the perspective so far (more, until they are counted)


def letter_context(
    answer: Answer,
    instrument: Instrument,
    practices: dict[int, list[int]],
    partnership: str,
    round_id: str,
    today: dt.date,
    shown: dict[tuple[int, str], Context],
    earlier: EarlierResponse | None,
    counted: dict[int, str | None] | None = None,
) -> LetterContext:
    """Everything one letter says, as plain data. ``counted``: the reader's answers as the published
    partnership figures count them (None when their return came after those figures)."""
    labels = {t.key: t.label for t in instrument.ticks}
    rows: list[LetterRow] = [
        {
            "number": p.number,
            "statement": p.statement,
            "activity": p.activity,
            "answer": labels.get(answer.answers.get(p.number) or "", "not answered"),
            "key": answer.answers.get(p.number) or "",
        }
        for p in instrument.perspectives
    ]
    stretch = _practice_items(answer, instrument, practices, partnership, shown, counted)
    calm = all(answer.answers.get(p.number) in instrument.comfort_keys for p in instrument.perspectives)
    colours = scheme(len(instrument.ticks))
    return {
        "name": answer.name,
        "organisation": answer.organisation,
        "partnership": partnership,
        "round": round_id,
        "date": f"{today.day} {today:%B %Y}",
        "rows": rows,
        "row_title": instrument.row_title,
        "question": instrument.question,
        "activity_heading": instrument.activity_heading,
        "steps": [
            {"number": s.number, "heading": s.heading, "text": s.wording("letter"), "shows": s.shows, "note": s.note}
            for s in instrument.steps
        ],
        "zones": _zones(answer, instrument),
        "mentor": instrument.mentor_advice,
        "stretch": stretch,
        "all_comfortable": instrument.all_comfortable if calm and not stretch else "",
        "earlier_round": earlier["round"] if earlier else None,
        "moved": _moved(answer, instrument, earlier),
        "earlier_log": earlier["log"] if earlier else [],
        "log_labels": {c.key: c.label for c in instrument.user_log},
        "copyright": instrument.copyright,
        "palette": [
            {"key": t.key, "colour": css_hex(colour), "tint": css_hex(tint)}
            for t, colour, tint in zip(instrument.ticks, colours.colours, colours.tints, strict=True)
        ],
        "code": instrument.code,
        "title": instrument.title,
    }


def _zones(answer: Answer, instrument: Instrument) -> list[Zone]:
    """Step 1: the leader's rows grouped by their answer, calm to concern."""
    groups: dict[str, list[str]] = {t.key: [] for t in instrument.ticks}
    for p in instrument.perspectives:
        key = answer.answers.get(p.number)
        if key in groups:
            groups[key].append(f"{p.number}. {p.statement}")
    return [{"title": t.zone[:1].upper() + t.zone[1:], "items": groups[t.key], "key": t.key} for t in instrument.ticks]


def _practice_items(
    answer: Answer,
    instrument: Instrument,
    practices: dict[int, list[int]],
    partnership: str,
    shown: dict[tuple[int, str], Context],
    counted: dict[int, str | None] | None,
) -> list[PracticeItem]:
    """The practices to put into play, for each row answered outside the comfort zone, with how many
    partners feel the same there where the shareable edition shows it."""
    by_number = {p.number: p.text for p in instrument.practices}
    answers = instrument.short_labels()
    items: list[PracticeItem] = []
    for p in instrument.perspectives:
        key = answer.answers.get(p.number)
        if key is None or key not in instrument.concern_keys:
            continue
        figure = shown.get((p.number, key))
        activity = p.activity[:1].lower() + p.activity[1:]
        items.append(
            {
                "number": p.number,
                "statement": p.statement,
                "lead": instrument.practice_lead.format(answer=answers[key], activity=activity, statement=p.statement),
                "practices": [by_number[n] for n in practices.get(p.number, []) if n in by_number],
                "context": _context(partnership, figure, answers[key], counted, p.number, key) if figure else None,
            }
        )
    return items


def _moved(answer: Answer, instrument: Instrument, earlier: EarlierResponse | None) -> list[str]:
    """Since the leader's earlier round: each row whose answer changed, "Perspective 2: stretched → comfortable"."""
    if earlier is None:
        return []
    answers = instrument.short_labels()
    moved = []
    for p in instrument.perspectives:
        then, now = earlier["answers"].get(p.number), answer.answers.get(p.number)
        if then in answers and now in answers and then != now:
            moved.append(f"{instrument.row_title} {p.number}: {answers[then]} → {answers[now]}")
    return moved


def _context(
    partnership: str, figure: Context, feeling: str, counted: dict[int, str | None] | None, number: int, key: str
) -> str:
    """How many leaders feel the same here, saying whom the figure counts: never counting the reader among
    "the others", and never hiding that the figure counts fewer leaders than have answered."""
    whom = f"Of the {figure.answered} leaders in {partnership}'s figures"
    if figure.so_far > figure.answered:
        whom += f" ({figure.so_far} have answered so far; the others are not counted yet)"
    if counted is not None and counted.get(number) == key:
        others = figure.count - 1
        also = f"you and {others} other{'s' if others != 1 else ''}" if others else "you alone"
        return f"{whom}, {figure.count} feel {feeling} here: {also}."
    return f"{whom}, {figure.count} feel {feeling} here. Your own answer is not in those figures yet."


LETTER_TEMPLATES = ("letter.html.j2", "letter.txt.j2")


def template_text(templates: Environment, names: tuple[str, ...] = LETTER_TEMPLATES) -> str:
    """The text of the templates (read once per run: it is part of what every letter is made from)."""
    return "".join(templates.loader.get_source(templates, name)[0] for name in names)  # type: ignore[union-attr]


def inputs_hash(context: Mapping[str, object], source: str) -> str:
    """What a letter is made from: its data and the templates' text (``template_text``)."""
    payload = json.dumps(context, sort_keys=True, ensure_ascii=False, default=str) + source
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def letter_templates(templates: Environment) -> tuple[Template, Template]:
    """The letter's web page and plain text templates, looked up once for a run's letters (each lookup
    asks the disk whether the file changed)."""
    html, text = LETTER_TEMPLATES
    return templates.get_template(html), templates.get_template(text)


def render_letter(context: LetterContext, templates: tuple[Template, Template]) -> tuple[str, str]:
    """The letter as a web page and as plain text."""
    html, text = templates
    return html.render(**context), text.render(**context)


def email_html(page: str) -> str:
    """A letter's page as an email's HTML: its CSS inlined, as email clients want it. Made when the
    letter is sent, not stored beside every letter of every night (a file a leader, and the time to
    write it, 0.1 to 1 ms on a laptop's disk)."""
    return css_inline.inline(page)
