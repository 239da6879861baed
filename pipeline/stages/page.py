"""The facilitator's round page, gathered from the state as clb status reads it and written after every
job that changes what it shows (a night, clb send, clb forms, clb forget, an accept or assign).

The page itself is ``pipeline.reports.round_page`` (pure); this module only reads: the status rows
(``mail.status``), the round's files and the mail log, and the figures ``write_outputs`` made from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Config
from pipeline.files import utf8_blocks, write_if_changed
from pipeline.state import Engine
from pipeline.workspace import Workspace

if TYPE_CHECKING:
    from jinja2 import Environment

    from pipeline.mail.status import LeaderStatus
    from pipeline.reports.data import RoundData
    from pipeline.reports.round_page import Link, Need, Needs, Person, RoundFacts
    from pipeline.state import IssuedForm, MailRecord, QuarantinedProblem


def write_round_page(
    space: Workspace,
    engine: Engine,
    config: Config,
    full: RoundData,
    shareable: RoundData,
    today: dt.date | None = None,
) -> str | None:
    """outbox/round.html made again; written (owner-only, atomically) only when it changed. Its path, or
    None when it was already so. Nothing is gathered when what the page is made of is as it was when it
    was last written (``page_key``): a quiet night costs a few queries, not a page of 2,000 leaders."""
    from pipeline.reports.round_page import PAGE, render
    from pipeline.state import get_meta, set_meta
    from pipeline.templating import environment

    today = today or dt.date.today()
    templates = environment(space.root)
    key = page_key(engine, config, full, today, templates)
    target = space.root / PAGE
    if target.exists() and get_meta(engine, f"round-page:{full.round}") == key:
        return None
    facts = round_facts(space, engine, config, full, shareable, today)
    changed = write_if_changed(target, utf8_blocks(render(facts, templates)))
    set_meta(engine, f"round-page:{full.round}", key)
    return PAGE if changed else None


def page_key(engine: Engine, config: Config, full: RoundData, today: dt.date, templates: Environment) -> str:
    """What the page is made of, in one hash: the outputs' own fingerprint (answers, quarantine, mail
    states, roster, settings, the close: ``reports.build``), the mail log's mark, the forms issued, the
    day (its count of days) and the template. Work that removes files (clb forget, retention) forgets
    the key (``stages.outputs.rebuild_outputs``)."""
    import hashlib
    import json

    from pipeline.reports.letters import template_text
    from pipeline.state import get_meta, mail_mark

    payload = [
        get_meta(engine, f"outputs:{full.round}"),
        mail_mark(engine, full.round),
        sorted((leader, issued.issued_at) for leader, issued in full.issued.items()),
        today.isoformat(),
        template_text(templates, ("round.html.j2",)),
        config.settings.model_dump(mode="json"),
    ]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def round_facts(
    space: Workspace, engine: Engine, config: Config, full: RoundData, shareable: RoundData, today: dt.date
) -> RoundFacts:
    from pipeline.mail.status import leader_status, totals
    from pipeline.names import safe_segment
    from pipeline.reports.briefing import briefing_paths
    from pipeline.reports.build import report_paths
    from pipeline.reports.data import whom_counted, withheld_rule
    from pipeline.reports.round_page import Link, RoundFacts
    from pipeline.reports.suppress import safe
    from pipeline.rounds import closes_on, standing
    from pipeline.state import issued_forms

    settings = config.settings
    forms = issued_forms(engine, settings.round)  # once, for the progress rows and the people's links
    rows = leader_status(engine, config, forms)
    invited = any(row.invitation in ("drafted", "sent") for row in rows)
    _, words = standing(settings, full.closed_at, full.closed_by, invited)
    keys = [tick.key for tick in config.instrument.ticks]
    mine = {
        p.number: [sum(1 for a in full.answers if a.answers.get(p.number) == key) for key in keys]
        for p in config.instrument.perspectives
    }
    theirs: dict[int, list[int] | None] = {}
    for number, tally in shareable.published_counts.items():
        counts = [int(tally.get(key, 0)) for key in keys]
        theirs[number] = counts if safe(counts, shareable.min_group_size) else None
    exists = _Existing(space.root)
    reports, briefing, folder = report_paths(full.round), briefing_paths(full.round), safe_segment(full.round)
    people, needs = _people_and_needs(space, engine, config, full, rows, forms, exists, open_round=not full.closed_at)
    files = [
        Link(text, path)
        for text, path in (
            ("The facilitator workbook (names and answers: for you alone)", reports["facilitator"]),
            ("The shareable workbook (for partners)", reports["shareable"]),
            ("Partners' figures as CSV", reports["figures"]),
            ("The partnership briefing (for partners)", briefing[0]),
            ("The partnership briefing as PDF", briefing[1]),
            ("Every leader's form", f"outbox/forms/{folder}/"),
            ("Every letter", f"outbox/letters/{folder}/"),
            ("Quarantined files and their reasons", "outbox/quarantine/"),
            ("Correction requests", "outbox/corrections/"),
            ("Mail drafts", "outbox/mail/"),
            ("Each night's report", "outbox/runs/"),
        )
        if exists(path)
    ]
    return RoundFacts(
        partnership=settings.partnership,
        round=settings.round,
        today=today,
        deadline=settings.deadline,
        closes_on=closes_on(settings),
        closed_at=full.closed_at,
        stage_text=words,
        people=people,
        totals=totals(rows),
        needs=needs,
        row_noun=config.instrument.row_noun,
        statements=[(p.number, p.statement) for p in config.instrument.perspectives],
        answers=[full.headings[key] for key in keys],
        facilitator=mine,
        partners=theirs,
        partners_note=whom_counted(shareable),
        withheld_rule=withheld_rule(shareable),
        files=files,
    )


class _Existing:
    """Whether a workspace-relative path is there: a page links only to what it can open."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, path: str) -> bool:
        return (self.root / path).exists()


