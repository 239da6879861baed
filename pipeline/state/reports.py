"""What the outputs are made from, beside the responses: the editions partners were shown, the letters'
fingerprints, and earlier rounds' answers for the Rounds compared sheet."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from sqlalchemy import (
    Engine,
    delete,
    select,
)

from pipeline.state.schema import (
    letters,
    now,
    publications,
    responses,
    round_figures,
)


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


def letter_hashes(engine: Engine, round_id: str) -> dict[str, str]:
    with engine.connect() as connection:
        query = select(letters.c.leader_id, letters.c.inputs_hash).where(letters.c.round == round_id)
        return {row.leader_id: row.inputs_hash for row in connection.execute(query)}


def record_letters(engine: Engine, round_id: str, written: list[LetterRecord]) -> None:
    """Remember what each letter was made from, so an unchanged letter is not made again (in one
    statement of each kind for the night's letters: thousands of statements cost a millisecond a leader)."""
    if not written:
        return
    made = now()
    with engine.begin() as connection:
        for start in range(0, len(written), 500):  # within SQLite's limit of bound values, and little memory
            chunk = written[start : start + 500]
            ids = [item.leader_id for item in chunk]
            connection.execute(delete(letters).where(letters.c.round == round_id, letters.c.leader_id.in_(ids)))
            connection.execute(
                letters.insert(), [{"round": round_id, "generated_at": made, **asdict(item)} for item in chunk]
            )


@dataclass(frozen=True)
class LetterRecord:
    """A leader's latest letter: what it was made from (its inputs' hash) and where it is."""

    leader_id: str
    inputs_hash: str
    html_path: str
    email_path: str  # the page the email is made from: the letter's own (an earlier release's .email.html)


def letters_of_round(engine: Engine, round_id: str) -> list[LetterRecord]:
    columns = (letters.c.leader_id, letters.c.inputs_hash, letters.c.html_path, letters.c.email_path)
    with engine.connect() as connection:
        query = select(*columns).where(letters.c.round == round_id).order_by(letters.c.leader_id)
        return [LetterRecord(*row) for row in connection.execute(query)]


def letter_pages(engine: Engine, round_id: str) -> dict[str, str]:
    """Each leader's letter of the round (its web page, workspace-relative), by leader id."""
    query = select(letters.c.leader_id, letters.c.html_path).where(letters.c.round == round_id)
    with engine.connect() as connection:
        return {row.leader_id: row.html_path for row in connection.execute(query)}


Totals = dict[tuple[int, str], int]  # (row number, answer key) -> how many leaders gave it


def current_answers(
    engine: Engine, round_id: str | None = None, other_than: str | None = None
) -> dict[str, list[dict[int, str | None]]]:
    """Each round's leaders' current answers (one round, or every round but one): ``aggregate.tally``
    counts them."""
    query = select(responses.c.round, responses.c.answers).where(responses.c.superseded_by.is_(None))
    if round_id is not None:
        query = query.where(responses.c.round == round_id)
    if other_than is not None:
        query = query.where(responses.c.round != other_than)
    found: dict[str, list[dict[int, str | None]]] = {}
    with engine.connect() as connection:
        for round_id_, text in connection.execute(query):
            found.setdefault(round_id_, []).append({int(k): v for k, v in json.loads(text).items()})
    return found


def kept_round_figures(engine: Engine, other_than: str) -> dict[str, Totals]:
    """The totals retention kept of rounds whose answers it removed (round_figures)."""
    totals: dict[str, Totals] = {}
    with engine.connect() as connection:
        for row in connection.execute(select(round_figures).where(round_figures.c.round != other_than)):
            totals.setdefault(row.round, {})[(row.perspective, row.category)] = int(row._mapping["count"])
    return totals
