"""Who has had what: per roster leader, the form, the mail, the return, the letter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.config import Config
from pipeline.problems import Code
from pipeline.state import (
    DONE,
    Engine,
    IssuedForm,
    MailRecord,
    accepted_dates,
    issued_forms,
    mail_records,
    quarantined_files,
)


@dataclass(frozen=True, slots=True)
class LeaderStatus:
    """One roster leader's progress; dates as YYYY-MM-DD, empty when it has not happened."""

    leader: str
    organisation: str
    email: str
    issued: str
    invited: str
    invitation: str  # "sent", "drafted" or "" for the latest invitation: a draft is never called sent
    reminders: int
    last_reminder: str
    returned: str
    quarantined: int  # quarantined files of theirs this round
    unreadable: int  # of those, files that held no form, mailed from their address (probably theirs)
    letter_date: str
    letter: str  # as invitation


def leader_status(engine: Engine, config: Config, forms: Mapping[str, IssuedForm] | None = None) -> list[LeaderStatus]:
    """Each roster leader's progress, by organisation and name. ``forms``: the round's active forms when
    the caller holds them already (the round page), rather than a second copy of 10,000 records."""
    round_id = config.settings.round
    forms = forms if forms is not None else issued_forms(engine, round_id)
    accepted = accepted_dates(engine, round_id)
    theirs: dict[str, list[MailRecord]] = {}
    for record in mail_records(engine, round_id):
        if record.status in DONE:
            theirs.setdefault(record.leader_id, []).append(record)
    files: dict[str, set[int]] = {}
    probably: dict[str, set[int]] = {}
    for row in quarantined_files(engine, round_id):  # one row per problem: count the files
        if row["leader_id"]:
            files.setdefault(row["leader_id"], set()).add(row["id"])
            if row["code"] == Code.PROBABLY_FROM:
                probably.setdefault(row["leader_id"], set()).add(row["id"])
    quarantined = {leader: len(ids) for leader, ids in files.items()}
    rows = []
    for leader in sorted(config.roster, key=lambda item: (item.organisation, item.name)):
        mine = theirs.get(leader.id, [])

        def last(kind: str, mine: list[MailRecord] = mine) -> str:
            dates = [record.sent_at or "" for record in mine if record.kind == kind]
            return max(dates)[:10] if dates else ""

        def state(kind: str, mine: list[MailRecord] = mine) -> str:
            """ "sent" or "drafted" for the latest of this kind: a draft is never called sent."""
            found = sorted((record.sent_at or "", record.status) for record in mine if record.kind == kind)
            return found[-1][1] if found else ""

        reminders = [record for record in mine if record.kind == "reminder"]
        form = forms.get(leader.id)
        returned = accepted.get(leader.id)
        rows.append(
            LeaderStatus(
                leader=leader.name,
                organisation=leader.organisation,
                email=leader.email,
                issued=form.issued_at[:10] if form else "",
                invited=last("invitation"),
                invitation=state("invitation"),
                reminders=len(reminders),
                last_reminder=last("reminder"),
                returned=returned[:10] if returned else "",
                quarantined=quarantined.get(leader.id, 0),
                unreadable=len(probably.get(leader.id, ())),
                letter_date=last("letter"),
                letter=state("letter"),
            )
        )
    return rows


def totals(rows: list[LeaderStatus]) -> dict[str, int]:
    return {
        "leaders": len(rows),
        "issued": sum(1 for r in rows if r.issued),
        "invited": sum(1 for r in rows if r.invited),
        "reminded": sum(1 for r in rows if r.reminders),
        "returned": sum(1 for r in rows if r.returned),
        "with quarantined files": sum(1 for r in rows if r.quarantined),
        "letter sent": sum(1 for r in rows if r.letter == "sent"),
        "letter drafted": sum(1 for r in rows if r.letter == "drafted"),
    }


@dataclass(frozen=True)
class Unplaced:
    """A quarantined file of the round that no leader's form is in and no leader's address sent."""

    file: str
    received: str  # YYYY-MM-DD
    why: str  # its first problem, as the facilitator reads it


def unplaced_files(engine: Engine, round_id: str) -> list[Unplaced]:
    found: dict[int, Unplaced] = {}
    for row in quarantined_files(engine, round_id):
        if not row["leader_id"] and row["id"] not in found:
            found[row["id"]] = Unplaced(row["file"], (row["received_at"] or "")[:10], row["message"] or "")
    return list(found.values())
