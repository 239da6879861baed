"""Attachments taken from the returns mailbox (``clb fetch``): the evidence, and never twice."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import (
    Engine,
    select,
)

from pipeline.state.schema import (
    fetched,
    now,
    received,
)


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


def received_hashes(engine: Engine, hashes: list[str]) -> set[str]:
    """Which of these files the inbox has already taken in, whatever was decided."""
    if not hashes:
        return set()
    with engine.connect() as connection:
        return {
            row.sha256 for row in connection.execute(select(received.c.sha256).where(received.c.sha256.in_(hashes)))
        }
