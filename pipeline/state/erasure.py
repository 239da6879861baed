"""Erasure and retention: everything the state holds about one leader (``clb forget``), the to-do of an
erasure under way (recorded before anything is removed), the tombstones, and what a retention step removes
(``clb purge``). The privacy modules decide what goes; every statement that finds or removes it is here."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table, delete, func, select, text, update
from sqlalchemy.exc import OperationalError

from pipeline.state.schema import (
    corrections,
    erasures,
    fetched,
    forgotten,
    forgotten_tokens,
    form_versions,
    forms,
    letters,
    mail,
    now,
    problems,
    publications,
    received,
    responses,
    round_figures,
)

ErasurePlan = dict[str, list[str]]  # what is left to remove: names, tokens, shas, file_names, rounds, files


def pending_erasure(engine: Engine, email: str) -> ErasurePlan | None:
    """What an unfinished clb forget of ``email`` still has to remove, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(erasures.c.plan).where(erasures.c.email == email)).first()
    if row is None:
        return None
    return {str(key): [str(item) for item in items] for key, items in json.loads(row.plan).items()}


def pending_erasures(engine: Engine) -> list[str]:
    """When each unfinished erasure started (the addresses are not shown: a screen may be shared)."""
    try:
        with engine.connect() as connection:
            return [row.started_at for row in connection.execute(select(erasures.c.started_at))]
    except OperationalError:  # opened read-only before any command of this release made the table
        return []


def record_erasure(engine: Engine, email: str, plan: ErasurePlan) -> None:
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


# ---------------------------------------------------------------- one leader (clb forget)


@dataclass
class LeaderTrace:
    """Every row that names one leader, and the files those rows point to (workspace-relative paths)."""

    names: set[str] = field(default_factory=set)  # as their forms were issued
    organisations: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    rounds: set[str] = field(default_factory=set)
    shas: set[str] = field(default_factory=set)  # every file they returned, or that was mailed from them
    file_names: set[str] = field(default_factory=set)  # as those files came into the inbox
    received_ids: set[int] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)  # forms, archived files, corrections, letters, mailbox files
    quarantined: set[tuple[str, str]] = field(default_factory=set)  # (run id, sha256) of quarantine copies
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows that go


def leader_trace(engine: Engine, leader: str, forgotten_token: Callable[[str], bool]) -> LeaderTrace:
    """Everything the state holds about ``leader`` (an email, case-folded); ``forgotten_token`` says
    whether a form reference was tombstoned by an earlier erasure (their forms that came back since)."""
    found = LeaderTrace()
    with engine.connect() as connection:
        for row in connection.execute(select(forms).where(forms.c.leader_id == leader)):
            found.organisations.add(row.organisation)
            found.names.add(row.name)
            found.tokens.add(row.token)
            found.rounds.add(row.round)
            found.paths.add(row.path)
        mailed = {row.sha256 for row in connection.execute(select(fetched.c.sha256).where(fetched.c.sender == leader))}
        theirs = received.c.leader_id == leader
        if found.tokens:
            theirs |= received.c.token.in_(found.tokens)
        found.shas |= {row.sha256 for row in connection.execute(select(received.c.sha256).where(theirs))}
        unattributed = received.c.leader_id.is_(None) & received.c.token.is_not(None)
        for row in connection.execute(select(received.c.sha256, received.c.token).where(unattributed)):
            if forgotten_token(row.token):
                found.shas.add(row.sha256)
        found.shas |= mailed
        if found.shas:  # duplicates and copies of their files, attributed or not
            for row in connection.execute(select(received).where(received.c.sha256.in_(found.shas))):
                found.received_ids.add(row.id)
                found.file_names.add(row.file)
                found.paths.add(row.archive_path)
                found.quarantined.add((row.run_id, row.sha256))
                if row.round:
                    found.rounds.add(row.round)
        for row in connection.execute(select(corrections).where(corrections.c.leader_id == leader)):
            found.paths |= {row.html_path, row.text_path}
        for row in connection.execute(select(letters).where(letters.c.leader_id == leader)):
            found.paths |= {row.html_path, row.email_path, row.html_path.removesuffix(".html") + ".txt"}
        for row in connection.execute(select(fetched.c.file).where(fetched.c.sha256.in_(found.shas))):
            found.paths.add(row.file)
        found.rows = _leader_rows(connection, leader, found)
    return found


