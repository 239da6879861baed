"""The sent log: every message's intent, then its outcome, so a run repeated never sends twice."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Engine,
    case,
    func,
    select,
    update,
)

from pipeline.state.schema import (
    corrections,
    mail,
    now,
    problems,
    received,
)


class MailStatus(StrEnum):
    """A message's state, in the words clb uses everywhere. ``pending`` is the intent recorded before the
    server is contacted."""

    PENDING = "pending"
    DRAFTED = "drafted"  # an .eml written for the facilitator to send
    SENT = "sent"  # accepted by the SMTP server (or a draft the facilitator says they sent)
    DEFERRED = "deferred"  # to be tried again
    REFUSED = "refused"  # for good
    SUPERSEDED = "superseded"  # a draft a newer draft of the same kind replaced before it was sent


DONE = (MailStatus.SENT.value, MailStatus.DRAFTED.value)


@dataclass(frozen=True)
class MailRecord:
    id: int
    kind: str
    round: str
    leader_id: str
    recipient: str
    item: str
    message_id: str
    attachment_sha256: str | None
    status: str
    response: str | None
    attempts: int
    created_at: str
    sent_at: str | None


def mail_mark(engine: Engine, round_id: str) -> tuple[int, int, int]:
    """The round's mail log in three numbers (messages, the latest id, finished ones): any message
    recorded or finished changes it. What needs no page made again when it is the same."""
    done = func.sum(case((mail.c.status != "pending", 1), else_=0))
    query = select(func.count(), func.coalesce(func.max(mail.c.id), 0), func.coalesce(done, 0))
    with engine.connect() as connection:
        count, latest, finished = connection.execute(query.where(mail.c.round == round_id)).one()
    return int(count), int(latest), int(finished)


def mail_records(engine: Engine, round_id: str, kind: str | None = None) -> list[MailRecord]:
    query = select(mail).where(mail.c.round == round_id).order_by(mail.c.id)
    if kind is not None:
        query = query.where(mail.c.kind == kind)
    with engine.connect() as connection:
        found = [dict(row._mapping) for row in connection.execute(query)]
    return [MailRecord(**row) for row in found]


def mark_drafts_sent(engine: Engine, round_id: str, kind: str, note: str, leaders: list[str] | None = None) -> int:
    """Record that the facilitator sent this kind's current drafts themselves (to ``leaders`` only, when
    given): drafted becomes sent, with ``note`` as the reply. Returns how many."""
    query = update(mail).where(mail.c.round == round_id, mail.c.kind == kind, mail.c.status == MailStatus.DRAFTED)
    if leaders is not None:
        query = query.where(mail.c.leader_id.in_(leaders))
    with engine.begin() as connection:
        result = connection.execute(
            query.values(status="sent", response=note, sent_at=now())
        )  # reminders count from it
        return int(result.rowcount or 0)


def supersede_drafts(engine: Engine, round_id: str, kind: str, leader_id: str, newer: int, moved: str | None) -> None:
    """The leader's earlier drafts of this kind are replaced by draft ``newer``: never to be marked sent.
    The latest of them was moved to ``moved`` (its path under the kind's folder), which its record says."""
    with engine.begin() as connection:
        older = connection.execute(
            select(mail.c.id, mail.c.response)
            .where(
                mail.c.round == round_id,
                mail.c.kind == kind,
                mail.c.leader_id == leader_id,
                mail.c.status == MailStatus.DRAFTED,
                mail.c.id < newer,
            )
            .order_by(mail.c.id.desc())
        ).all()
        for index, row in enumerate(older):
            said = f"drafted as {moved}" if index == 0 and moved else (row.response or "")
            connection.execute(
                update(mail)
                .where(mail.c.id == row.id)
                .values(status=MailStatus.SUPERSEDED, response=f"superseded: {said}")
            )


def begin_mail(engine: Engine, **values: Any) -> int:
    """Record the intent to send before talking to the server, in its own transaction: a crash after the
    server accepted the message leaves a 'pending' row, which a rerun will not send again on its own."""
    with engine.begin() as connection:
        key = connection.execute(
            mail.insert().values(status="pending", attempts=0, created_at=now(), **values)
        ).inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_mail(engine: Engine, mail_id: int, status: str, response: str, attempts: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(mail)
            .where(mail.c.id == mail_id)
            .values(
                status=status,
                response=response[:500],
                attempts=attempts,
                sent_at=now() if status in DONE else None,
            )
        )


@dataclass(frozen=True)
class CorrectionRequest:
    """A correction request of the round and the returned file it is about, with that file's problem codes."""

    id: int
    leader_id: str
    html_path: str
    text_path: str
    file: str  # as it was named in the inbox
    received_id: int
    archive_path: str
    codes: list[str]


def correction_requests(engine: Engine, round_id: str) -> list[CorrectionRequest]:
    """Every correction request of the round (the mail log says which were sent)."""
    query = (
        select(
            corrections.c.id,
            corrections.c.leader_id,
            corrections.c.html_path,
            corrections.c.text_path,
            received.c.file,
            received.c.id.label("received_id"),
            received.c.archive_path,
        )
        .join(received, received.c.id == corrections.c.received_id)
        .where(corrections.c.round == round_id)
        .order_by(corrections.c.id)
    )
    codes = select(problems.c.received_id, problems.c.code)
    with engine.connect() as connection:
        found = [dict(row._mapping) for row in connection.execute(query)]
        by_file: dict[int, list[str]] = {}
        for row in connection.execute(codes.where(problems.c.received_id.in_([r["received_id"] for r in found]))):
            by_file.setdefault(row.received_id, []).append(row.code)
    return [CorrectionRequest(**row, codes=by_file.get(row["received_id"], [])) for row in found]
