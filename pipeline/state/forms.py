"""Issued forms: each leader's current form per round, every version a reference was issued with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import (
    Engine,
    select,
    update,
)

from pipeline.state.schema import (
    form_versions,
    forms,
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


def active_forms(engine: Engine, round_id: str) -> dict[str, FormRecord]:
    """The current form of every leader issued one in this round, by leader id."""
    query = select(forms).where(forms.c.round == round_id, forms.c.revoked_at.is_(None))
    with engine.connect() as connection:
        return {row.leader_id: _record(row) for row in connection.execute(query)}


class IssuedForm(NamedTuple):
    """Where a leader's active form is, and when it was issued."""

    path: str
    issued_at: str


def issued_forms(engine: Engine, round_id: str) -> dict[str, IssuedForm]:
    """``active_forms`` as progress lists need them, by leader id: two columns rather than the whole
    record (at 10,000 leaders, ~10 MiB less while the round page is made)."""
    query = select(forms.c.leader_id, forms.c.path, forms.c.issued_at).where(
        forms.c.round == round_id, forms.c.revoked_at.is_(None)
    )
    with engine.connect() as connection:
        return {row.leader_id: IssuedForm(row.path, row.issued_at) for row in connection.execute(query)}


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


def forms_for_round(engine: Engine, round_id: str) -> dict[str, FormRecord]:
    """Every form issued for the round (revoked ones too), by token."""
    with engine.connect() as connection:
        return {row.token: _record(row) for row in connection.execute(select(forms).where(forms.c.round == round_id))}


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