def _leader_rows(connection: Connection, leader: str, found: LeaderTrace) -> dict[str, int]:
    def count(table: Table, where: Any) -> int:
        return int(connection.execute(select(func.count()).select_from(table).where(where)).scalar() or 0)

    ids = found.received_ids or {-1}
    return {
        "forms": count(forms, forms.c.leader_id == leader),
        "received": count(received, received.c.id.in_(ids)),
        "problems": count(problems, problems.c.received_id.in_(ids)),
        "responses": count(responses, responses.c.leader_id == leader),
        "corrections": count(corrections, corrections.c.leader_id == leader),
        "letters": count(letters, letters.c.leader_id == leader),
        "mail": count(mail, mail.c.leader_id == leader),
        "fetched": count(fetched, (fetched.c.sender == leader) | fetched.c.sha256.in_(found.shas or {""})),
    }


def delete_leader(
    engine: Engine, leader: str, tokens: set[str], shas: set[str], received_ids: set[int], nameless: str
) -> None:
    """Every row about them, in one transaction. Their place in the editions partners were shown stays,
    as ``nameless`` with no response, so the next edition is checked against what partners can compute."""
    ids = received_ids or {-1}
    with engine.begin() as connection:
        run = connection.execute
        mine = select(responses.c.id).where(responses.c.leader_id == leader)
        run(update(responses).where(responses.c.superseded_by.in_(mine)).values(superseded_by=None))
        run(delete(responses).where(responses.c.leader_id == leader))
        run(delete(corrections).where(corrections.c.leader_id == leader))
        run(delete(problems).where(problems.c.received_id.in_(ids)))
        run(delete(responses).where(responses.c.received_id.in_(ids)))
        run(delete(corrections).where(corrections.c.received_id.in_(ids)))
        run(delete(received).where(received.c.id.in_(ids)))
        run(delete(letters).where(letters.c.leader_id == leader))
        run(delete(mail).where(mail.c.leader_id == leader))
        run(delete(fetched).where((fetched.c.sender == leader) | fetched.c.sha256.in_(shas or {""})))
        run(delete(form_versions).where(form_versions.c.token.in_(tokens or {""})))
        run(delete(forms).where(forms.c.leader_id == leader))
        for row in run(select(publications.c.id, publications.c.response_ids)).all():
            published = json.loads(row.response_ids)
            if leader in published:
                published.pop(leader)
                published[nameless] = None
                values = {"response_ids": json.dumps(published, sort_keys=True)}
                run(update(publications).where(publications.c.id == row.id).values(**values))


# ---------------------------------------------------------------- tombstones


def add_tombstone(engine: Engine, email_hash: str, token_hashes: Iterable[str], day: str) -> None:
    """What is kept of a forgotten leader: salted hashes of their address and form references, and the day."""
    with engine.begin() as connection:
        connection.execute(forgotten.insert().prefix_with("OR IGNORE").values(email_hash=email_hash, forgotten_on=day))
        for token_hash in token_hashes:
            connection.execute(
                forgotten_tokens.insert().prefix_with("OR IGNORE").values(token_hash=token_hash, forgotten_on=day)
            )


def tombstoned_addresses(engine: Engine) -> dict[str, str]:
    """Every forgotten leader's address hash, with the day."""
    with engine.connect() as connection:
        return {row.email_hash: row.forgotten_on for row in connection.execute(select(forgotten))}


def tombstoned_token(engine: Engine, token_hash: str) -> str | None:
    """The day a form reference's leader was forgotten (by the reference's hash), or None."""
    query = select(forgotten_tokens.c.forgotten_on).where(forgotten_tokens.c.token_hash == token_hash)
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else str(row.forgotten_on)


def compact(engine: Engine) -> None:
    """Rebuild the database file and empty its write-ahead log, so deleted rows survive nowhere."""
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        connection.execute(text("VACUUM"))
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


# ---------------------------------------------------------------- retention (clb purge)

PURGED = "(purged)"


def round_first_seen(engine: Engine) -> dict[str, str]:
    """Each round the state knows from its forms, with the time its last form was issued."""
    query = select(forms.c.round, func.max(forms.c.issued_at)).group_by(forms.c.round)
    with engine.connect() as connection:
        return {round_id: issued for round_id, issued in connection.execute(query)}


def answered_rounds(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(select(responses.c.round).distinct())]


class ReceivedFile(NamedTuple):
    id: int
    sha256: str
    archive_path: str
    run_id: str


