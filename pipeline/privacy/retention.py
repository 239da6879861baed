"""Retention: personal data removed once the partnership's policy says it is no longer needed.

Three clocks, each in days after a round's deadline (``retention:`` in partnership.yaml; a file that no
round claims counts from the day it was received):
- returns: the returned files (archive and quarantine copies), the leaders' user logs, the text quoted
  from their cells, and the names the files came in under;
- letters: letters and their index, correction messages, mail drafts and the sent log;
- answers: each leader's forms and answers of the round, and the facilitator edition that names them.
  The round's totals are kept first (``round_figures``), so the Rounds sheet still compares it, and its
  shareable edition and figures stay for good.

``plan`` lists what is due without touching anything (``clb purge --dry-run``); ``apply`` removes it.
Each step is recorded in the state once done, so a purge runs again safely and does nothing new.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from pipeline.config import Config
from pipeline.forms.names import safe_segment
from pipeline.privacy.forget import compact, quarantine_copies, rewrite_run_reports
from pipeline.reports.publication import ERASED as ERASED_MEMBER
from pipeline.state import (
    corrections,
    current_totals,
    form_versions,
    forms,
    get_meta,
    letters,
    mail,
    problems,
    publications,
    received,
    responses,
    round_figures,
    set_meta,
)
from pipeline.workspace import Workspace

PURGED = "(purged)"
KINDS = ("returns", "letters", "answers")
NO_ROUND = ""  # files no round claims: counted from the day each was received


@dataclass
class Step:
    """One kind of data of one round, due for removal."""

    kind: str  # returns | letters | answers
    round: str  # NO_ROUND: unattributed files
    due: dt.date
    files: set[Path] = field(default_factory=set)
    rows: int = 0
    received_ids: set[int] = field(default_factory=set)
    shas: set[str] = field(default_factory=set)  # the received files' (returns)

    def describe(self) -> str:
        where = f"round {self.round}" if self.round else "files no round claims"
        what = {
            "returns": "returned files and user logs",
            "letters": "letters and mail",
            "answers": "answers and forms",
        }
        return f"{where}: {what[self.kind]} ({len(self.files)} files, {self.rows} rows), due since {self.due}"


def deadline_key(round_id: str) -> str:
    return f"deadline:{round_id}"


def remember_deadline(engine: Engine, config: Config) -> None:
    """The round's deadline, kept when its forms are issued: retention counts from it after the round."""
    set_meta(engine, deadline_key(config.settings.round), config.settings.deadline.isoformat())


def _deadlines(engine: Engine, config: Config) -> dict[str, dt.date]:
    """Every round the state knows, with its deadline (the date its last form was issued, for a round from
    before deadlines were kept)."""
    found = {config.settings.round: config.settings.deadline}
    with engine.connect() as connection:
        rounds = select(forms.c.round, func.max(forms.c.issued_at)).group_by(forms.c.round)
        for round_id, issued in connection.execute(rounds):
            kept = get_meta(engine, deadline_key(round_id))
            found.setdefault(round_id, dt.date.fromisoformat(kept) if kept else dt.date.fromisoformat(issued[:10]))
        for (round_id,) in connection.execute(select(responses.c.round).distinct()):
            kept = get_meta(engine, deadline_key(round_id))
            if round_id not in found and kept:
                found[round_id] = dt.date.fromisoformat(kept)
    return found


def _done_key(step_kind: str, round_id: str) -> str:
    return f"purged-{step_kind}:{round_id}"


def plan(space: Workspace, engine: Engine, config: Config, today: dt.date) -> list[Step]:
    """What retention says must go by ``today``, round by round (nothing is changed)."""
    policy = config.settings.retention
    days = {"returns": policy.returns_days, "letters": policy.letters_days, "answers": policy.answers_days}
    steps: list[Step] = []
    for round_id, deadline in sorted(_deadlines(engine, config).items()):
        for kind in KINDS:
            keep = days[kind]
            if keep is None or today < deadline + dt.timedelta(days=keep):
                continue
            if get_meta(engine, _done_key(kind, round_id)) is not None:
                continue
            steps.append(_find(space, engine, Step(kind, round_id, deadline + dt.timedelta(days=keep))))
    if policy.returns_days is not None:  # files no round claims, by the day each came in
        cutoff = (today - dt.timedelta(days=policy.returns_days)).isoformat()
        step = _find(space, engine, Step("returns", NO_ROUND, today), unclaimed_before=cutoff)
        if step.received_ids:
            steps.append(step)
    return [step for step in steps if step.files or step.rows or step.kind == "answers"]


