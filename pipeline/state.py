"""The workspace state: the only module that talks to the database.

One SQLite file per workspace (``state/clb.sqlite``), through SQLAlchemy Core so the same code can later
run on Postgres. Every write is one transaction: a run killed half-way leaves the state as it was before
the write, and running again finishes the job.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypedDict, cast

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.exc import OperationalError

from pipeline.contracts import ProblemRecord

SCHEMA_VERSION = 1

metadata = MetaData()

forms = Table(
    "forms",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("round", String, nullable=False, index=True),
    Column("leader_id", String, nullable=False, index=True),
    Column("token", String, nullable=False, unique=True),
    Column("form_version", String, nullable=False),
    Column("name", String, nullable=False),
    Column("organisation", String, nullable=False),
    Column("email", String, nullable=False),
    Column("role", String, nullable=False, default=""),
    Column("path", String, nullable=False),
    Column("sha256", String, nullable=False),
    Column("inputs_hash", String, nullable=False),
    Column("issued_at", String, nullable=False),
    Column("revoked_at", String, nullable=True),
    Column("run_id", String, nullable=True),
)

# Every form version a token was issued with: a form rewritten in place (new wording, same reference)
# keeps accepting the copies the leader was sent before, where they ask the same questions.
form_versions = Table(
    "form_versions",
    metadata,
    Column("token", String, nullable=False, index=True),
    Column("form_version", String, nullable=False),
    Column("issued_at", String, nullable=False),
    UniqueConstraint("token", "form_version"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("started_at", String, nullable=False),
    Column("finished_at", String, nullable=True),
    Column("status", String, nullable=False),  # running | committed
)

received = Table(
    "received",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String, nullable=False, index=True),
    Column("file", String, nullable=False),  # the path as it was under inbox/
    Column("sha256", String, nullable=False, index=True),
    Column("size", Integer, nullable=False),
    Column("mtime_ns", Integer, nullable=False),
    Column("received_at", String, nullable=False),
    Column("decision", String, nullable=False),  # accepted | quarantined | duplicate
    Column("leader_id", String, nullable=True, index=True),
    Column("token", String, nullable=True),
    Column("round", String, nullable=True),
    Column("same_as", String, nullable=True),
    Column("archive_path", String, nullable=False),
)

problems = Table(
    "problems",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("received_id", Integer, ForeignKey("received.id"), nullable=False, index=True),
    Column("code", String, nullable=False),
    Column("cell", String, nullable=True),
    Column("name", String, nullable=True),
    Column("found", String, nullable=True),
    Column("message", String, nullable=False),
    Column("fix", String, nullable=False),
    Column("blocking", Integer, nullable=False),
)

responses = Table(
    "responses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("received_id", Integer, ForeignKey("received.id"), nullable=False),
    Column("round", String, nullable=False),
    Column("leader_id", String, nullable=False),
    Column("sha256", String, nullable=False),
    Column("answers", String, nullable=False),  # JSON: {"1": "comfortable", ...}
    Column("log", String, nullable=False),  # JSON: [{"project": ..., ...}]
    Column("accepted_at", String, nullable=False),
    Column("superseded_by", Integer, nullable=True),
    Index("responses_current", "round", "leader_id", "superseded_by"),
)

corrections = Table(
    "corrections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("received_id", Integer, ForeignKey("received.id"), nullable=False),
    Column("leader_id", String, nullable=False),
    Column("round", String, nullable=False),
    Column("html_path", String, nullable=False),
    Column("text_path", String, nullable=False),
    Column("created_at", String, nullable=False),
)

publications = Table(
    "publications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("round", String, nullable=False, index=True),
    Column("run_id", String, nullable=False),
    Column("published_at", String, nullable=False),
    Column("response_ids", String, nullable=False),  # JSON: {leader_id or "erased:<n>": response id or null}
    Column("counts", String, nullable=True),  # JSON: {answer: leaders}, what partners were shown
)

letters = Table(
    "letters",
    metadata,
    Column("round", String, primary_key=True),
    Column("leader_id", String, primary_key=True),
    Column("inputs_hash", String, nullable=False),
    Column("html_path", String, nullable=False),
    Column("email_path", String, nullable=False),
    Column("generated_at", String, nullable=False),
)

mail = Table(
    "mail",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String, nullable=False),  # invitation | reminder | letter | correction
    Column("round", String, nullable=False),
    Column("leader_id", String, nullable=False, index=True),
    Column("recipient", String, nullable=False),
    Column("item", String, nullable=False),  # what was sent: form token, letter hash, correction id, date
    Column("message_id", String, nullable=False),
    Column("attachment_sha256", String, nullable=True),
    Column("status", String, nullable=False),  # pending | drafted | sent | deferred | refused (see DONE)
    Column("response", String, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", String, nullable=False),
    Column("sent_at", String, nullable=True),
    Index("mail_item", "kind", "round", "leader_id", "item"),
)

fetched = Table(  # attachments taken from the returns mailbox by clb fetch: the evidence, and never twice
    "fetched",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", String, nullable=False),
    Column("sha256", String, nullable=False),
    Column("sender", String, nullable=False),  # as the message says: evidence, never used to attribute
    Column("sent_date", String, nullable=True),
    Column("subject", String, nullable=True),
    Column("authentication", String, nullable=True),  # the receiving server's SPF/DKIM/DMARC results
    Column("file", String, nullable=False),  # where it was saved, relative to the workspace
    Column("fetched_at", String, nullable=False),
    UniqueConstraint("message_id", "sha256"),
)

# clb forget leaves only these: a salted hash of the address and of each form reference, and the date,
# so that a form coming back from that leader is recognised and not taken in (pipeline/privacy/forget.py)
forgotten = Table(
    "forgotten",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email_hash", String, nullable=False, unique=True),
    Column("forgotten_on", String, nullable=False),
)
forgotten_tokens = Table(
    "forgotten_tokens",
    metadata,
    Column("token_hash", String, primary_key=True),
    Column("forgotten_on", String, nullable=False),
)

# An erasure under way: what clb forget must remove, recorded before it removes anything, so that a forget
# cut short (a file it could not delete, a crash) is finished by the next; the row goes once all is gone
erasures = Table(
    "erasures",
    metadata,
    Column("email", String, primary_key=True),
    Column("started_at", String, nullable=False),
    Column("plan", String, nullable=False),  # JSON: names, references, files, rounds still to go
)

# A round's totals, kept when retention removes its leaders' answers: what the Rounds sheet compares
round_figures = Table(
    "round_figures",
    metadata,
    Column("round", String, primary_key=True),
    Column("perspective", Integer, primary_key=True),
    Column("category", String, primary_key=True),
    Column("count", Integer, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
    UniqueConstraint("key"),
)


@dataclass(frozen=True, slots=True)
class FormRecord:
    """One issued form. A leader has at most one active (not revoked) form per round."""

    round: str
    leader_id: str
    token: str
    form_version: str
    name: str
    organisation: str
    email: str
    role: str
    path: str
    sha256: str
    inputs_hash: str
    issued_at: str
    revoked_at: str | None = None
    run_id: str | None = None


_FORM_COLUMNS = tuple(FormRecord.__dataclass_fields__)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class NewerState(Exception):
    """The state database was written by a newer clb: this one must not touch it."""


def open_state(path: Path) -> Engine:
    """Open (and create on first use) the state database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record):  # type: ignore[no-untyped-def]
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
        cursor.close()

    metadata.create_all(engine)
    _add_missing_columns(engine)
    with engine.begin() as connection:
        row = connection.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
        if row is None:
            connection.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        elif int(row.value) > SCHEMA_VERSION:
            raise NewerState(
                f"{path} was written by a newer clb (schema {row.value}); upgrade clb before using this workspace"
            )
    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to a table since a workspace's database was made (always nullable, so that the rows
    written before need nothing), added to it: ``create_all`` makes missing tables only."""
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            present = {row[1] for row in connection.exec_driver_sql(f'PRAGMA table_info("{table.name}")')}
            for column in table.columns:
                if present and column.name not in present:
                    assert column.nullable, f"{table.name}.{column.name} must be nullable to be added"
                    kind = column.type.compile(dialect=engine.dialect)
                    connection.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')


def active_forms(engine: Engine, round_id: str) -> dict[str, FormRecord]:
    """The current form of every leader issued one in this round, by leader id."""
    query = select(forms).where(forms.c.round == round_id, forms.c.revoked_at.is_(None))
    with engine.connect() as connection:
        return {row.leader_id: _record(row) for row in connection.execute(query)}


def form_by_token(engine: Engine, token: str) -> FormRecord | None:
    with engine.connect() as connection:
        row = connection.execute(select(forms).where(forms.c.token == token)).first()
    return None if row is None else _record(row)


def record_forms(engine: Engine, issued: Iterable[FormRecord]) -> None:
    """Store newly written forms in one transaction. A form with a new token for a leader revokes the
    leader's earlier form of the round; a rewrite with the same token updates the row in place."""
    issued = list(issued)
    with engine.begin() as connection:
        for record in issued:
            values = {name: getattr(record, name) for name in _FORM_COLUMNS}
            existing = connection.execute(
                select(forms.c.id, forms.c.form_version, forms.c.issued_at).where(forms.c.token == record.token)
            ).first()
            # the version it had (a form recorded before this table existed has no row of its own yet) and
            # the version it has now
            for version, issued_at in [*([existing[1:]] if existing else []), (record.form_version, record.issued_at)]:
                connection.execute(
                    form_versions.insert()
                    .prefix_with("OR IGNORE")
                    .values(token=record.token, form_version=version, issued_at=issued_at)
                )
            if existing is not None:
                connection.execute(update(forms).where(forms.c.id == existing.id).values(**values))
                continue
            connection.execute(
                update(forms)
                .where(
                    forms.c.round == record.round,
                    forms.c.leader_id == record.leader_id,
                    forms.c.revoked_at.is_(None),
                )
                .values(revoked_at=record.issued_at)
            )
            connection.execute(forms.insert().values(**values))


