"""The workspace state: the only module that talks to the database.

One SQLite file per workspace (``state/clb.sqlite``), through SQLAlchemy Core so the same code can later
run on Postgres. Every write is one transaction: a run killed half-way leaves the state as it was before
the write, and running again finishes the job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    select,
    update,
)

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

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
    UniqueConstraint("key"),
)


@dataclass(frozen=True)
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


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


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
        cursor.close()

    metadata.create_all(engine)
    with engine.begin() as connection:
        row = connection.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
        if row is None:
            connection.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        elif int(row.value) > SCHEMA_VERSION:
            raise RuntimeError(
                f"{path} was written by a newer clb (schema {row.value}); upgrade clb before using this workspace"
            )
    return engine


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
            values = {k: v for k, v in record.__dict__.items()}
            existing = connection.execute(select(forms.c.id).where(forms.c.token == record.token)).first()
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
    return FormRecord(**{k: mapping[k] for k in FormRecord.__dataclass_fields__})
