"""The workspace's database: its tables, opening it (and bringing an older one up to date), and the
``meta`` table of small facts. One SQLite file per workspace (``state/clb.sqlite``), through SQLAlchemy Core.
Every write is one transaction: a run killed half-way leaves the state as it was before the write.

A run opens the database once (``database``, a context manager that disposes of the engine at the end) and
passes the engine down: connections left open keep SQLite's write-ahead log from being folded back in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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

SCHEMA_VERSION = 2  # 2: the sent log's words of the first releases ('written', 'failed') translated once

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
    Column("decision", String, nullable=False),  # accepted | quarantined | duplicate | source (clb enter)
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


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class NewerState(Exception):
    """The state database was written by a newer clb: this one must not touch it."""


def open_state(path: Path) -> Engine:
    """Open (and create on first use) the state database at ``path``, brought up to this release's schema.
    The caller disposes of it (``database`` does)."""
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
        version = SCHEMA_VERSION if row is None else int(row.value)
        if version > SCHEMA_VERSION:
            engine.dispose()
            raise NewerState(
                f"{path} was written by a newer clb (schema {version}); upgrade clb before using this workspace"
            )
        for step in range(version, SCHEMA_VERSION):
            MIGRATIONS[step](connection)
        connection.execute(delete(meta).where(meta.c.key == "schema_version"))
        connection.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    return engine


@contextmanager
def database(path: Path) -> Iterator[Engine]:
    """The state database for one run: opened once, passed down, and disposed of at the end, so that no
    connection outlives the run (SQLite folds its write-ahead log back in once the last one closes)."""
    engine = open_state(path)
    try:
        yield engine
    finally:
        engine.dispose()


def _old_mail_words(connection: Connection) -> None:
    """Schema 1 to 2: the sent log's states of the first releases, in today's words."""
    for old, new in (("written", "drafted"), ("failed", "refused")):
        connection.execute(update(mail).where(mail.c.status == old).values(status=new))


MIGRATIONS = {1: _old_mail_words}  # from schema N to N + 1


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