def _record(row: object) -> FormRecord:
    mapping = row._mapping  # type: ignore[attr-defined]
    return FormRecord(**{k: mapping[k] for k in _FORM_COLUMNS})


def issued_versions(engine: Engine | None, token: str) -> frozenset[str]:
    """Every form version ``token`` was issued with (its current one among them): asked only for a return
    whose version is not its form's current one, so a night of 10,000 returns loads none of them."""
    if engine is None:
        return frozenset()
    with engine.connect() as connection:
        query = select(form_versions.c.form_version).where(form_versions.c.token == token)
        return frozenset(version for (version,) in connection.execute(query))


# ---------------------------------------------------------------- intake


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


def forms_for_round(engine: Engine, round_id: str) -> dict[str, FormRecord]:
    """Every form issued for the round (revoked ones too), by token."""
    with engine.connect() as connection:
        return {row.token: _record(row) for row in connection.execute(select(forms).where(forms.c.round == round_id))}


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


def current_sha256(engine: Engine, round_id: str) -> dict[str, str]:
    """The sha256 of each leader's current response (what intake needs to say what a return supersedes)."""
    query = select(responses.c.leader_id, responses.c.sha256).where(
        responses.c.round == round_id, responses.c.superseded_by.is_(None)
    )
    with engine.connect() as connection:
        return {row.leader_id: row.sha256 for row in connection.execute(query)}


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
                {
                    **{k: item.get(k) for k in ("code", "cell", "name", "found", "message", "fix")},
                    "blocking": int(bool(item.get("blocking", True))),
                    "received_id": received_id,
                }
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
                    _supersede(connection, round_id)
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


