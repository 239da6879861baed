"""The facilitator's round page (``outbox/round.html``): where the round stands, what needs them, the
partnership's figures as partners will see them beside their own, and a link to every file of the round.

One static HTML file: no server, no script, nothing fetched, so a double-click opens it anywhere and it
can be printed or kept. It names leaders, so it is written owner-only like everything under outbox/
that is not for partners. This module is pure: the facts come in (``RoundFacts``, gathered by
``pipeline.stages.page`` from the state, as clb status reads it), the page goes out; every text is
escaped by the template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from jinja2 import Environment
from markupsafe import Markup

from pipeline.reports.svg import Bar, bars

PAGE = "outbox/round.html"


@dataclass(frozen=True, slots=True)
class Link:
    """A file of the round: what it is, and where (workspace-relative, forward slashes)."""

    text: str
    path: str


@dataclass(frozen=True, slots=True)
class Person:
    """One roster leader as the page shows them."""

    name: str
    organisation: str
    issued: bool
    state: str  # accepted | waiting | quarantined | outstanding | no form
    invitation: str  # in words: "sent 2026-11-20", "drafted, not sent", "not yet"
    returned: str  # the day their return was accepted, or ""
    last_message: str  # the day of their latest invitation or reminder, or ""
    letter: str  # in words
    links: list[Link] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Need:
    """One thing the facilitator should do: what, and the files to open for it."""

    what: str
    links: list[Link] = field(default_factory=list)


@dataclass(frozen=True)
class Needs:
    heading: str
    how: str  # what to do about them all
    items: list[Need]


@dataclass
class RoundFacts:
    """Everything the page shows, gathered once."""

    partnership: str
    round: str
    today: dt.date
    deadline: dt.date
    closes_on: dt.date
    closed_at: str  # "" while open
    stage_text: str
    people: list[Person]
    totals: dict[str, int]  # clb status's totals, in its words
    needs: list[Needs]
    row_noun: str
    statements: list[tuple[int, str]]  # (number, statement) per row of the instrument
    answers: list[str]  # the answer columns' labels, calm to concern
    facilitator: dict[int, list[int]]  # per row: accepted returns' counts per answer
    partners: dict[int, list[int] | None]  # per row: the published counts, None where withheld; absent: none yet
    partners_note: str  # whom partners' figures count, and when they are published
    withheld_rule: str  # why a figure is withheld
    files: list[Link]  # the workbooks, the briefing, the folders


STATES = ("accepted", "waiting", "quarantined", "outstanding", "no form")
STATE_WORDS = {
    "accepted": "Accepted",
    "waiting": "Waiting for their word",
    "quarantined": "Quarantined",
    "outstanding": "Outstanding",
    "no form": "No form yet",
}


def standing(people: Sequence[Person]) -> list[dict[str, object]]:
    """The round by organisation, then the partnership: leaders, forms issued, returned (anything
    received), and each leader in exactly one of accepted, waiting, quarantined or outstanding."""
    groups: dict[str, list[Person]] = {}
    for person in people:
        groups.setdefault(person.organisation, []).append(person)
    rows = [_count(name, members) for name, members in sorted(groups.items())]
    rows.append(_count("All organisations", list(people)))
    return rows


def _count(group: str, people: list[Person]) -> dict[str, object]:
    counts: dict[str, object] = {"group": group, "leaders": len(people)}
    counts["issued"] = sum(1 for p in people if p.issued)
    counts |= {state: sum(1 for p in people if p.state == state) for state in STATES}
    counts["returned"] = sum(1 for p in people if p.state in ("accepted", "waiting", "quarantined"))
    return counts


def when(facts: RoundFacts) -> str:
    """Days to the deadline, or since the close, in words."""
    if facts.closed_at:
        closed = dt.date.fromisoformat(facts.closed_at[:10])
        days = (facts.today - closed).days
        return f"Closed on {day(closed)}" + (f", {days} day{'s' if days != 1 else ''} ago." if days else ", today.")
    left = (facts.deadline - facts.today).days
    if left > 0:
        return f"{left} day{'s' if left != 1 else ''} to the deadline ({day(facts.deadline)})."
    if left == 0:
        return f"The deadline is today ({day(facts.deadline)})."
    return f"The deadline passed {-left} day{'s' if left != -1 else ''} ago ({day(facts.deadline)})."


def day(date: dt.date) -> str:
    """4 December 2026 (no leading zero, on every system)."""
    return f"{date.day} {date:%B %Y}"


def href(path: str, page: str = PAGE) -> str:
    """``path`` (workspace-relative) as a link from ``page``, each segment percent-encoded: a name with a
    space, '#' or '?' still opens its own file, and the folder can be moved whole. A name that is not
    UTF-8 on disk (its bytes kept as surrogates, or a lone surrogate of a Windows name) links to those."""
    depth = page.count("/")
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogatepass")
    return "../" * depth + quote(raw, safe="/")


def render(facts: RoundFacts, templates: Environment) -> Iterator[str]:
    """The page in the pieces Jinja makes it in, to be written as they come (``files.write_if_changed``)."""
    rows = [number for number, _ in facts.statements]
    about = dict(facts.statements)
    theirs = bars(
        f"Accepted returns, per {facts.row_noun}",
        [Bar(str(n), facts.facilitator.get(n, [0] * len(facts.answers)), about[n]) for n in rows],
        facts.answers,
        "facilitator-chart",
    )
    partners = bars(
        f"Partners' figures, per {facts.row_noun}",
        [Bar(str(n), facts.partners.get(n, [0] * len(facts.answers)), about[n]) for n in rows],
        facts.answers,
        "partners-chart",
    )
    return templates.get_template("round.html.j2").generate(
        facts=facts,
        when=when(facts),
        standing=standing(facts.people),
        states=STATES,
        state_words=STATE_WORDS,
        needs_count=sum(len(group.items) for group in facts.needs),
        facilitator_chart=Markup(theirs),
        partners_chart=Markup(partners),
        href=href,
        made=day(facts.today),
    )
