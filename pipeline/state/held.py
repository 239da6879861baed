"""Returns placed on someone's word: held until their leader sends them or the facilitator accepts them
(clb accept), the replacements leaders are told of, a file no form placed assigned to a leader (clb
assign), and the source a facilitator entered answers from (clb enter)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Engine, insert, select, update

from pipeline.contracts import ProblemRecord
from pipeline.state.intake import problem_row, supersede
from pipeline.state.schema import now, problems, received, responses


class HeldReceipt(NamedTuple):
    id: int
    file: str
    sha256: str
    leader_id: str
    token: str
    round: str
    archive_path: str
    received_at: str


HELD = "held-for-confirmation"


def held_receipts(engine: Engine, round_id: str | None = None) -> list[HeldReceipt]:
    """Returns quarantined only because they would replace a leader's return without the leader's own
    word (problem ``held-for-confirmation``), oldest first."""
    query = (
        select(
            received.c.id,
            received.c.file,
            received.c.sha256,
            received.c.leader_id,
            received.c.token,
            received.c.round,
            received.c.archive_path,
            received.c.received_at,
        )
        .join(problems, problems.c.received_id == received.c.id)
        .where(received.c.decision == "quarantined", problems.c.code == HELD, problems.c.blocking == 1)
        .order_by(received.c.id)
    )
    if round_id is not None:
        query = query.where(received.c.round == round_id)
    with engine.connect() as connection:
        return [HeldReceipt(*row) for row in connection.execute(query) if row.leader_id and row.token]


def accept_held(
    engine: Engine,
    held: HeldReceipt,
    answers: dict[int, str | None],
    log: Iterable[dict[str, str]],
    note: str,
) -> None:
    """Accept a held return now (its leader sent it themselves, or the facilitator confirmed it): its
    answers become the leader's current response, and the hold is kept as a note of who confirmed it."""
    with engine.begin() as connection:
        connection.execute(update(received).where(received.c.id == held.id).values(decision="accepted"))
        connection.execute(
            update(problems)
            .where(problems.c.received_id == held.id, problems.c.code == HELD)
            .values(blocking=0, message=note)
        )
        connection.execute(
            responses.insert().values(
                received_id=held.id,
                round=held.round,
                leader_id=held.leader_id,
                sha256=held.sha256,
                answers=json.dumps({str(k): v for k, v in answers.items()}),
                log=json.dumps(list(log), ensure_ascii=False),
                accepted_at=now(),
            )
        )
        supersede(connection, held.round)


def accepted_notes(engine: Engine, round_id: str, *codes: str) -> dict[str, list[str]]:
    """Per leader, the notes of these codes on their accepted returns of the round, oldest first (e.g.
    sent-by-another, entered)."""
    query = (
        select(received.c.leader_id, problems.c.message)
        .join(problems, problems.c.received_id == received.c.id)
        .where(received.c.decision == "accepted", received.c.round == round_id, problems.c.code.in_(codes))
        .order_by(received.c.id, problems.c.id)
    )
    found: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            if row.leader_id:
                found.setdefault(row.leader_id, []).append(row.message)
    return found


class Replacement(NamedTuple):
    """A leader's accepted return replaced by a later one: what they are told (``clb send notices``)."""

    response_id: int  # the new response
    leader_id: str
    before: dict[int, str | None]
    after: dict[int, str | None]
    log_changed: bool
    sha256: str  # the new return's
    accepted_at: str


def replacements(engine: Engine, round_id: str) -> list[Replacement]:
    """Every replacement of an accepted return in the round, oldest first."""
    later = responses.alias("later")
    query = (
        select(
            later.c.id,
            later.c.leader_id,
            responses.c.answers,
            later.c.answers.label("after"),
            responses.c.log,
            later.c.log.label("after_log"),
            later.c.sha256,
            later.c.accepted_at,
        )
        .join(later, later.c.id == responses.c.superseded_by)
        .where(responses.c.round == round_id)
        .order_by(later.c.id)
    )
    with engine.connect() as connection:
        return [
            Replacement(
                row.id,
                row.leader_id,
                {int(k): v for k, v in json.loads(row.answers).items()},
                {int(k): v for k, v in json.loads(row.after).items()},
                json.loads(row.log) != json.loads(row.after_log),
                row.sha256,
                row.accepted_at,
            )
            for row in connection.execute(query)
        ]


def quarantined_receipts(engine: Engine, sha256: str) -> list[tuple[int, str | None]]:
    """(id, leader) of every quarantined receipt of these bytes, oldest first."""
    query = (
        select(received.c.id, received.c.leader_id)
        .where(received.c.sha256 == sha256, received.c.decision == "quarantined")
        .order_by(received.c.id)
    )
    with engine.connect() as connection:
        return [(row.id, row.leader_id) for row in connection.execute(query)]


def assign_receipt(engine: Engine, received_id: int, leader_id: str, round_id: str, note: ProblemRecord) -> None:
    """A quarantined file placed with a leader on the facilitator's word, with a note saying so."""
    with engine.begin() as connection:
        connection.execute(
            update(received).where(received.c.id == received_id).values(leader_id=leader_id, round=round_id)
        )
        connection.execute(problems.insert(), [problem_row(note, received_id)])


SOURCE = "source"  # a received row's decision for the scan or message a clb enter was read from


def record_source(
    engine: Engine, run_id: str, leader_id: str, round_id: str, file: str, sha256: str, size: int, archive: str
) -> None:
    """The source of answers the facilitator entered, kept in the archive: a receipt of the leader's, so
    that clb forget and the retention policy find and remove it as they do their returns."""
    with engine.begin() as connection:
        connection.execute(
            insert(received).values(
                run_id=run_id,
                file=file,
                sha256=sha256,
                size=size,
                mtime_ns=0,
                received_at=now(),
                decision=SOURCE,
                leader_id=leader_id,
                round=round_id,
                archive_path=archive,
            )
        )