def _supersede(connection: Connection, round_id: str) -> None:
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


def table_counts(engine: Engine) -> dict[str, int]:
    """Row counts of the intake tables, for tests and status displays."""
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar() or 0
            for table in (forms, received, problems, responses, corrections, runs)
        }


def open_state_readonly(path: Path) -> Engine | None:
    """The state database opened read-only (for clb check), or None when the workspace has none yet."""
    if not path.exists():
        return None
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", future=True)


# ---------------------------------------------------------------- reports


def response_rows(engine: Engine, round_id: str, ids: list[int] | None = None) -> list[dict[str, Any]]:
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
            {
                **row._mapping,
                "answers": {int(k): v for k, v in json.loads(row.answers).items()},
                "log": json.loads(row.log),
            }
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


class IssuedLeader(NamedTuple):
    """A leader as their latest form of the round was issued: what the reports show of them (only this,
    so that a round of 10,000 leaders does not hold 10,000 whole form records)."""

    name: str
    organisation: str
    issued_at: str


def leaders_of_round(engine: Engine, round_id: str) -> dict[str, IssuedLeader]:
    """Each leader's latest issued form of the round (name and organisation as issued)."""
    query = (
        select(forms.c.leader_id, forms.c.name, forms.c.organisation, forms.c.issued_at)
        .where(forms.c.round == round_id)
        .order_by(forms.c.id)
    )
    with engine.connect() as connection:
        return {
            row.leader_id: IssuedLeader(row.name, row.organisation, row.issued_at) for row in connection.execute(query)
        }


