"""The sending batch: who gets which message, and the sent log that makes every run safe to repeat.

Each message is identified by kind, round, leader and item (the form's token, the letter's content hash,
the correction's id, the reminder's date). Before talking to the server the intent is committed as
'pending'; after the server's answer it becomes 'sent' (or 'drafted' for .eml files), 'deferred'
(transient failure: tried again next run) or 'refused' (permanent: reported, tried again only with
--resend). A 'pending' row means a run died mid-message: it is reported and never sent again on its own,
so a leader whose message the server accepted never gets it twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment

from pipeline.config import Config, Leader
from pipeline.contracts import SendResult, Skipped
from pipeline.mail.chase import Chase
from pipeline.mail.compose import Attachment, form_filename, form_message, message, sender
from pipeline.mail.transport import PermanentMailError, TransientMailError
from pipeline.problems import fixable_in_place
from pipeline.state import (
    DONE,
    HELD,
    CorrectionRequest,
    Engine,
    FormRecord,
    MailRecord,
    MailStatus,
    active_forms,
    begin_mail,
    correction_requests,
    current_responses,
    finish_mail,
    letters_of_round,
    mail_records,
    replacements,
    round_closed,
    senders_by_sha256,
    supersede_drafts,
)
from pipeline.templating import environment
from pipeline.text import deadline_text
from pipeline.workspace import Workspace

KINDS = ("invitations", "reminders", "letters", "corrections", "notices")


class Transport(Protocol):
    last_moved: str | None  # the draft the last send replaced, moved aside (drafts only)

    def send(self, mail: EmailMessage, sender: str, recipient: str) -> str: ...

    def close(self) -> None: ...


@dataclass
class Outgoing:
    kind: str
    leader: Leader
    item: str
    build: Callable[[], tuple[EmailMessage, str | None]]  # the message and its attachment's sha256


def singular(kind: str) -> str:
    return kind.removesuffix("s")


Builder = Callable[[], tuple[EmailMessage, str | None]]  # the message and its attachment's sha256


@dataclass
class _Planning:
    """What every kind of message is planned from: the round's forms and sent log, read once."""

    kind: str
    space: Workspace
    engine: Engine
    config: Config
    today: dt.date
    resend: bool
    forms: dict[str, FormRecord]
    log: dict[tuple[str, str, str], MailRecord]
    early: bool = False  # letters before the close (--now)
    skipped: list[Skipped] = field(default_factory=list)
    warning: str = ""
    roster: dict[str, Leader] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.roster = {leader.id: leader for leader in self.config.roster}

    @property
    def single(self) -> str:
        return singular(self.kind)

    def skip(self, leader_id: str, why: str) -> None:
        self.skipped.append({"leader_id": leader_id, "why": why})

    def on_roster(self, leader_id: str) -> Leader | None:
        leader = self.roster.get(leader_id)
        if leader is None:
            self.skip(leader_id, "not on the roster any more")
        return leader


