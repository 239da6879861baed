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
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from pipeline.config import Config, Leader
from pipeline.mail.compose import Attachment, form_filename, form_message, message, sender
from pipeline.mail.transport import PermanentMailError, TransientMailError
from pipeline.problems import fixable_in_place
from pipeline.state import (
    DONE,
    MailRecord,
    active_forms,
    begin_mail,
    correction_requests,
    current_responses,
    finish_mail,
    letters_of_round,
    mail_records,
)
from pipeline.templating import environment
from pipeline.workspace import Workspace

KINDS = ("invitations", "reminders", "letters", "corrections")


class Transport(Protocol):
    def send(self, mail: EmailMessage, sender: str, recipient: str) -> str: ...

    def close(self) -> None: ...


@dataclass
class Outgoing:
    kind: str
    leader: Leader
    item: str
    build: Callable[[], tuple[EmailMessage, str | None]]  # the message and its attachment's sha256


@dataclass
class SendReport:
    kind: str
    dry_run: bool
    results: list[dict[str, Any]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result["status"] == status)


def singular(kind: str) -> str:
    return kind.removesuffix("s")


def plan(
    kind: str, space: Workspace, engine: Engine, config: Config, today: dt.date, resend: bool = False
) -> tuple[list[Outgoing], list[dict[str, Any]]]:
    """What this kind of message would send now, and what it skips and why."""
    round_id = config.settings.round
    roster = {leader.id: leader for leader in config.roster}
    forms = active_forms(engine, round_id)
    log: dict[tuple[str, str, str], MailRecord] = {}
    for record in mail_records(engine, round_id):
        log[(record.kind, record.leader_id, record.item)] = record
    templates = environment(space.root)
    single = singular(kind)
    wanted: list[tuple[Leader, str, Callable[[], tuple[EmailMessage, str | None]]]] = []
    skipped: list[dict[str, Any]] = []

    def form_builder(leader: Leader, path: Path) -> Callable[[], tuple[EmailMessage, str | None]]:
        def build() -> tuple[EmailMessage, str | None]:
            data = path.read_bytes()
            return form_message(config, templates, single, leader, data), hashlib.sha256(data).hexdigest()

        return build

    def files_builder(
        leader: Leader, html: Path, text: Path, attach: Callable[[], Attachment | None] = lambda: None
    ) -> Callable[[], tuple[EmailMessage, str | None]]:
        def build() -> tuple[EmailMessage, str | None]:
            body, attachment = html.read_text(encoding="utf-8"), attach()
            mail = message(config, single, leader, body, text.read_text(encoding="utf-8"), attachment)
            return mail, hashlib.sha256(attachment.data).hexdigest() if attachment else None

        return build

    def correction_attachment(row: dict[str, Any], leader: Leader) -> Callable[[], Attachment | None]:
        """The leader's own returned workbook when it passed the guard (they fix one cell and send it back);
        a fresh copy of their issued form when the return was unsafe or not a workbook at all."""

        def attach() -> Attachment | None:
            if fixable_in_place(row["codes"]):
                returned = space.root / row["archive_path"]
                if returned.is_file():
                    name = Path(row["file"]).name
                    return Attachment(name if name.lower().endswith(".xlsx") else f"{name}.xlsx", returned.read_bytes())
            form = forms.get(leader.id)
            if form is None or not (space.root / form.path).is_file():
                return None
            return Attachment(form_filename(leader), (space.root / form.path).read_bytes())

        return attach

    if kind in ("invitations", "reminders"):
        accepted = current_responses(engine, round_id)
        every = dt.timedelta(days=config.settings.mail.reminder_every_days)
        for leader in config.roster:
            form = forms.get(leader.id)
            if form is None:
                skipped.append({"leader_id": leader.id, "why": "no form issued yet (run clb forms)"})
                continue
            if kind == "reminders":
                if leader.id in accepted:
                    continue
                invited = any(
                    r.kind == "invitation" and r.leader_id == leader.id and r.status in DONE for r in log.values()
                )
                if not invited:
                    skipped.append({"leader_id": leader.id, "why": "not invited yet (clb send invitations)"})
                    continue
                last = max(
                    (
                        r.sent_at
                        for r in log.values()
                        if r.kind == "reminder" and r.leader_id == leader.id and r.status in DONE and r.sent_at
                    ),
                    default=None,
                )
                if last and dt.datetime.fromisoformat(last).date() + every > today and not resend:
                    skipped.append({"leader_id": leader.id, "why": f"reminded on {last[:10]}"})
                    continue
            item = form.token if kind == "invitations" else today.isoformat()
            wanted.append((leader, item, form_builder(leader, space.root / form.path)))
    elif kind == "letters":
        for row in letters_of_round(engine, round_id):
            person = roster.get(row["leader_id"])
            if person is None:
                skipped.append({"leader_id": row["leader_id"], "why": "not on the roster any more"})
                continue
            html = space.root / row["email_path"]
            text = html.with_name(html.name.replace(".email.html", ".txt"))
            wanted.append((person, row["inputs_hash"], files_builder(person, html, text)))
    elif kind == "corrections":
        for row in correction_requests(engine, round_id):
            person = roster.get(row["leader_id"])
            if person is None:
                skipped.append({"leader_id": row["leader_id"], "why": "not on the roster any more"})
                continue
            paths = (space.root / row["html_path"], space.root / row["text_path"])
            attach = correction_attachment(row, person)
            wanted.append((person, str(row["id"]), files_builder(person, *paths, attach=attach)))
    else:
        raise ValueError(f"unknown kind of message {kind!r}; choose one of {', '.join(KINDS)}")

    outgoing = []
    for leader, item, build in wanted:
        earlier = log.get((single, leader.id, item))
        if earlier is not None and not resend:
            if earlier.status in DONE:
                continue
            if earlier.status == "pending":
                skipped.append(
                    {
                        "leader_id": leader.id,
                        "why": "a run stopped while sending this message; check the "
                        "mail server's log, and use --resend if it did not go",
                    }
                )
                continue
            if earlier.status == "refused":
                skipped.append(
                    {
                        "leader_id": leader.id,
                        "why": f"refused by the server: {earlier.response}; "
                        "fix the address in the roster, then use --resend",
                    }
                )
                continue
        outgoing.append(Outgoing(single, leader, item, build))
    return outgoing, skipped


def deliver(
    outgoing: list[Outgoing],
    transport: Transport,
    engine: Engine | None,
    config: Config,
    written: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """Send each message: rate-limited, transient failures retried with backoff, every outcome logged
    (``engine`` None: a dry run, nothing logged). Stops early when the server stays unreachable.
    ``written``: the transport writes .eml files, which are neither rate-limited nor 'sent'."""
    settings = config.settings.mail
    interval = 0.0 if written else 60.0 / settings.rate_per_minute  # files need no spacing
    _, from_address = sender(config)
    results: list[dict[str, Any]] = []
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