class QuarantinedProblem(TypedDict):
    """A quarantined file with one of its problems (a file with none has the problem's keys None)."""

    id: int
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


@dataclass(frozen=True)
class Publication:
    run_id: str
    published_at: str
    response_ids: dict[str, int | None]  # leader id (or "erased:<n>") -> response id (None: erased)
    counts: dict[str, int] | None  # answer -> leaders (None: recorded before counts were kept)


def publication_history(engine: Engine, key: str) -> list[Publication]:
    """Every edition of one perspective (``publication.perspective_key``) partners were shown, oldest first."""
    query = select(publications).where(publications.c.round == key).order_by(publications.c.id)
    with engine.connect() as connection:
        return [
            Publication(
                row.run_id,
                row.published_at,
                {k: None if v is None else int(v) for k, v in json.loads(row.response_ids).items()},
                {str(k): int(v) for k, v in json.loads(row.counts).items()} if row.counts else None,
            )
            for row in connection.execute(query)
        ]


def record_publication(
    engine: Engine, key: str, run_id: str, response_ids: Mapping[str, int | None], counts: Mapping[str, int]
) -> None:
    with engine.begin() as connection:
        connection.execute(
            publications.insert().values(
                round=key,
                run_id=run_id,
                published_at=now(),
                response_ids=json.dumps(dict(response_ids), sort_keys=True),
                counts=json.dumps(dict(counts), sort_keys=True),
            )
        )


