"""What the nightly intake records and reads back: runs, received files and their problems, responses
(each leader's current one, and those they replaced). Returns placed on someone's word are in
``state.held``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict, cast

from sqlalchemy import (
    Connection,
    Engine,
    delete,
    func,
    select,
    update,
)

from pipeline.contracts import ProblemRecord
from pipeline.state.schema import (
    corrections,
    now,
    problems,
    received,
    responses,
    runs,
)


@dataclass(frozen=True, slots=True)
class Receipt:
    """One file taken from the inbox, with its decision and what it was found to hold."""

    file: str
    sha256: str
    size: int
    mtime_ns: int
    received_at: str
    decision: str
    archive_path: str
    leader_id: str | None = None
    token: str | None = None
    round: str | None = None
    same_as: str | None = None
    problems: tuple[ProblemRecord, ...] = ()
    answers: dict[int, str | None] | None = None  # set for accepted returns
    log: tuple[dict[str, str], ...] = ()
    correction: tuple[str, str] | None = None  # html and text paths of the correction request


@dataclass(frozen=True, slots=True)
class Response:
    round: str
    leader_id: str
    sha256: str
    answers: dict[int, str | None]
    log: list[dict[str, str]]
    accepted_at: str
    received_id: int


def begin_run(engine: Engine, run_id: str, kind: str) -> None:
    with engine.begin() as connection:
        connection.execute(runs.insert().values(run_id=run_id, kind=kind, started_at=now(), status="running"))


def interrupted_runs(engine: Engine, kind: str) -> list[str]:
    """Runs that started and never committed: their outputs were never reported and may be removed."""
    query = select(runs.c.run_id).where(runs.c.kind == kind, runs.c.status == "running")
    with engine.connect() as connection:
        return [row.run_id for row in connection.execute(query)]


def forget_run(engine: Engine, run_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(runs).where(runs.c.run_id == run_id, runs.c.status == "running"))


def first_receipts(engine: Engine, shas: list[str]) -> dict[str, str]:
    """For each sha256 already received, the file name under which it first came in."""
    found: dict[str, str] = {}
    if not shas:
        return found
    query = select(received.c.sha256, received.c.file).where(received.c.sha256.in_(shas)).order_by(received.c.id)
    with engine.connect() as connection:
        for row in connection.execute(query):
            found.setdefault(row.sha256, row.file)
    return found


def already_taken(engine: Engine, file: str, sha256: str, mtime_ns: int) -> bool:
    """True when this very file (name, bytes and time) was recorded by a run that then died before it
    could remove it from the inbox: the next run only finishes the removal."""
    query = select(func.count()).where(
        received.c.file == file, received.c.sha256 == sha256, received.c.mtime_ns == mtime_ns
    )
    with engine.connect() as connection:
        return bool(connection.execute(query).scalar())


def current_responses(engine: Engine, round_id: str, leader_ids: list[str] | None = None) -> dict[str, Response]:
    """The response that counts for each leader of the round (the latest accepted one)."""
    query = select(responses).where(responses.c.round == round_id, responses.c.superseded_by.is_(None))
    if leader_ids is not None:
        query = query.where(responses.c.leader_id.in_(leader_ids))
    with engine.connect() as connection:
        return {
            row.leader_id: Response(
                round=row.round,
                leader_id=row.leader_id,
                sha256=row.sha256,
                answers={int(k): v for k, v in json.loads(row.answers).items()},
                log=json.loads(row.log),
                accepted_at=row.accepted_at,
                received_id=row.received_id,
            )
            for row in connection.execute(query)
        }


def accepted_dates(engine: Engine, round_id: str) -> dict[str, str]:
    """When each leader's current response was accepted: what a progress list needs, without decoding
    every leader's answers and log (at 10,000 leaders, ~25 MiB held for a moment)."""
    query = select(responses.c.leader_id, responses.c.accepted_at).where(
        responses.c.round == round_id, responses.c.superseded_by.is_(None)
    )
    with engine.connect() as connection:
        return {row.leader_id: row.accepted_at for row in connection.execute(query)}


def current_sha256(engine: Engine, round_id: str) -> dict[str, str]:
    """The sha256 of each leader's current response (what intake needs to say what a return supersedes)."""
    query = select(responses.c.leader_id, responses.c.sha256).where(
        responses.c.round == round_id, responses.c.superseded_by.is_(None)
    )
    with engine.connect() as connection:
        return {row.leader_id: row.sha256 for row in connection.execute(query)}


def problem_row(item: ProblemRecord, received_id: int) -> dict[str, object]:
    """A problem as the problems table stores it, with its receipt."""
    return {
        **{k: item.get(k) for k in ("code", "cell", "name", "found", "message", "fix")},
        "blocking": int(bool(item.get("blocking", True))),
        "received_id": received_id,
    }