def _people_and_needs(
    space: Workspace,
    engine: Engine,
    config: Config,
    full: RoundData,
    rows: list[LeaderStatus],
    forms: Mapping[str, IssuedForm],
    exists: _Existing,
    open_round: bool,
) -> tuple[list[Person], list[Needs]]:
    from pipeline.intake.staging import archive_path, quarantine_path
    from pipeline.mail.sending import singular
    from pipeline.reports.round_page import Link, Need, Needs, Person
    from pipeline.stages.base import draft_stems
    from pipeline.state import (
        DONE,
        correction_requests,
        held_receipts,
        letter_pages,
        mail_records,
    )

    round_id = config.settings.round
    ids = {leader.email: leader.id for leader in config.roster}
    names = {leader.id: leader.name for leader in config.roster}
    accepted = {answer.leader_id: answer for answer in full.answers}
    letters = letter_pages(engine, round_id)
    files = _first_rows(full.quarantined)  # one row per quarantined file (the state gives one per problem)
    by_id = {item["id"]: item for item in files}
    quarantined: dict[str, list[QuarantinedProblem]] = {}
    for item in files:
        if item["leader_id"]:
            quarantined.setdefault(item["leader_id"], []).append(item)
    held = {receipt.id: receipt for receipt in held_receipts(engine, round_id)}
    waiting = {receipt.leader_id for receipt in held.values()}
    latest = _latest(mail_records(engine, round_id))
    stems = draft_stems(config)

    def copy(row: QuarantinedProblem) -> str:
        return quarantine_path(row["run_id"], row["sha256"], row["file"])

    people: list[Person] = []
    drafts: dict[str, list[Link]] = {}
    chase: list[Need] = []
    for row in rows:
        leader = ids.get(row.email, row.email.casefold())
        links: list[Link] = []
        notes: list[str] = []
        form = forms.get(leader)
        if form is not None:
            links.append(Link("form", form.path))
        answer = accepted.get(leader)
        if answer is not None:
            links.append(Link("return (as received)", archive_path(answer.sha256)))
        for item in quarantined.get(leader, []):
            links.append(Link(f"quarantined {item['received_at'][:10]}", copy(item)))
            links.append(Link("why", copy(item) + ".reasons.txt"))
        if leader in letters:
            links.append(Link("letter", letters[leader]))
        for kind in ("invitation", "reminder", "correction", "letter", "notice"):
            record = latest.get((leader, kind))
            if record is not None and record.status == "drafted" and leader.casefold() in stems:
                path = f"outbox/mail/{kind}/{stems[leader.casefold()]}.eml"
                if exists(path):
                    links.append(Link(f"{kind} draft", path))
                    drafts.setdefault(kind, []).append(Link(row.leader, path))
        if row.reminders:
            notes.append(f"{row.reminders} reminder{'s' if row.reminders != 1 else ''}, last on {row.last_reminder}")
        if row.unreadable:
            notes.append("sent a file that is not the form")
        if answer is not None and row.quarantined:
            notes.append(f"{row.quarantined} quarantined file{'s' if row.quarantined != 1 else ''}")
        state = (
            "accepted"
            if row.returned
            else "waiting"
            if leader in waiting
            else "quarantined"
            if row.quarantined
            else "outstanding"
            if row.issued
            else "no form"
        )
        last = max(row.invited, row.last_reminder)
        if open_round and state == "outstanding":
            said = f"last written to on {last}" if last else "not invited yet"
            chase.append(Need(f"{row.leader} ({row.organisation}): {said}"))
        people.append(
            Person(
                name=row.leader,
                organisation=row.organisation,
                issued=bool(row.issued),
                state=state,
                invitation=_said(row.invitation, row.invited),
                returned=row.returned,
                last_message=last,
                letter=_letter(row, leader in letters),
                links=[link for link in links if exists(link.path)],
                notes=notes,
            )
        )
    unplaced = [
        Need(
            f"{row['file']}, received {row['received_at'][:10]}: {(row['message'] or 'not a form').rstrip('.')}",
            [Link("open", copy(row)), Link("why", copy(row) + ".reasons.txt")],
        )
        for row in files
        if not row["leader_id"]
    ]
    holding = [
        Need(
            f"{names.get(receipt.leader_id, receipt.leader_id)}: received {receipt.received_at[:10]}",
            [Link("open", copy(by_id[receipt.id]))] if receipt.id in by_id else [],
        )
        for receipt in held.values()
    ]
    unsent = []
    for request in correction_requests(engine, round_id):
        record = latest.get((request.leader_id, "correction", str(request.id)))
        if record is not None and record.status == "sent":
            continue
        answer = accepted.get(request.leader_id)
        received = by_id[request.received_id]["received_at"] if request.received_id in by_id else ""
        if answer is not None and answer.received_at >= received:
            continue  # their accepted return came after it: nothing to correct
        state = "drafted, not sent" if record is not None and record.status in DONE else "not sent"
        who = names.get(request.leader_id, request.leader_id)
        unsent.append(Need(f"{who}: {state}", [Link("correction", request.html_path)]))
    refused = [
        Need(
            f"{singular(record.kind)} to {names.get(record.leader_id, record.leader_id)}: {record.status}, "
            f"{record.response or 'no reason given'}"
        )
        for key, record in latest.items()
        if len(key) == 3 and record.status in ("refused", "deferred")  # each message's own latest state
    ]
    needs = [
        Needs(
            "Files we could not place",
            "No form of ours is in them and no leader's address sent them. Open each; if you know whose it "
            "is: clb assign FILE EMAIL, and clb enter for answers sent another way.",
            unplaced,
        ),
        Needs(
            "Returns waiting for their leader's word",
            "Each would replace a leader's return but came from another address. It is accepted when they send "
            "it themselves; to accept one on your word: clb accept FILE.",
            holding,
        ),
        Needs(
            "Corrections not sent",
            "Their return was quarantined and they have not been told what to fix: clb send corrections.",
            unsent,
        ),
        Needs(
            "Mail the server refused or put off",
            "Check the address on the roster, then send again (deferred mail is tried again by the next send).",
            refused,
        ),
        Needs(
            "Drafts not sent yet",
            "Send them from your mail program, then record them: clb send KIND --mark-sent (for example "
            "clb send invitations --mark-sent).",
            [Need(f"{len(found)} {kind}{'s' if len(found) != 1 else ''}", found) for kind, found in drafts.items()],
        ),
        Needs(
            "Leaders to chase",
            "No return yet. clb send reminders drafts or sends a reminder to those it is time for.",
            chase,
        ),
    ]
    for group in needs:  # a page links only to what it can open
        group.items[:] = [Need(need.what, [link for link in need.links if exists(link.path)]) for need in group.items]
    return people, [group for group in needs if group.items]


def _first_rows(rows: Iterable[QuarantinedProblem]) -> list[QuarantinedProblem]:
    seen: dict[int, QuarantinedProblem] = {}
    for row in rows:
        seen.setdefault(row["id"], row)
    return list(seen.values())


def _latest(records: list[MailRecord]) -> dict[tuple[str, ...], MailRecord]:
    """Each leader's latest message of each kind (and of each item of a kind), pending intents aside."""
    found: dict[tuple[str, ...], MailRecord] = {}
    for record in records:  # in the order they were made
        if record.status != "pending":
            found[(record.leader_id, record.kind)] = record
            found[(record.leader_id, record.kind, record.item)] = record
    return found


def _said(state: str, date: str) -> str:
    if state == "sent":
        return f"sent on {date}"
    if state == "drafted":
        return f"drafted on {date}, not sent"
    return "not yet"


def _letter(row: LeaderStatus, made: bool) -> str:
    if row.letter == "sent":
        return f"sent on {row.letter_date}"
    if row.letter == "drafted":
        return f"drafted on {row.letter_date}, not sent"
    return "ready, not sent" if made else "none yet"