def answers_of(engine: Engine, ids: Iterable[int]) -> dict[int, dict[int, str | None]]:
    """The answers of these responses (current or superseded), by response id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = select(responses.c.id, responses.c.answers).where(responses.c.id.in_(wanted))
    with engine.connect() as connection:
        return {row.id: {int(k): v for k, v in json.loads(row.answers).items()} for row in connection.execute(query)}


def letter_hashes(engine: Engine, round_id: str) -> dict[str, str]:
    with engine.connect() as connection:
        query = select(letters.c.leader_id, letters.c.inputs_hash).where(letters.c.round == round_id)
        return {row.leader_id: row.inputs_hash for row in connection.execute(query)}


def record_letters(engine: Engine, round_id: str, written: list[dict[str, str]]) -> None:
    """Remember what each letter was made from, so an unchanged letter is not made again."""
    with engine.begin() as connection:
        for item in written:
            connection.execute(
                delete(letters).where(letters.c.round == round_id, letters.c.leader_id == item["leader_id"])
            )
            connection.execute(letters.insert().values(round=round_id, generated_at=now(), **item))


# ---------------------------------------------------------------- mail

# A message's state, in the words clb uses everywhere: drafted (an .eml written for the facilitator to
# send), sent (accepted by the SMTP server), deferred (to be tried again), refused (for good). 'pending'
# is the intent recorded before the server is contacted. Releases before issue 12 stored 'written' and
# 'failed'; they are read as 'drafted' and 'refused'.
DONE = ("sent", "drafted")
_OLD_WORDS = {"written": "drafted", "failed": "refused"}


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


def mail_records(engine: Engine, round_id: str, kind: str | None = None) -> list[MailRecord]:
    query = select(mail).where(mail.c.round == round_id).order_by(mail.c.id)
    if kind is not None:
        query = query.where(mail.c.kind == kind)
    with engine.connect() as connection:
        found = [dict(row._mapping) for row in connection.execute(query)]
    return [MailRecord(**{**row, "status": _OLD_WORDS.get(row["status"], row["status"])}) for row in found]


def mark_drafts_sent(engine: Engine, round_id: str, kind: str, note: str) -> int:
    """Record that the facilitator sent this kind's drafts themselves: drafted becomes sent, with ``note``
    as the reply. Returns how many."""
    with engine.begin() as connection:
        result = connection.execute(
            update(mail)
            .where(mail.c.round == round_id, mail.c.kind == kind, mail.c.status.in_(("drafted", "written")))
            .values(status="sent", response=note)
        )
        return int(result.rowcount or 0)


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


def correction_requests(engine: Engine, round_id: str) -> list[dict[str, Any]]:
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
    return [{**row, "codes": by_file.get(row["received_id"], [])} for row in found]


def letters_of_round(engine: Engine, round_id: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        query = select(letters).where(letters.c.round == round_id).order_by(letters.c.leader_id)
        return [dict(row._mapping) for row in connection.execute(query)]


def get_meta(engine: Engine, key: str) -> str | None:
    with engine.connect() as connection:
        row = connection.execute(select(meta.c.value).where(meta.c.key == key)).first()
    return None if row is None else str(row.value)


def delete_meta(engine: Engine, key: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(meta).where(meta.c.key == key))


def set_meta(engine: Engine, key: str, value: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(meta).where(meta.c.key == key))
        connection.execute(meta.insert().values(key=key, value=value))


# ---------------------------------------------------------------- fetched returns


def fetched_keys(engine: Engine) -> set[tuple[str, str]]:
    """(Message-ID, sha256) of every attachment already taken from the mailbox."""
    with engine.connect() as connection:
        return {
            (row.message_id, row.sha256) for row in connection.execute(select(fetched.c.message_id, fetched.c.sha256))
        }


def record_fetched(engine: Engine, **values: Any) -> None:
    with engine.begin() as connection:
        connection.execute(fetched.insert().values(fetched_at=now(), **values))


class MailEvidence(NamedTuple):
    """Who a file came from by mail, as the message said, and what the receiving server said of it."""

    sender: str
    authentication: str  # "spf=pass dkim=pass dmarc=pass", or "" when the server added nothing
    fetched_at: str


def senders_by_sha256(engine: Engine, hashes: list[str]) -> dict[str, MailEvidence]:
    """Who sent each of these files by mail (the first message that carried it)."""
    if not hashes:
        return {}
    query = (
        select(fetched.c.sha256, fetched.c.sender, fetched.c.authentication, fetched.c.fetched_at)
        .where(fetched.c.sha256.in_(hashes))
        .order_by(fetched.c.id)
    )
    found: dict[str, MailEvidence] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            found.setdefault(row.sha256, MailEvidence(row.sender, row.authentication or "", row.fetched_at))
    return found


def messages_carrying(engine: Engine, sha256: str) -> list[MailEvidence]:
    """Every message that carried this file, oldest first (a held return confirmed by its leader's own)."""
    query = (
        select(fetched.c.sender, fetched.c.authentication, fetched.c.fetched_at)
        .where(fetched.c.sha256 == sha256)
        .order_by(fetched.c.id)
    )
    with engine.connect() as connection:
        return [MailEvidence(row.sender, row.authentication or "", row.fetched_at) for row in connection.execute(query)]


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
        _supersede(connection, held.round)


def received_hashes(engine: Engine, hashes: list[str]) -> set[str]:
    """Which of these files the inbox has already taken in, whatever was decided."""
    if not hashes:
        return set()
    with engine.connect() as connection:
        return {
            row.sha256 for row in connection.execute(select(received.c.sha256).where(received.c.sha256.in_(hashes)))
        }


def accepted_notes(engine: Engine, round_id: str, code: str) -> dict[str, list[str]]:
    """Per leader, the notes of one code on their accepted returns of the round (e.g. sent-by-another)."""
    query = (
        select(received.c.leader_id, problems.c.message)
        .join(problems, problems.c.received_id == received.c.id)
        .where(received.c.decision == "accepted", received.c.round == round_id, problems.c.code == code)
        .order_by(received.c.id)
    )
    found: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            if row.leader_id:
                found.setdefault(row.leader_id, []).append(row.message)
    return found


Totals = dict[tuple[int, str], int]  # (row number, answer key) -> how many leaders gave it


def tally(answer_sets: Iterable[Mapping[Any, str | None]]) -> Totals:
    """How many leaders gave each answer in each row, from their answers (row number -> key)."""
    counts: Totals = {}
    for answers in answer_sets:
        for number, key in answers.items():
            if key:
                counts[(int(number), key)] = counts.get((int(number), key), 0) + 1
    return counts


def current_totals(engine: Engine, where: Any) -> dict[str, Totals]:
    """Each round's totals, from its leaders' current answers, for the rounds ``where`` selects."""
    query = select(responses.c.round, responses.c.answers).where(where, responses.c.superseded_by.is_(None))
    answers: dict[str, list[dict[str, str | None]]] = {}
    with engine.connect() as connection:
        for round_id, text in connection.execute(query):
            answers.setdefault(round_id, []).append(json.loads(text))
    return {round_id: tally(sets) for round_id, sets in answers.items()}


def round_totals(engine: Engine, other_than: str) -> dict[str, Totals]:
    """Each earlier round's totals per row and answer: counted from its leaders' current answers, or,
    once retention has removed those, as kept in round_figures."""
    totals: dict[str, Totals] = {}
    with engine.connect() as connection:
        for row in connection.execute(select(round_figures).where(round_figures.c.round != other_than)):
            totals.setdefault(row.round, {})[(row.perspective, row.category)] = int(row._mapping["count"])
    return totals | current_totals(engine, responses.c.round != other_than)


# ---------------------------------------------------------------- erasures under way


def pending_erasure(engine: Engine, email: str) -> dict[str, Any] | None:
    """What an unfinished clb forget of ``email`` still has to remove, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(erasures.c.plan).where(erasures.c.email == email)).first()
    return None if row is None else dict(json.loads(row.plan))


def pending_erasures(engine: Engine) -> list[str]:
    """When each unfinished erasure started (the addresses are not shown: a screen may be shared)."""
    try:
        with engine.connect() as connection:
            return [row.started_at for row in connection.execute(select(erasures.c.started_at))]
    except OperationalError:  # opened read-only before any command of this release made the table
        return []


def record_erasure(engine: Engine, email: str, plan: dict[str, Any]) -> None:
    """Record (or bring up to date) what an erasure must remove, before it removes anything."""
    with engine.begin() as connection:
        started = connection.execute(select(erasures.c.started_at).where(erasures.c.email == email)).scalar()
        connection.execute(delete(erasures).where(erasures.c.email == email))
        connection.execute(
            erasures.insert().values(email=email, started_at=started or now(), plan=json.dumps(plan, sort_keys=True))
        )


def end_erasure(engine: Engine, email: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(erasures).where(erasures.c.email == email))


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