def received_files(engine: Engine, round_id: str | None, unclaimed_before: str = "") -> list[ReceivedFile]:
    """The files received for a round; with ``round_id`` None, those no round claims received before
    ``unclaimed_before`` (an ISO time) and not purged yet."""
    where: Any = (
        received.c.round.is_(None) & (received.c.received_at < unclaimed_before) & (received.c.file != PURGED)
        if round_id is None
        else received.c.round == round_id
    )
    query = select(received.c.id, received.c.sha256, received.c.archive_path, received.c.run_id).where(where)
    with engine.connect() as connection:
        return [ReceivedFile(*row) for row in connection.execute(query)]


def round_messages(engine: Engine, round_id: str) -> tuple[list[str], list[str], list[tuple[str, str | None]]]:
    """A round's letters' and correction messages' files, and its sent log (kind, server reply)."""
    with engine.connect() as connection:
        letter_files = [
            path
            for row in connection.execute(select(letters).where(letters.c.round == round_id))
            for path in (row.html_path, row.email_path, row.html_path.removesuffix(".html") + ".txt")
        ]
        correction_files = [
            path
            for row in connection.execute(select(corrections).where(corrections.c.round == round_id))
            for path in (row.html_path, row.text_path)
        ]
        sent = [(row.kind, row.response) for row in connection.execute(select(mail).where(mail.c.round == round_id))]
    return letter_files, correction_files, sent


def round_forms(engine: Engine, round_id: str) -> tuple[list[str], int]:
    """A round's form files, and how many forms and responses it has."""
    with engine.connect() as connection:
        paths = [row.path for row in connection.execute(select(forms.c.path).where(forms.c.round == round_id))]
        answers = connection.execute(select(func.count()).select_from(responses).where(responses.c.round == round_id))
        return paths, len(paths) + int(answers.scalar() or 0)


def purge_messages(engine: Engine, round_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(letters).where(letters.c.round == round_id))
        connection.execute(delete(corrections).where(corrections.c.round == round_id))
        connection.execute(delete(mail).where(mail.c.round == round_id))


def purge_returns(engine: Engine, received_ids: Iterable[int]) -> None:
    """User logs emptied; a cell's text, wherever a problem quoted it, and the file names replaced."""
    ids = set(received_ids) or {-1}
    with engine.begin() as connection:
        connection.execute(update(responses).where(responses.c.received_id.in_(ids)).values(log="[]"))
        quoted = select(problems.c.id, problems.c.found, problems.c.message).where(
            problems.c.received_id.in_(ids), problems.c.found.is_not(None)
        )
        for row in connection.execute(quoted).all():
            message = row.message.replace(f"'{row.found}'", f"'{PURGED}'").replace(f"\u2018{row.found}\u2019", PURGED)
            connection.execute(update(problems).where(problems.c.id == row.id).values(found=None, message=message))
        connection.execute(update(received).where(received.c.id.in_(ids)).values(file=PURGED))


def purge_answers(engine: Engine, round_id: str, nameless: str) -> None:
    """A round's forms and answers removed; the editions partners were shown stay (their counts are what
    the shareable edition keeps showing), whose responses they counted goes (``nameless`` + a number)."""
    with engine.begin() as connection:
        run = connection.execute
        tokens = select(forms.c.token).where(forms.c.round == round_id)
        run(delete(form_versions).where(form_versions.c.token.in_(tokens)))
        run(update(received).where(received.c.round == round_id).values(leader_id=None, token=None))
        run(delete(corrections).where(corrections.c.round == round_id))
        run(delete(responses).where(responses.c.round == round_id))
        editions = publications.c.round.like(f"{round_id}#%") | (publications.c.round == round_id)
        for row in run(select(publications.c.id, publications.c.response_ids).where(editions)).all():
            members = json.loads(row.response_ids)
            anonymous = json.dumps({f"{nameless}{index}": None for index in range(len(members))})
            run(update(publications).where(publications.c.id == row.id).values(response_ids=anonymous))
        run(delete(forms).where(forms.c.round == round_id))


def keep_round_figures(engine: Engine, round_id: str, counts: Mapping[tuple[int, str], int]) -> None:
    """A round's totals per row and answer, kept before its answers go (the Rounds compared sheet)."""
    with engine.begin() as connection:
        connection.execute(delete(round_figures).where(round_figures.c.round == round_id))
        for (number, key), count in sorted(counts.items()):
            connection.execute(
                round_figures.insert().values(round=round_id, perspective=number, category=key, count=count)
            )