def _find(space: Workspace, engine: Engine, step: Step, unclaimed_before: str = "") -> Step:
    with engine.connect() as connection:
        if step.kind == "returns":
            where = (
                (received.c.round.is_(None) & (received.c.received_at < unclaimed_before) & (received.c.file != PURGED))
                if step.round == NO_ROUND
                else (received.c.round == step.round)
            )
            for row in connection.execute(select(received).where(where)):
                step.received_ids.add(row.id)
                step.shas.add(row.sha256)
                step.files.add(space.root / row.archive_path)
                step.files |= quarantine_copies(space, row.run_id, row.sha256)
            step.rows = len(step.received_ids)
        elif step.kind == "letters":
            for row in connection.execute(select(letters).where(letters.c.round == step.round)):
                html = space.root / row.html_path
                step.files |= {html, space.root / row.email_path, html.with_suffix(".txt")}
                step.rows += 1
            for row in connection.execute(select(corrections).where(corrections.c.round == step.round)):
                step.files |= {space.root / row.html_path, space.root / row.text_path}
                step.rows += 1
            for row in connection.execute(select(mail).where(mail.c.round == step.round)):
                drafted = re.match(r"drafted as (.+\.eml)$", row.response or "")
                if drafted:
                    step.files.add(space.outbox / "mail" / row.kind / drafted.group(1))
                step.rows += 1
            step.files.add(space.outbox / "letters" / safe_segment(step.round) / "index.html")
        else:
            for row in connection.execute(select(forms).where(forms.c.round == step.round)):
                step.files.add(space.root / row.path)
                step.rows += 1
            step.rows += int(
                connection.execute(
                    select(func.count()).select_from(responses).where(responses.c.round == step.round)
                ).scalar()
                or 0
            )
            reports = space.outbox / "reports" / safe_segment(step.round)
            step.files |= set(reports.glob("*facilitator*"))
    step.files = {path for path in step.files if path.is_file()}
    return step


def apply(space: Workspace, engine: Engine, config: Config, steps: list[Step]) -> None:
    """Remove what each step found, then compact the database (deleted rows are overwritten too)."""
    for step in steps:
        if step.kind == "answers":
            keep_totals(engine, step.round)
        with engine.begin() as connection:
            if step.kind == "returns":
                _purge_returns(connection, step)
            elif step.kind == "letters":
                connection.execute(delete(letters).where(letters.c.round == step.round))
                connection.execute(delete(corrections).where(corrections.c.round == step.round))
                connection.execute(delete(mail).where(mail.c.round == step.round))
            else:
                _purge_answers(connection, step)
        for path in sorted(step.files):
            path.unlink(missing_ok=True)
        if step.kind == "returns":
            _scrub_run_reports(space, step)
        if step.round != NO_ROUND:
            set_meta(engine, _done_key(step.kind, step.round), dt.date.today().isoformat())
    if steps:
        compact(engine)


def _purge_returns(connection: Connection, step: Step) -> None:
    """User logs emptied; a cell's text, wherever a problem quoted it, and the file names replaced."""
    ids = step.received_ids or {-1}
    connection.execute(update(responses).where(responses.c.received_id.in_(ids)).values(log="[]"))
    quoted = select(problems.c.id, problems.c.found, problems.c.message).where(
        problems.c.received_id.in_(ids), problems.c.found.is_not(None)
    )
    for row in connection.execute(quoted).all():
        message = row.message.replace(f"'{row.found}'", f"'{PURGED}'").replace(f"\u2018{row.found}\u2019", PURGED)
        connection.execute(update(problems).where(problems.c.id == row.id).values(found=None, message=message))
    connection.execute(update(received).where(received.c.id.in_(ids)).values(file=PURGED))


def _purge_answers(connection: Connection, step: Step) -> None:
    run = connection.execute
    tokens = select(forms.c.token).where(forms.c.round == step.round)
    run(delete(form_versions).where(form_versions.c.token.in_(tokens)))
    run(update(received).where(received.c.round == step.round).values(leader_id=None, token=None))
    run(delete(corrections).where(corrections.c.round == step.round))
    run(delete(responses).where(responses.c.round == step.round))
    # the editions partners were shown stay (their counts are what the shareable edition keeps showing);
    # whose responses they counted goes with the answers
    editions = publications.c.round.like(f"{step.round}#%") | (publications.c.round == step.round)
    for row in run(select(publications.c.id, publications.c.response_ids).where(editions)).all():
        members = json.loads(row.response_ids)
        nameless = {f"{ERASED_MEMBER}{index}": None for index in range(len(members))}
        run(update(publications).where(publications.c.id == row.id).values(response_ids=json.dumps(nameless)))
    run(delete(forms).where(forms.c.round == step.round))


def keep_totals(engine: Engine, round_id: str) -> None:
    """The round's totals per row and answer, from the leaders' current answers, kept in round_figures."""
    counts = current_totals(engine, responses.c.round == round_id).get(round_id, {})
    if not counts:
        return
    with engine.begin() as connection:
        connection.execute(delete(round_figures).where(round_figures.c.round == round_id))
        for (number, key), count in sorted(counts.items()):
            connection.execute(
                round_figures.insert().values(round=round_id, perspective=number, category=key, count=count)
            )


def _scrub_run_reports(space: Workspace, step: Step) -> None:
    """The purged files' names in the run reports: replaced, the entries kept."""

    def purge(report: Any) -> Any:
        for key in ("accepted", "duplicates", "quarantined"):
            for entry in report.get(key, []):
                if entry.get("sha256") in step.shas and entry.get("file") != PURGED:
                    entry["file"] = PURGED
                    if "same_as" in entry:
                        entry["same_as"] = PURGED
                    for item in entry.get("problems", []):
                        if item.get("found"):
                            item["message"] = str(item.get("message", "")).replace(str(item["found"]), PURGED)
                        item["found"] = None
        return report

    rewrite_run_reports(space, purge)
