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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import Config
from pipeline.mail.transport import SAMPLES
from pipeline.names import safe_segment
from pipeline.privacy.forget import quarantine_copies, rewrite_run_reports
from pipeline.reports.aggregate import tally
from pipeline.reports.publication import ERASED as ERASED_MEMBER
from pipeline.state import (
    PURGED,
    Engine,
    answered_rounds,
    compact,
    current_answers,
    get_meta,
    keep_round_figures,
    purge_answers,
    purge_messages,
    purge_returns,
    received_files,
    round_first_seen,
    round_forms,
    round_messages,
    set_meta,
)
from pipeline.workspace import Workspace

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
    for round_id, issued in round_first_seen(engine).items():
        kept = get_meta(engine, deadline_key(round_id))
        found.setdefault(round_id, dt.date.fromisoformat(kept) if kept else dt.date.fromisoformat(issued[:10]))
    for round_id in answered_rounds(engine):
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
    if step.kind == "returns":
        files = received_files(engine, None if step.round == NO_ROUND else step.round, unclaimed_before)
        for item in files:
            step.received_ids.add(item.id)
            step.shas.add(item.sha256)
            step.files.add(space.root / item.archive_path)
            step.files |= quarantine_copies(space, item.run_id, item.sha256)
        step.rows = len(step.received_ids)
    elif step.kind == "letters":
        letter_files, correction_files, sent = round_messages(engine, step.round)
        step.files |= {space.root / path for path in letter_files + correction_files}
        step.rows = len(letter_files) // 3 + len(correction_files) // 2 + len(sent)
        for kind, response in sent:
            drafted = re.search(r"drafted as (.+\.eml)$", response or "")
            if drafted:
                step.files.add(space.outbox / "mail" / kind / drafted.group(1))
        step.files.add(space.outbox / "letters" / safe_segment(step.round) / "index.html")
        step.files |= set((space.outbox / "mail" / SAMPLES).rglob("*.eml"))  # the facilitator's samples
    else:
        paths, step.rows = round_forms(engine, step.round)
        step.files |= {space.root / path for path in paths}
        reports = space.outbox / "reports" / safe_segment(step.round)
        step.files |= set(reports.glob("*facilitator*"))
    step.files = {path for path in step.files if path.is_file()}
    return step


def apply(space: Workspace, engine: Engine, config: Config, steps: list[Step]) -> None:
    """Remove what each step found, then compact the database (deleted rows are overwritten too)."""
    for step in steps:
        if step.kind == "answers":
            keep_totals(engine, step.round)
        if step.kind == "returns":
            purge_returns(engine, step.received_ids)
        elif step.kind == "letters":
            purge_messages(engine, step.round)
        else:
            purge_answers(engine, step.round, ERASED_MEMBER)
        for path in sorted(step.files):
            path.unlink(missing_ok=True)
        if step.kind == "returns":
            _scrub_run_reports(space, step)
        if step.round != NO_ROUND:
            set_meta(engine, _done_key(step.kind, step.round), dt.date.today().isoformat())
    if steps:
        compact(engine)


def keep_totals(engine: Engine, round_id: str) -> None:
    """The round's totals per row and answer, from the leaders' current answers, kept in round_figures."""
    counts = tally(current_answers(engine, round_id=round_id).get(round_id, []))
    if counts:
        keep_round_figures(engine, round_id, counts)


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