def record_intake(engine: Engine, run_id: str, receipts: list[Receipt]) -> None:
    """Store a run's decisions in one transaction and mark the run committed. Each accepted return
    supersedes the leader's response before it (receipts are in the order they were received)."""
    with engine.begin() as connection:
        if receipts:
            ids = (
                connection.execute(
                    received.insert().returning(received.c.id, sort_by_parameter_order=True),
                    [
                        {
                            "run_id": run_id,
                            "file": r.file,
                            "sha256": r.sha256,
                            "size": r.size,
                            "mtime_ns": r.mtime_ns,
                            "received_at": r.received_at,
                            "decision": r.decision,
                            "leader_id": r.leader_id,
                            "token": r.token,
                            "round": r.round,
                            "same_as": r.same_as,
                            "archive_path": r.archive_path,
                        }
                        for r in receipts
                    ],
                )
                .scalars()
                .all()
            )
            rows = [
                problem_row(item, received_id)
                for receipt, received_id in zip(receipts, ids, strict=True)
                for item in receipt.problems
            ]
            if rows:
                connection.execute(problems.insert(), rows)
            accepted = [
                {
                    "received_id": received_id,
                    "round": r.round,
                    "leader_id": r.leader_id,
                    "sha256": r.sha256,
                    "answers": json.dumps({str(k): v for k, v in (r.answers or {}).items()}),
                    "log": json.dumps(list(r.log), ensure_ascii=False),
                    "accepted_at": r.received_at,
                }
                for r, received_id in zip(receipts, ids, strict=True)
                if r.answers is not None and r.leader_id is not None and r.round is not None
            ]
            if accepted:
                connection.execute(responses.insert(), accepted)
                for round_id in sorted({row["round"] for row in accepted}):
                    supersede(connection, round_id)
            notes = [
                {
                    "received_id": received_id,
                    "leader_id": r.leader_id,
                    "round": r.round or "",
                    "html_path": r.correction[0],
                    "text_path": r.correction[1],
                    "created_at": r.received_at,
                }
                for r, received_id in zip(receipts, ids, strict=True)
                if r.correction is not None and r.leader_id is not None
            ]
            if notes:
                connection.execute(corrections.insert(), notes)
        connection.execute(update(runs).where(runs.c.run_id == run_id).values(status="committed", finished_at=now()))


def supersede(connection: Connection, round_id: str) -> None:
    """Point every current response that has a later one (same leader, same round) at the next one."""
    later = responses.alias("later")
    next_id = (
        select(func.min(later.c.id))
        .where(
            later.c.round == responses.c.round, later.c.leader_id == responses.c.leader_id, later.c.id > responses.c.id
        )
        .scalar_subquery()
    )
    connection.execute(
        update(responses)
        .where(responses.c.round == round_id, responses.c.superseded_by.is_(None), next_id.is_not(None))
        .values(superseded_by=next_id)
    )


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """One response as the outputs read it: whose, what they answered and wrote, the file it came in."""

    id: int
    leader_id: str
    round: str
    sha256: str
    answers: dict[int, str | None]
    log: list[dict[str, str]]
    received_at: str
    file: str


def response_rows(engine: Engine, round_id: str, ids: list[int] | None = None) -> list[ResponseRow]:
    """The round's current responses (or the responses with these ids), with when they were received."""
    query = (
        select(
            responses.c.id,
            responses.c.leader_id,
            responses.c.round,
            responses.c.sha256,
            responses.c.answers,
            responses.c.log,
            received.c.received_at,
            received.c.file,
        )
        .join(received, received.c.id == responses.c.received_id)
        .where(responses.c.round == round_id)
    )
    query = (
        query.where(responses.c.id.in_(ids)) if ids is not None else query.where(responses.c.superseded_by.is_(None))
    )
    with engine.connect() as connection:
        return [
            ResponseRow(
                row.id,
                row.leader_id,
                row.round,
                row.sha256,
                {int(k): v for k, v in json.loads(row.answers).items()},
                json.loads(row.log),
                row.received_at,
                row.file,
            )
            for row in connection.execute(query.order_by(responses.c.id))
        ]


class EarlierResponse(TypedDict):
    """A leader's answers and user log in an earlier round, for the letters' "since round ..."."""

    round: str
    answers: dict[int, str | None]
    log: list[dict[str, str]]


def latest_responses_before(engine: Engine, round_id: str) -> dict[str, EarlierResponse]:
    """Each leader's current response in the most recent earlier round they answered (by time received)."""
    query = (
        select(responses.c.leader_id, responses.c.round, responses.c.answers, responses.c.log, responses.c.accepted_at)
        .where(responses.c.round != round_id, responses.c.superseded_by.is_(None))
        .order_by(responses.c.accepted_at)
    )
    found: dict[str, EarlierResponse] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            found[row.leader_id] = {
                "round": row.round,
                "answers": {int(k): v for k, v in json.loads(row.answers).items()},
                "log": json.loads(row.log),
            }
    return found


class QuarantinedProblem(TypedDict):
    """A quarantined file with one of its problems (a file with none has the problem's keys None)."""

    id: int
    run_id: str
    file: str
    sha256: str
    received_at: str
    leader_id: str | None
    code: str | None
    cell: str | None
    name: str | None
    message: str | None
    fix: str | None


def quarantined_files(engine: Engine, round_id: str) -> list[QuarantinedProblem]:
    """Every quarantined file of this round or of no known round, with its problems, oldest first."""
    query = (
        select(
            received.c.id,
            received.c.run_id,
            received.c.file,
            received.c.sha256,
            received.c.received_at,
            received.c.leader_id,
            problems.c.code,
            problems.c.cell,
            problems.c.name,
            problems.c.message,
            problems.c.fix,
        )
        .join(problems, problems.c.received_id == received.c.id, isouter=True)
        .where(received.c.decision == "quarantined")
        .where((received.c.round == round_id) | received.c.round.is_(None))
        .order_by(received.c.id, problems.c.id)
    )
    with engine.connect() as connection:
        return [cast(QuarantinedProblem, dict(row._mapping)) for row in connection.execute(query)]


def answers_of(engine: Engine, ids: Iterable[int]) -> dict[int, dict[int, str | None]]:
    """The answers of these responses (current or superseded), by response id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = select(responses.c.id, responses.c.answers).where(responses.c.id.in_(wanted))
    with engine.connect() as connection:
        return {row.id: {int(k): v for k, v in json.loads(row.answers).items()} for row in connection.execute(query)}
