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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
import yaml
from jinja2 import Environment

from pipeline.colours import CATEGORY_COLOURS, CATEGORY_TINTS, css_hex
from pipeline.instrument import Instrument
from pipeline.reports.data import Answer

DEFAULT_PRACTICES = {1: [5, 2, 6], 2: [1, 3, 4], 3: [7, 3, 6], 4: [4, 7, 3], 5: [1, 2, 5], 6: [1, 3, 2], 7: [6, 2, 5]}


class PracticesError(ValueError):
    """config/practices.yaml cannot be used."""


def load_practices(path: Path, instrument: Instrument) -> dict[int, list[int]]:
    """Perspective -> suggested practice numbers, from config/practices.yaml (or the defaults)."""
    if not path.exists():
        return DEFAULT_PRACTICES
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    perspectives = {p.number for p in instrument.perspectives}
    practices = {p.number for p in instrument.practices}
    mapping: dict[int, list[int]] = {}
    for key, value in data.items():
        if key not in perspectives:
            raise PracticesError(
                f"config/practices.yaml, key {key!r}: not a perspective number (1 to {len(perspectives)})"
            )
        if not isinstance(value, list) or not value or any(item not in practices for item in value):
            raise PracticesError(
                f"config/practices.yaml, key {key}: give a list of practice numbers 1 to {len(practices)}"
            )
        mapping[key] = value
    return {number: mapping.get(number, DEFAULT_PRACTICES.get(number, [])) for number in sorted(perspectives)}


@dataclass(frozen=True)
class Context:
    """The partnership figure for one perspective and category, when the shareable edition shows it."""

    count: int
    answered: int


def letter_context(
    answer: Answer,
    instrument: Instrument,
    practices: dict[int, list[int]],
    partnership: str,
    round_id: str,
    today: dt.date,
    shown: dict[tuple[int, str], Context],
    earlier: dict[str, Any] | None,
    counted: dict[int, str | None] | None = None,
) -> dict[str, Any]:
    """Everything one letter says, as plain data. ``counted``: the reader's answers as the published
    partnership figures count them (None when their return came after those figures)."""
    labels = {t.key: t.label for t in instrument.ticks}
    zones = {t.key: t.zone for t in instrument.ticks}
    by_number = {p.number: p.text for p in instrument.practices}
    rows = []
    groups: dict[str, list[str]] = {t.key: [] for t in instrument.ticks}
    steps3 = []
    for p in instrument.perspectives:
        key = answer.answers.get(p.number)
        rows.append(
            {
                "number": p.number,
                "statement": p.statement,
                "activity": p.activity,
                "answer": labels.get(key or "", "not answered"),
                "key": key or "",
            }
        )
        if key:
            groups[key].append(f"{p.number}. {p.statement}")
        if key in ("stretched", "panicked"):
            figure = shown.get((p.number, key))
            steps3.append(
                {
                    "number": p.number,
                    "statement": p.statement,
                    "activity": p.activity,
                    "feeling": labels[key],
                    "practices": [by_number[n] for n in practices.get(p.number, [])],
                    "context": _context(partnership, figure, labels[key], counted, p.number, key) if figure else None,
                }
            )
    moved = []
    if earlier is not None:
        for p in instrument.perspectives:
            then, now = earlier["answers"].get(p.number), answer.answers.get(p.number)
            if then and now and then != now:
                moved.append(
                    f"Perspective {p.number}: {labels[then].removeprefix('I would feel ')} → "
                    f"{labels[now].removeprefix('I would feel ')}"
                )
    return {
        "name": answer.name,
        "organisation": answer.organisation,
        "partnership": partnership,
        "round": round_id,
        "date": f"{today.day} {today:%B %Y}",
        "rows": rows,
        "zones": [
            {"title": zones[t.key][:1].upper() + zones[t.key][1:], "items": groups[t.key], "key": t.key}
            for t in instrument.ticks
        ],
        "step1": instrument.steps[0].wording("letter"),
        "step2": instrument.steps[1].wording("letter"),
        "step3": instrument.steps[2].wording("letter"),
        "mentor": instrument.mentor_advice,
        "stretch": steps3,
        "all_comfortable": not steps3
        and all(answer.answers.get(p.number) == "comfortable" for p in instrument.perspectives),
        "earlier_round": earlier["round"] if earlier else None,
        "moved": moved,
        "earlier_log": earlier["log"] if earlier else [],
        "log_labels": {c.key: c.label for c in instrument.user_log},
        "copyright": instrument.copyright,
        "palette": [
            {"key": t.key, "colour": css_hex(colour), "tint": css_hex(tint)}
            for t, colour, tint in zip(instrument.ticks, CATEGORY_COLOURS, CATEGORY_TINTS, strict=True)
        ],
        "code": instrument.code,
        "title": instrument.title,
    }


def _context(
    partnership: str, figure: Context, label: str, counted: dict[int, str | None] | None, number: int, key: str
) -> str:
    """How many other leaders feel the same here: never counting the reader among "the others"."""
    feeling = label.removeprefix("I would feel ")
    if counted is not None and counted.get(number) == key:
        others = figure.count - 1
        who = f"{others} other leader{'s' if others != 1 else ''}"
        return (
            f"In {partnership}, {who} of the {figure.answered} in the latest partnership figures (you among "
            f"them) would also feel {feeling} here."
        )
    return (
        f"In {partnership}, {figure.count} of the {figure.answered} leaders in the latest partnership figures "
        f"would also feel {feeling} here (those figures do not include this answer of yours yet)."
    )


LETTER_TEMPLATES = ("letter.html.j2", "letter.txt.j2")


def template_text(templates: Environment, names: tuple[str, ...] = LETTER_TEMPLATES) -> str:
    """The text of the templates (read once per run: it is part of what every letter is made from)."""
    return "".join(templates.loader.get_source(templates, name)[0] for name in names)  # type: ignore[union-attr]


def inputs_hash(context: dict[str, Any], source: str) -> str:
    """What a letter is made from: its data and the templates' text (``template_text``)."""
    payload = json.dumps(context, sort_keys=True, ensure_ascii=False, default=str) + source
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def render_letter(context: dict[str, Any], templates: Environment) -> tuple[str, str, str]:
    """The letter as a web page, the same with its CSS inlined for email clients, and as plain text."""
    page = templates.get_template("letter.html.j2").render(**context)
    return page, css_inline.inline(page), templates.get_template("letter.txt.j2").render(**context)
