"""``clb forget EMAIL``: a leader's erasure request, answered everywhere the data map (docs/data.md) lists.

What is removed: every state row about them (forms and their versions, returns received and their
problems, answers and user log, correction requests, letters, messages, mailbox evidence, their place in
published snapshots), the files (their returned files in the archive and in quarantine, forms, letters,
correction requests, .eml drafts), their entries in the run reports, and every line of the logs that
names them. Then the outputs of every round they were in are built again without them. The database's
deleted rows are overwritten (``secure_delete``) and it is vacuumed, so nothing lingers in free pages.

What is kept: a tombstone (salted hashes of the address and of each form reference, and the date), so a
form that comes back from them is quarantined as ``forgotten`` and ``clb forms`` never issues them a new
one while their row is still on the roster.

Prefect's database is never given personal data in the first place (pipeline/flows.py): the decisions
artifact carries no file or leader names, and the leaders ``clb forms --reissue`` names reach the flow as
salted pseudonyms. So there is nothing to delete there.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.files import atomic_write, json_bytes
from pipeline.names import possible_stems, safe_segment
from pipeline.privacy.tombstones import pseudonym, salt, token_forgotten
from pipeline.reports.publication import ERASED as ERASED_MEMBER
from pipeline.state import Engine, ErasurePlan, add_tombstone, delete_leader, leader_trace, now
from pipeline.workspace import Workspace

ERASED = "(erased)"


@dataclass
class Erasure:
    """Everything found about one leader: what ``forget`` removes, listed before anything is removed."""

    email: str
    names: set[str] = field(default_factory=set)  # as their forms were issued
    tokens: set[str] = field(default_factory=set)
    shas: set[str] = field(default_factory=set)  # every file they returned (or that was mailed from them)
    file_names: set[str] = field(default_factory=set)  # as those files came into the inbox
    rounds: set[str] = field(default_factory=set)
    received_ids: set[int] = field(default_factory=set)
    files: set[Path] = field(default_factory=set)  # to delete
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows that go

    @property
    def found(self) -> bool:
        return bool(self.tokens or self.shas or any(self.rows.values()))

    def plan(self, space: Workspace) -> ErasurePlan:
        """What is left to remove, as the state keeps it until the erasure is finished."""
        return {
            "names": sorted(self.names),
            "tokens": sorted(self.tokens),
            "shas": sorted(self.shas),
            "file_names": sorted(self.file_names),
            "rounds": sorted(self.rounds),
            "files": sorted(space.relative(path) for path in self.files),
        }

    def add_plan(self, space: Workspace, plan: ErasurePlan) -> None:
        """Join what an earlier, unfinished erasure still had to remove (files that are still there)."""
        self.names |= set(plan.get("names", []))
        self.tokens |= set(plan.get("tokens", []))
        self.shas |= set(plan.get("shas", []))
        self.file_names |= set(plan.get("file_names", []))
        self.rounds |= set(plan.get("rounds", []))
        self.files |= {space.root / name for name in plan.get("files", []) if (space.root / name).is_file()}

    def needles(self) -> list[str]:
        """What may name them in a text file (logs, run reports): longest first, so that a name inside
        an address is replaced as part of the address."""
        words = {self.email, *self.names, *stems(self.names), *self.tokens, *self.file_names}
        return sorted((w for w in words if len(w) >= 3), key=len, reverse=True)


def find(space: Workspace, engine: Engine, email: str) -> Erasure:
    """Everything the workspace holds about ``email`` (nothing is changed)."""
    leader = email.strip().casefold()
    trace = leader_trace(engine, leader, lambda token: token_forgotten(engine, token) is not None)
    found = Erasure(leader, trace.names, trace.tokens, trace.shas, trace.file_names, trace.rounds, trace.received_ids)
    found.rows = trace.rows
    found.files = {space.root / path for path in trace.paths}
    for run_id, sha256 in trace.quarantined:
        found.files |= quarantine_copies(space, run_id, sha256)
    found.files |= drafts_to(space.outbox / "mail", leader)
    found.files |= _letters_by_name(space, found, trace.organisations)
    found.files = {path for path in found.files if path.is_file()}
    return found


def drafts_to(folder: Path, address: str) -> set[Path]:
    """Every .eml draft under ``folder`` addressed to ``address`` (read from its To header: drafts are
    named by the leader's name, which may have changed since)."""
    from email.parser import BytesHeaderParser
    from email.utils import getaddresses

    from pipeline.mail.transport import SAMPLE_OF

    found = set()
    parser = BytesHeaderParser()
    for path in folder.rglob("*.eml"):
        with path.open("rb") as handle:
            headers = parser.parse(handle)
        whose = [*headers.get_all("To", []), *headers.get_all(SAMPLE_OF, [])]
        if any(mailbox.casefold() == address for _, mailbox in getaddresses(whose)):
            found.add(path)
    return found


def _letters_by_name(space: Workspace, found: Erasure, organisations: set[str]) -> set[Path]:
    """Their letters found by file name, in every round's folder: a run that stopped while writing the
    letters leaves some that no record names yet."""
    stems = {stem for org in organisations for name in found.names for stem in possible_stems(found.email, org, name)}
    files: set[Path] = set()
    for round_folder in (space.outbox / "letters").glob("*"):
        for stem in stems:
            files |= {round_folder / f"{stem}{suffix}" for suffix in (".html", ".email.html", ".txt")}
    return files


def quarantine_copies(space: Workspace, run_id: str, sha256: str) -> set[Path]:
    """A received file's quarantine copy and its reasons, under the run that quarantined it."""
    return set((space.outbox / "quarantine" / run_id).glob(f"{sha256[:8]} *"))


def erase(space: Workspace, engine: Engine, found: Erasure) -> list[Path]:
    """Remove what ``find`` found: the tombstone first, then the files (before the rows that find them;
    the state's to-do, ``record_erasure``, lists them too), the run reports' and logs' mentions, then the
    rows. Returns the files that could not be removed or rewritten (held open by a program, read-only):
    a second run finishes them. Safe to run again after a crash: every step finds less the second time."""
    _tombstone(engine, found)
    left: list[Path] = []
    for path in sorted(found.files):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            left.append(path)
    needles = found.needles()
    left += _scrub_reports(space, found, needles)
    left += _scrub_logs(space, needles)
    nameless = f"{ERASED_MEMBER}{secrets.token_hex(8)}"
    delete_leader(engine, found.email, found.tokens, found.shas, found.received_ids, nameless)
    return left


def _tombstone(engine: Engine, found: Erasure) -> None:
    key = salt(engine)
    hashes = [pseudonym(engine, token, key) for token in sorted(found.tokens)]
    add_tombstone(engine, pseudonym(engine, found.email, key), hashes, now()[:10])


def _replace_all(value: str, needles: list[str]) -> str:
    for needle in needles:
        if needle in value:
            value = value.replace(needle, ERASED)
    return value


def rewrite_run_reports(space: Workspace, change: Callable[[Any], Any]) -> list[Path]:
    """Every run report (outbox/runs/) through ``change``, written again only where it changed: the one
    way forget and retention edit them. Returns the reports that could not be written."""
    failed: list[Path] = []
    for path in (space.outbox / "runs").rglob("*.json"):
        try:
            original = path.read_bytes()
            changed = json_bytes(change(json.loads(original)))
            if changed != original:
                atomic_write(path, changed)
        except OSError:
            failed.append(path)
    return failed


def _scrub_reports(space: Workspace, found: Erasure, needles: list[str]) -> list[Path]:
    """Their entries in every run report keep their place (the report's keys are a contract) with every
    value that could name them erased."""
    return rewrite_run_reports(space, lambda report: _scrub_value(report, found, needles))


def _scrub_value(value: object, found: Erasure, needles: list[str]) -> object:
    """A report's value with their entries erased, and any mention of them elsewhere replaced."""
    if isinstance(value, dict):
        if value.get("sha256") in found.shas or value.get("leader_id") == found.email:
            return _erased(value)
        return {key: _scrub_value(item, found, needles) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub_value(item, found, needles) for item in value]
    if isinstance(value, str):
        return _replace_all(value, needles)
    return value


def _erased(value: object, key: str = "") -> object:
    """An entry about them: its shape kept, every text erased but the problem codes and cells; their
    address is null, as an entry with no known leader has."""
    if isinstance(value, dict):
        return {name: _erased(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_erased(item) for item in value]
    if key in ("leader_id", "sender"):
        return None
    if isinstance(value, str) and key not in ("code", "cell"):
        return ERASED
    return value


def _scrub_logs(space: Workspace, needles: list[str]) -> list[Path]:
    """Every log line that names them, with the name erased (the line's time and kind stay). Returns the
    logs that could not be rewritten."""
    folder = space.state_dir / "logs"
    if not folder.is_dir() or not needles:
        return []
    pattern = re.compile("|".join(re.escape(needle) for needle in needles))
    failed: list[Path] = []
    for path in folder.glob("*.log*"):
        try:
            original = path.read_text(encoding="utf-8", errors="replace")
            cleaned = pattern.sub(ERASED, original)
            if cleaned != original:
                atomic_write(path, cleaned.encode("utf-8"))
        except OSError:
            failed.append(path)
    logging.getLogger("clb").info("a leader was forgotten; their mentions in the logs were erased")
    return failed


def describe(found: Erasure) -> list[str]:
    """What ``erase`` would remove, in the facilitator's words (no names: the screen may be shared)."""
    lines = [f"{count} {table} row{'s' if count != 1 else ''}" for table, count in found.rows.items() if count]
    lines.append(
        f"{len(found.files)} file{'s' if len(found.files) != 1 else ''} (returned files, forms, letters, messages)"
    )
    if found.rounds:
        rounds = ", ".join(sorted(found.rounds))
        lines.append(f"the outputs of round{'s' if len(found.rounds) != 1 else ''} {rounds}, built again without them")
    return lines


def stems(names: Iterable[str]) -> set[str]:
    """The file-name forms of their names (forms and letters are named after the leader)."""
    return {safe_segment(name) for name in names}