def plan(
    kind: str,
    space: Workspace,
    engine: Engine,
    config: Config,
    today: dt.date,
    resend: bool = False,
    early: bool = False,
    only: Sequence[str] = (),
) -> tuple[list[Outgoing], list[Skipped], str]:
    """What this kind of message would send now (to the leaders ``only`` names, when given), what it skips
    and why, and what the facilitator should know before it goes."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of message {kind!r}; choose one of {', '.join(KINDS)}")
    round_id = config.settings.round
    log = {(r.kind, r.leader_id, r.item): r for r in mail_records(engine, round_id)}
    planning = _Planning(kind, space, engine, config, today, resend, active_forms(engine, round_id), log, early)
    templates = environment(space.root)
    if kind in ("invitations", "reminders"):
        wanted = _form_messages(planning, templates)
    elif kind == "letters":
        wanted = _letters(planning)
    elif kind == "notices":
        wanted = _notices(planning, templates)
    else:
        wanted = _corrections(planning)
    if only:
        chosen = {address.casefold() for address in only}
        wanted = [item for item in wanted if item[0].id in chosen]
        planning.skipped = [skip for skip in planning.skipped if skip["leader_id"] in chosen]
        planning.skipped += [
            {"leader_id": a, "why": "not on the roster"} for a in sorted(chosen - planning.roster.keys())
        ]
    return _not_yet_sent(planning, wanted), planning.skipped, planning.warning


Wanted = list[tuple[Leader, str, Builder]]  # who, the item (token, date, letter hash, correction id), how


def _form_messages(planning: _Planning, templates: Environment) -> Wanted:
    """Invitations to every leader with a form; reminders to those invited who have not returned it, as
    ``mail.chase.Chase`` allows."""
    config, today = planning.config, planning.today
    chase = None
    if planning.kind == "reminders":
        settings = planning.config.settings
        chase = Chase.read(planning.engine, settings.round, settings.mail, planning.log, today, planning.resend)
    wanted: Wanted = []
    for leader in config.roster:
        form = planning.forms.get(leader.id)
        if form is None:
            planning.skip(leader.id, "no form issued yet (run clb forms)")
            continue
        already = ""
        if chase is not None:
            if leader.id in chase.accepted:
                continue
            why = chase.why_not(leader.id)
            if why:
                planning.skip(leader.id, why)
                continue
            already = chase.already(leader.id)
        item = form.token if planning.kind == "invitations" else today.isoformat()
        path = planning.space.root / form.path
        wanted.append((leader, item, _form_builder(planning, templates, leader, path, already)))
    return wanted


def _letters(planning: _Planning) -> Wanted:
    """Each leader's latest letter, by its content hash: a changed letter is a new message. Letters go
    once the round has closed, when partners' figures are final; ``early`` sends them before, and warns
    how many leaders are still out."""
    wanted: Wanted = []
    settings = planning.config.settings
    rows = letters_of_round(planning.engine, settings.round)
    if round_closed(planning.engine, settings.round) is None:
        if not planning.early:
            for row in rows:
                planning.skip(
                    row.leader_id, "the round is open: letters go once it closes (clb close), or now with --now"
                )
            return wanted
        returned = set(current_responses(planning.engine, settings.round))
        out = sum(1 for leader in planning.config.roster if leader.id not in returned)
        planning.warning = (
            f"The round is still open and {out} leader{'s have' if out != 1 else ' has'} not returned a form: "
            "these letters quote partners' figures as they stand now, and a leader's letter is sent again if "
            "it changes by the close."
        )
    for row in rows:
        leader = planning.on_roster(row.leader_id)
        if leader is not None:
            page = planning.space.root / row.html_path
            text = page.with_name(page.name.removesuffix(".html") + ".txt")
            wanted.append((leader, row.inputs_hash, _files_builder(planning, leader, page, text, styled=True)))
    return wanted


def _corrections(planning: _Planning) -> Wanted:
    """Each correction request, with the workbook to correct attached."""
    root, wanted = planning.space.root, []
    for row in correction_requests(planning.engine, planning.config.settings.round):
        leader = planning.on_roster(row.leader_id)
        if leader is not None:
            attach = _correction_attachment(planning, row, leader)
            build = _files_builder(planning, leader, root / row.html_path, root / row.text_path, attach)
            wanted.append((leader, str(row.id), build))
    return wanted


def _notices(planning: _Planning, templates: Environment) -> Wanted:
    """A notice to each leader whose accepted return was replaced, at their roster address whoever sent
    the new one: what changed, when, from which address, and what to do if it was not them."""
    config, engine = planning.config, planning.engine
    found = replacements(engine, config.settings.round)
    mailed = senders_by_sha256(engine, [item.sha256 for item in found])
    labels = config.instrument.short_labels()
    rows = {p.number: f"{config.instrument.row_title} {p.number}" for p in config.instrument.perspectives}
    wanted: Wanted = []
    for item in found:
        leader = planning.on_roster(item.leader_id)
        if leader is None:
            continue
        evidence = mailed.get(item.sha256)
        if evidence is None:
            how = f"It was placed among the returns by {config.settings.facilitator.name}."
        elif evidence.sender == leader.id:
            how = "It came by email from your own address."
        else:
            how = (
                f"It came by email from {evidence.sender or 'an address we could not read'}, not from your own address."
            )
        changes = [
            {"row": rows.get(number, str(number)), "before": labels.get(item.before.get(number) or "", "no answer"),
             "after": labels.get(item.after.get(number) or "", "no answer")}
            for number in sorted(rows)
            if item.before.get(number) != item.after.get(number)
        ]  # fmt: skip
        context = {
            "name": leader.name,
            "partnership": config.settings.partnership,
            "round": config.settings.round,
            "when": deadline_text(dt.date.fromisoformat(item.accepted_at[:10])),
            "how": how,
            "changes": changes,
            "log_changed": item.log_changed,
            "facilitator_name": config.settings.facilitator.name,
            "facilitator_email": config.settings.facilitator.email,
            "min_group_size": config.settings.min_group_size,
            "copyright": config.instrument.copyright,
            **config.instrument.message_words(),
        }
        wanted.append((leader, str(item.response_id), _rendered_builder(planning, templates, leader, context)))
    return wanted


def _rendered_builder(planning: _Planning, templates: Environment, leader: Leader, context: dict[str, Any]) -> Builder:
    def build() -> tuple[EmailMessage, str | None]:
        html = templates.get_template(f"{planning.single}.html.j2").render(**context)
        text = templates.get_template(f"{planning.single}.txt.j2").render(**context)
        return message(planning.config, planning.single, leader, html, text, None), None

    return build


def _not_yet_sent(planning: _Planning, wanted: Wanted) -> list[Outgoing]:
    """The wanted messages the sent log does not hold as done; a message whose run died mid-send, or
    that the server refused, is reported and sent again only with --resend."""
    outgoing = []
    for leader, item, build in wanted:
        earlier = planning.log.get((planning.single, leader.id, item))
        if earlier is not None and not planning.resend:
            if earlier.status in DONE:
                continue
            if earlier.status == "pending":
                why = "a run stopped while sending this message; check the mail server's log, and use --resend "
                why += "if it did not go"
                planning.skip(leader.id, why)
                continue
            if earlier.status == "refused":
                why = f"refused by the server: {earlier.response}; fix the address in the roster, then use --resend"
                planning.skip(leader.id, why)
                continue
        outgoing.append(Outgoing(planning.single, leader, item, build))
    return outgoing


def _form_builder(
    planning: _Planning, templates: Environment, leader: Leader, path: Path, already: str = ""
) -> Builder:
    def build() -> tuple[EmailMessage, str | None]:
        data = path.read_bytes()
        message = form_message(planning.config, templates, planning.single, leader, data, already)
        return message, hashlib.sha256(data).hexdigest()

    return build


def _files_builder(
    planning: _Planning,
    leader: Leader,
    html: Path,
    text: Path,
    attach: Callable[[], Attachment | None] = lambda: None,
    styled: bool = False,
) -> Builder:
    """The message made from its files when it is sent; ``styled``: a letter's page, whose CSS is
    inlined then (``reports.letters.email_html``)."""

    def build() -> tuple[EmailMessage, str | None]:
        body, attachment = html.read_text(encoding="utf-8"), attach()
        if styled:
            from pipeline.reports.letters import email_html

            body = email_html(body)
        mail = message(planning.config, planning.single, leader, body, text.read_text(encoding="utf-8"), attachment)
        return mail, hashlib.sha256(attachment.data).hexdigest() if attachment else None

    return build


def returned_name(name: str, data: bytes) -> str:
    """The name a leader's own returned workbook goes back under: ending as its content is (.xlsx, .ods or
    .xls), so that their program opens it, whatever it was called."""
    from pipeline.formats import suffix_of

    suffix = suffix_of(data)
    return name if name.lower().endswith(suffix) else f"{name}{suffix}"


def _correction_attachment(
    planning: _Planning, row: CorrectionRequest, leader: Leader
) -> Callable[[], Attachment | None]:
    """The leader's own returned workbook when it passed the guard (they fix one cell and send it back);
    a fresh copy of their issued form when the return was unsafe or not a workbook at all."""
    root = planning.space.root

    def attach() -> Attachment | None:
        if fixable_in_place(row.codes) or HELD in row.codes:  # held: they send it back to confirm
            returned = root / row.archive_path
            if returned.is_file():
                data = returned.read_bytes()
                return Attachment(returned_name(Path(row.file).name, data), data)
        form = planning.forms.get(leader.id)
        if form is None or not (root / form.path).is_file():
            return None
        return Attachment(form_filename(planning.config, leader), (root / form.path).read_bytes())

    return attach


def deliver(
    outgoing: list[Outgoing],
    transport: Transport,
    engine: Engine | None,
    config: Config,
    written: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[SendResult]:
    """Send each message: rate-limited, transient failures retried with backoff, every outcome logged
    (``engine`` None: a dry run, nothing logged). Stops early when the server stays unreachable.
    ``written``: the transport writes .eml files, which are neither rate-limited nor 'sent'."""
    settings = config.settings.mail
    interval = 0.0 if written else 60.0 / settings.rate_per_minute  # files need no spacing
    _, from_address = sender(config)
    results: list[SendResult] = []
    last_sent: float | None = None
    stopped = False
    for item in outgoing:
        if stopped:
            results.append(
                {
                    "leader_id": item.leader.id,
                    "recipient": item.leader.email,
                    "status": "deferred",
                    "response": "the server was unreachable; the next run tries again",
                }
            )
            continue
        mail, attachment = item.build()
        mail_id = None
        if engine is not None:
            mail_id = begin_mail(
                engine,
                kind=item.kind,
                round=config.settings.round,
                leader_id=item.leader.id,
                recipient=item.leader.email,
                item=item.item,
                message_id=str(mail["Message-ID"]),
                attachment_sha256=attachment,
            )
        attempts, status, response = 0, "deferred", ""
        while True:
            if last_sent is not None:
                wait = last_sent + interval - clock()
                if wait > 0:
                    sleep(wait)
            attempts += 1
            try:
                response = transport.send(mail, from_address, item.leader.email)
                status = "drafted" if written else "sent"
                last_sent = clock()
                break
            except PermanentMailError as exc:
                status, response = "refused", str(exc)
                last_sent = clock()
                break
            except TransientMailError as exc:
                response = str(exc)
                last_sent = clock()
                if attempts > settings.retries:
                    status, stopped = "deferred", True
                    break
                sleep(min(2.0**attempts, 60.0))
        if engine is not None and mail_id is not None:
            finish_mail(engine, mail_id, status, response, attempts)
            if status == MailStatus.DRAFTED:
                moved = transport.last_moved
                supersede_drafts(engine, config.settings.round, item.kind, item.leader.id, mail_id, moved)
        results.append(
            {
                "leader_id": item.leader.id,
                "recipient": item.leader.email,
                "status": status,
                "response": response,
                "attempts": attempts,
            }
        )
    transport.close()
    return results
