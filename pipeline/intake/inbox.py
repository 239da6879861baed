"""The nightly intake batch: every file in ``inbox/`` gets exactly one recorded decision, and none is lost.

The inbox is taken in chunks (at most CHUNK_FILES files or CHUNK_BYTES bytes each), so memory stays
bounded whatever lands there; each chunk is a run of its own, and the order of work within it is what
makes a killed run safe to run again:
  1. a run row is committed as "running"; a run found still "running" later died, and its unreported
     outputs are removed before anything else happens;
  2. each ready file is read once, hashed and examined (nothing is written yet);
  3. the originals are copied into the archive under their sha256 (fsynced), and the quarantine copies,
     reasons, correction requests and the run's summary are written;
  4. all decisions are committed in one transaction;
  5. only then are the files removed from the inbox, and ``latest.json`` updated.
A file found in the inbox that a committed run already recorded (same name, bytes and time) is one whose
removal was cut short: it is removed without a second record.

One file never costs the night: anything that goes wrong reading, hashing, guarding, parsing or archiving
a file makes that file "waiting" (it stays in the inbox, with the reason) or quarantines it. Names are
made visible once, here (``pipeline.text``), before they are stored, shown or written anywhere.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment

from pipeline.config import Config
from pipeline.contracts import Accepted, ChunkReport, Headline, ProblemRecord, ReportProblem, RunReport, Waiting
from pipeline.failures import checkpoint, doing
from pipeline.files import atomic_write, fsync, json_bytes
from pipeline.forms.layout import FormSpec
from pipeline.forms.names import safe_segment
from pipeline.intake import staging
from pipeline.intake.guard import Limits
from pipeline.intake.staging import Taken, sha256_of
from pipeline.intake.validate import Examination, examine
from pipeline.mail.headers import authentication_failed
from pipeline.privacy.audit import current_anchor
from pipeline.privacy.tombstones import token_forgotten
from pipeline.problems import Problem, problem
from pipeline.state import (
    HELD,
    Engine,
    FormRecord,
    MailEvidence,
    Receipt,
    already_taken,
    begin_run,
    current_sha256,
    first_receipts,
    forget_run,
    form_by_token,
    forms_for_round,
    interrupted_runs,
    issued_versions,
    now,
    record_intake,
    senders_by_sha256,
)
from pipeline.templating import environment
from pipeline.text import deadline_text, one_line, visible
from pipeline.workspace import Workspace

RUN_KIND = "nightly"
CHUNK_FILES = 500
CHUNK_BYTES = 32 * 1024 * 1024  # bounds the bytes a chunk holds between reading and archiving
TEMPORARY_PREFIXES = ("~$", ".~lock", "~lock")
TEMPORARY_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download", "~")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")
STORED_ONCE = frozenset({"too-large", "not-a-workbook"})  # refused unread: quarantined as a link to the archive


@dataclass(frozen=True, slots=True)
class InboxFile:
    path: Path
    name: str  # inbox-relative, forward slashes, made visible: how the facilitator knows it
    size: int
    mtime_ns: int


@dataclass
class Decision:
    file: Taken
    sha256: str
    decision: str  # accepted | quarantined | duplicate | leftover
    examination: Examination | None = None
    same_as: str | None = None
    supersedes: str | None = None
    data: bytes | None = None  # the file's bytes, kept from reading it until it is archived


@dataclass
class Batch:
    """What one run (one chunk of the inbox) found and decided; the flow hands it from stage to stage."""

    run_id: str
    started_at: str
    waiting: list[Waiting] = field(default_factory=list)
    taken: list[Taken] = field(default_factory=list)  # the chunk's files, as the run holds them (staging)
    decisions: list[Decision] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    report: ChunkReport | None = None  # made by store_batch


@dataclass
class Night:
    """One nightly run: the inbox as it was listed, taken in chunk by chunk; each chunk is a run of its
    own (the first carries the night's id, the next ``<id>-2``, ...), and their reports make the night's."""

    run_id: str
    started_at: str
    ready: list[InboxFile]
    waiting: list[Waiting]
    reports: list[ChunkReport] = field(default_factory=list)  # each chunk's, as it is committed
    confirmed: list[Accepted] = field(default_factory=list)  # held returns their leaders have confirmed

    def chunks(self) -> list[list[InboxFile]]:
        """The ready files in chunks; one empty chunk when there are none (the run is still recorded)."""
        return chunked(self.ready) or [[]]


def chunked(files: list[InboxFile], most: int | None = None, most_bytes: int | None = None) -> list[list[InboxFile]]:
    """Consecutive files (oldest first), at most ``most`` of them (CHUNK_FILES) and ``most_bytes`` of
    bytes (CHUNK_BYTES) in each chunk; a file over the byte budget goes alone (it is refused as too
    large without being read)."""
    most, most_bytes = most or CHUNK_FILES, most_bytes or CHUNK_BYTES
    chunks: list[list[InboxFile]] = []
    current: list[InboxFile] = []
    size = 0
    for item in files:
        if current and (len(current) >= most or size + item.size > most_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        chunks.append(current)
    return chunks


# ---------------------------------------------------------------- 1. prepare


def prepare_run(space: Workspace, engine: Engine, run_id: str) -> Batch:
    """Clear what dead runs left behind (their files go back to the inbox first), open this run."""
    staging.restore(space)
    for dead in interrupted_runs(engine, RUN_KIND):
        for folder in run_folders(space, dead):
            shutil.rmtree(folder, ignore_errors=True)
        forget_run(engine, dead)
    begin_run(engine, run_id, RUN_KIND)
    checkpoint("after-begin")
    return Batch(run_id=run_id, started_at=now())


def open_night(space: Workspace, engine: Engine, config: Config, run_id: str) -> Night:
    """Prepare the night's first run and list the inbox: the files ready now, and those waiting (still
    being saved, unreadable, not files at all) with the reason."""
    batch = prepare_run(space, engine, run_id)
    ready, waiting = scan_inbox(space.inbox, config.settings.intake.settle_seconds)
    return Night(run_id=run_id, started_at=batch.started_at, ready=ready, waiting=waiting)


def run_folders(space: Workspace, run_id: str) -> list[Path]:
    return [space.outbox / "quarantine" / run_id, space.outbox / "corrections" / run_id, space.outbox / "runs" / run_id]


def temporary_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1].casefold()
    return base.startswith(TEMPORARY_PREFIXES) or base.endswith(TEMPORARY_SUFFIXES)


def _waiting(name: str, why: str, needs_you: bool = True) -> Waiting:
    return {"file": name, "why": why, "needs_you": needs_you}


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def scan_inbox(
    inbox: Path, settle_seconds: float, clock: Callable[[], float] = time.time
) -> tuple[list[InboxFile], list[Waiting]]:
    """Every file under the inbox, any name, any depth (walked without recursion): those ready, and the
    rest with the reason each is left where it is. Nothing found is passed over in silence."""
    ready: list[InboxFile] = []
    waiting: list[Waiting] = []
    if not inbox.is_dir():
        return ready, waiting
    moment = clock()
    folders: list[tuple[Path, str]] = [(inbox, "")]
    while folders:
        folder, prefix = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            waiting.append(_waiting(visible(prefix or "."), f"the folder cannot be read ({_why(exc)})"))
            continue
        for entry in entries:
            raw = f"{prefix}/{entry.name}" if prefix else entry.name
            name = visible(raw)
            try:
                if entry.is_symlink():
                    why = "it is a link, not a file: save the attachment itself into the inbox"
                    waiting.append(_waiting(name, why))
                elif entry.is_dir(follow_symlinks=False):
                    folders.append((Path(entry.path), raw))
                    if entry.name.casefold().endswith(WORKBOOK_SUFFIXES):
                        why = "it is a folder named like a workbook: save the attachment itself into the inbox"
                        waiting.append(_waiting(name + "/", why))
                elif not entry.is_file(follow_symlinks=False):
                    why = "it is not an ordinary file (a pipe, socket or device), so nothing can be read from it"
                    waiting.append(_waiting(name, why + "; remove it"))
                elif raw == ".gitkeep":
                    continue
                elif temporary_name(raw):
                    why = "its name shows it is still being saved (a temporary file)"
                    waiting.append(_waiting(name, why, needs_you=False))
                else:
                    stat = entry.stat(follow_symlinks=False)
                    age = moment - stat.st_mtime
                    if -settle_seconds < age < settle_seconds:
                        why = f"it changed less than {settle_seconds:g} seconds ago"
                        waiting.append(_waiting(name, why, needs_you=False))
                    else:  # settled, or dated in the future (a clock elsewhere): no run can wait that out
                        ready.append(InboxFile(Path(entry.path), name, stat.st_size, stat.st_mtime_ns))
            except OSError as exc:
                waiting.append(_waiting(name, f"it cannot be examined ({_why(exc)})"))
    ready.sort(key=lambda item: (item.mtime_ns, item.name))
    waiting.sort(key=lambda item: item["file"])
    return ready, waiting


def begin_chunk(space: Workspace, engine: Engine, night: Night, index: int) -> Batch:
    """The run that takes in chunk ``index`` of the night: the night's own run for the first."""
    if index == 0:
        return Batch(run_id=night.run_id, started_at=night.started_at, waiting=list(night.waiting))
    return prepare_run(space, engine, f"{night.run_id}-{index + 1}")


# ---------------------------------------------------------------- 2. examine and decide


def take_files(space: Workspace, batch: Batch, chunk: list[InboxFile]) -> list[Taken]:
    """Take the chunk's files out of the inbox into the run's staging folder (``staging``): from here on
    the run reads files nobody else can change or replace. Those that cannot be taken wait."""
    taken, waiting = staging.take(space, batch.run_id, [(i.path, i.name, i.size, i.mtime_ns) for i in chunk])
    batch.taken, batch.waiting = taken, batch.waiting + waiting
    checkpoint("after-staging")
    return taken


def _read(item: Taken, max_file: int) -> tuple[str, bytes | None]:
    """The file's sha256, and its bytes when it is small enough to examine (read once)."""
    if item.size > max_file:
        return sha256_of(item.path), None
    with item.path.open("rb") as stream:
        data = stream.read(max_file + 1)
    if len(data) != item.size:
        raise ChangedWhileReading
    return hashlib.sha256(data).hexdigest(), data


class ChangedWhileReading(Exception):
    """The file's size changed between listing and reading it: it is still being written."""


def examine_batch(
    space: Workspace, engine: Engine, config: Config, batch: Batch, ready: list[Taken], spec: FormSpec
) -> Batch:
    """Decide every ready file of the chunk. Reads the inbox and the state; writes nothing. A file that
    cannot be read, or whose examination fails, waits in the inbox with the reason; the rest go on."""
    round_id = config.settings.round
    limits = Limits(max_file=int(config.settings.intake.max_file_mb * 1024 * 1024))
    issued = forms_for_round(engine, round_id)

    def lookup(token: str) -> FormRecord | None:
        return issued.get(token) or form_by_token(engine, token)

    read: list[tuple[Taken, str, bytes | None]] = []
    for item in ready:
        try:
            sha, data = _read(item, limits.max_file)
        except ChangedWhileReading:
            batch.waiting.append(_waiting(item.name, "it changed while this run was reading it", needs_you=False))
            continue
        except OSError as exc:
            batch.waiting.append(_waiting(item.name, f"it cannot be read ({_why(exc)})"))
            continue
        read.append((item, sha, data))
    earlier = first_receipts(engine, [sha for _, sha, _ in read])
    senders = senders_by_sha256(engine, [sha for _, sha, _ in read])  # returns fetched from the mailbox
    current = current_sha256(engine, round_id)
    seen_now: dict[str, str] = {}
    for item, sha, data in read:
        if sha in earlier and already_taken(engine, item.name, sha, item.mtime_ns):
            batch.decisions.append(Decision(item, sha, "leftover"))
            continue
        if sha in earlier or sha in seen_now:
            batch.decisions.append(Decision(item, sha, "duplicate", same_as=earlier.get(sha) or seen_now[sha]))
            continue
        if data is None:  # refused without reading it into memory
            size, limit = item.size / 1024 / 1024, limits.max_file / 1024 / 1024
            detail = f"{size:.1f} MB (the limit is {limit:.0f} MB)"
            examination = Examination(problems=[problem("too-large", detail=detail)])
        else:
            try:
                examination = examine(
                    data,
                    lookup,
                    spec,
                    round_id,
                    limits,
                    forgotten=lambda token: token_forgotten(engine, token),
                    versions=lambda token: issued_versions(engine, token),
                )
            except Exception as exc:  # a fault of ours, not of the file: it waits for a fixed clb
                logging.getLogger("clb").exception("examining inbox/%s failed", item.name)
                why = f"clb could not check it ({type(exc).__name__}: {one_line(str(exc))}); it stays in the inbox"
                batch.waiting.append(_waiting(item.name, why))
                continue
        seen_now[sha] = item.name
        mailed, leader_id = senders.get(sha), examination.leader_id
        if mailed and leader_id and not examination.blocking(config.settings.intake.accept_partial):
            held = _hold(mailed, leader_id, leader_id in current)
            if held is not None:  # it would replace their answers without their own word: held
                examination.problems.append(held)
            elif mailed.sender != leader_id:  # evidence only: the form's reference decided
                examination.problems.append(problem("sent-by-another", sender=mailed.sender, leader=leader_id))
        if examination.blocking(config.settings.intake.accept_partial):
            batch.decisions.append(Decision(item, sha, "quarantined", examination, data=data))
        else:
            leader = examination.leader_id
            assert leader is not None
            batch.decisions.append(
                Decision(item, sha, "accepted", examination, supersedes=current.get(leader), data=data)
            )
            current[leader] = sha
    return batch


def _hold(mailed: MailEvidence, leader: str, replaces: bool) -> Problem | None:
    """A return that would replace a leader's accepted one is held when it came by mail from another
    address, or from theirs with the receiving server finding the address forged (Authentication-Results):
    whoever holds a leader's form must not change their answers silently."""
    forged = authentication_failed(mailed.authentication)
    if not replaces or (mailed.sender == leader and not forged):
        return None
    if mailed.sender != leader:
        how = f"by email from {mailed.sender or 'an unknown sender'}, not from the leader's own address"
        how_for_you = f"from {mailed.sender or 'an address we could not read'}, not from your own address"
    else:
        how = f"from the leader's address, but the mail server could not verify it ({mailed.authentication})"
        how_for_you = "from your address, but our mail server could not verify that it came from you"
    return problem(HELD, leader=leader, how=how, how_for_you=how_for_you, date=mailed.fetched_at[:10])


# ---------------------------------------------------------------- 3. store


def archive_path(sha256: str) -> str:
    return f"state/archive/{sha256[:2]}/{sha256}"


def store_batch(space: Workspace, config: Config, batch: Batch) -> Batch:
    """Archive the originals, write quarantine copies, reasons and correction requests, and the summary."""
    templates = environment(space.root)
    received_at = now()
    durable: list[Path] = []
    folders: set[Path] = set()
    kept: list[Decision] = []
    for decision in batch.decisions:
        if decision.decision != "leftover":
            target = space.root / archive_path(decision.sha256)
            try:
                if not (target.exists() and target.stat().st_size == decision.file.size):
                    _archive(decision, target, folders)
                    durable.append(target)
            except (OSError, ChangedWhileReading) as exc:
                why = (
                    "it changed while this run was reading it"
                    if isinstance(exc, ChangedWhileReading)
                    else f"it could not be archived ({_why(exc)})"
                )
                batch.waiting.append(_waiting(decision.file.name, why, not isinstance(exc, ChangedWhileReading)))
                continue
            decision.data = None  # the archive holds it now
        kept.append(decision)
    batch.decisions = kept
    _sync(durable, folders)
    checkpoint("after-archive")

    for decision in batch.decisions:
        if decision.decision == "leftover":
            continue
        examination = decision.examination
        problems = [p.record() for p in (examination.problems if examination else [])]
        correction = None
        if decision.decision == "quarantined":
            with doing(
                f"writing the quarantine copy and reasons for inbox/{decision.file.name}",
                public=f"writing the quarantine copy and reasons for the file {decision.sha256[:12]}",
            ):
                correction = _quarantine(space, config, batch, decision, templates, problems, received_at)
        form = examination.form if examination else None
        batch.receipts.append(
            Receipt(
                file=decision.file.name,
                sha256=decision.sha256,
                size=decision.file.size,
                mtime_ns=decision.file.mtime_ns,
                received_at=received_at,
                decision=decision.decision,
                archive_path=archive_path(decision.sha256),
                leader_id=form.leader_id if form else None,
                token=examination.token if examination else None,
                round=form.round if form else None,
                same_as=decision.same_as,
                problems=tuple(problems),
                answers=examination.answers if decision.decision == "accepted" and examination else None,
                log=tuple(examination.log) if examination else (),
                correction=correction,
            )
        )
    batch.report = build_report(batch)
    summary = space.outbox / "runs" / batch.run_id / "summary.json"
    atomic_write(summary, json_bytes(batch.report))
    checkpoint("after-outputs")
    return batch


def _archive(decision: Decision, target: Path, folders: set[Path]) -> None:
    """Put the original into the archive under its sha256 (temporary name, then rename; made durable by
    ``_sync``): a hard link to the staged file (stored once, whatever its size), else the bytes read, else
    a copy checked against the sha256."""
    if target.parent not in folders:
        target.parent.mkdir(parents=True, exist_ok=True)
        folders.add(target.parent)
    temp = target.with_name(f".tmp-{target.name}")
    temp.unlink(missing_ok=True)
    item = decision.file
    if item.staged:
        staging.link_or_copy(item.path, temp)
        stat = temp.stat()
        if (stat.st_size, stat.st_mtime_ns) != (item.size, item.mtime_ns):  # a writer still held it open
            temp.unlink()
            raise ChangedWhileReading
    elif decision.data is not None:
        temp.write_bytes(decision.data)
    else:
        staging.sparse_copy(item.path, temp)
        if sha256_of(temp) != decision.sha256:
            temp.unlink()
            raise ChangedWhileReading
    os.replace(temp, target)


def _sync(paths: list[Path], made: set[Path]) -> None:
    """Make the archive copies durable before the inbox originals can go: each file, then each folder
    that gained an entry, and the parent of each folder made (so the renames survive a power cut too).
    Only what this run wrote is flushed, not every file system of the machine."""
    for path in paths:
        fsync(path)
    for folder in sorted({path.parent for path in paths} | {folder.parent for folder in made}):
        fsync(folder)


def _quarantine(
    space: Workspace,
    config: Config,
    batch: Batch,
    decision: Decision,
    templates: Environment,
    problems: list[ProblemRecord],
    received_at: str,
) -> tuple[str, str] | None:
    folder = space.outbox / "quarantine" / batch.run_id
    base = f"{decision.sha256[:8]} {safe_segment(decision.file.name.replace('/', ' - '))}"
    copy = folder / base
    copy.parent.mkdir(parents=True, exist_ok=True)
    archived = space.root / archive_path(decision.sha256)  # the archived bytes, not the inbox's
    codes = {p["code"] for p in problems}
    if codes & STORED_ONCE:  # refused unread: the archive's file itself (a link), never a second copy
        copy.unlink(missing_ok=True)
        staging.link_or_copy(archived, copy)
    else:  # a form the facilitator may open: a copy of its own
        shutil.copyfile(archived, copy)
    examination = decision.examination
    form = examination.form if examination else None
    correction = None
    if form is not None and examination is not None:
        correction = _correction_request(space, config, batch, decision, form, examination, templates)
    reasons = templates.get_template("reasons.txt.j2").render(
        file=decision.file.name,
        received_at=received_at,
        sha256=decision.sha256,
        run_id=batch.run_id,
        leader=f"{form.name} ({form.organisation}, {form.email})" if form else None,
        problems=problems,
        correction=correction[1] if correction else None,
    )
    atomic_write(folder / f"{base}.reasons.txt", reasons.encode("utf-8"))
    return correction


def _correction_request(
    space: Workspace,
    config: Config,
    batch: Batch,
    decision: Decision,
    form: FormRecord,
    examination: Examination,
    templates: Environment,
) -> tuple[str, str] | None:
    messages = [p.leader_message for p in examination.problems if p.leader_message and p.blocking]
    if not messages:
        return None
    settings = config.settings
    context = {
        "leader_name": form.name,
        "partnership": settings.partnership,
        "round": settings.round,
        "problems": messages,
        "file_name": decision.file.name.rsplit("/", 1)[-1],
        "facilitator_name": settings.facilitator.name,
        "facilitator_email": settings.facilitator.email,
        "deadline": deadline_text(settings.deadline),
        "min_group_size": settings.min_group_size,
        "copyright": config.instrument.copyright,
        **config.instrument.message_words(),
    }
    folder = space.outbox / "corrections" / batch.run_id / safe_segment(form.organisation)
    stem = f"{safe_segment(form.name)} {decision.sha256[:8]}"
    html, text = folder / f"{stem}.html", folder / f"{stem}.txt"
    atomic_write(html, templates.get_template("correction.html.j2").render(**context).encode("utf-8"))
    atomic_write(text, templates.get_template("correction.txt.j2").render(**context).encode("utf-8"))
    return space.relative(html), space.relative(text)


# ---------------------------------------------------------------- 4. commit, 5. clear the inbox


def commit_batch(engine: Engine, batch: Batch) -> None:
    with doing(f"recording the {len(batch.receipts)} decisions of run {batch.run_id}"):
        record_intake(engine, batch.run_id, batch.receipts)
    checkpoint("after-commit")


def clear_inbox(space: Workspace, batch: Batch) -> None:
    """Once the decisions are committed: the staged files decided go (the archive holds each original),
    those not decided go back to the inbox, and a file read in place leaves the inbox only if it is still
    the very file that was read (``staging.finish``). Folders are the facilitator's own and stay. A file
    left in the inbox is named in the chunk's report."""
    decided_files = {id(decision.file) for decision in batch.decisions}
    decided = [(decision.file, decision.sha256) for decision in batch.decisions]
    undecided = [item for item in batch.taken if id(item) not in decided_files]
    checkpoint("mid-removal")
    left = staging.finish(space, batch.run_id, decided, undecided)
    if left and batch.report is not None:
        batch.report["waiting"] += left
        atomic_write(space.outbox / "runs" / batch.run_id / "summary.json", json_bytes(batch.report))


def take_chunk(
    space: Workspace, engine: Engine, config: Config, night: Night, index: int, chunk: list[InboxFile], spec: FormSpec
) -> ChunkReport:
    """One chunk of the inbox from reading to clearing, as a run of its own; returns its report."""
    batch = begin_chunk(space, engine, night, index)
    taken = take_files(space, batch, chunk)
    examine_batch(space, engine, config, batch, taken, spec)
    store_batch(space, config, batch)
    commit_batch(engine, batch)
    clear_inbox(space, batch)
    assert batch.report is not None  # store_batch made it
    return batch.report


def finish_report(space: Workspace, night: Night, outputs: list[str], headline: Headline, engine: Engine) -> RunReport:
    """The night's report from its chunks' reports, with the files written for people to read and the
    round's figures; published as the night's summary and as the latest."""
    parts = night.reports
    report: RunReport = {
        "run_id": night.run_id,
        "started_at": night.started_at,
        "finished_at": now(),
        "accepted": [item for part in parts for item in part["accepted"]] + night.confirmed,
        "duplicates": [item for part in parts for item in part["duplicates"]],
        "quarantined": [item for part in parts for item in part["quarantined"]],
        "waiting": [item for part in parts for item in part["waiting"]],
        "runs": [part["run_id"] for part in parts],
        "outputs": outputs,
        "round": headline,
    }
    save_report(space, report, engine)
    return report


def save_report(space: Workspace, report: RunReport, engine: Engine) -> None:
    """The night's report as its summary and as the latest, with the audit trail's anchor as it stands;
    written again when the night adds to it (the mailbox, the notices, the retention policy)."""
    anchor = current_anchor(engine)
    if anchor is not None:
        report["audit"] = {"entries": anchor["entries"], "last": anchor["last"]}
    atomic_write(space.outbox / "runs" / report["run_id"] / "summary.json", json_bytes(report))
    atomic_write(space.outbox / "runs" / "latest.json", json_bytes(report))


# ---------------------------------------------------------------- the report


def build_report(batch: Batch) -> ChunkReport:
    """The run report, a public contract: facilitators' scripts read it."""
    report: ChunkReport = {
        "run_id": batch.run_id,
        "started_at": batch.started_at,
        "finished_at": now(),
        "accepted": [],
        "duplicates": [],
        "quarantined": [],
        "waiting": list(batch.waiting),
    }
    by_file = {r.file: r for r in batch.receipts}
    for decision in batch.decisions:
        receipt = by_file.get(decision.file.name)
        if receipt is None:
            continue
        if decision.decision == "accepted":
            report["accepted"].append(
                {
                    "file": receipt.file,
                    "sha256": receipt.sha256,
                    "leader_id": receipt.leader_id,
                    "supersedes": decision.supersedes,
                    "notes": [
                        {"code": p["code"], "cell": p["cell"], "message": p["message"]} for p in receipt.problems
                    ],
                }
            )
        elif decision.decision == "duplicate":
            report["duplicates"].append({"file": receipt.file, "sha256": receipt.sha256, "same_as": receipt.same_as})
        else:
            report["quarantined"].append(
                {
                    "file": receipt.file,
                    "sha256": receipt.sha256,
                    "leader_id": receipt.leader_id,
                    "problems": [_reported(p) for p in receipt.problems],
                    "correction_request": receipt.correction[0] if receipt.correction else None,
                }
            )
    return report


def _reported(problem: ProblemRecord) -> ReportProblem:
    """A stored problem as the run report shows it (the report leaves out whether it blocked: a
    quarantined file's problems are why it was quarantined)."""
    return {
        "code": problem["code"],
        "cell": problem["cell"],
        "name": problem["name"],
        "found": problem["found"],
        "message": problem["message"],
        "fix": problem["fix"],
    }


def new_run_id(clock: Callable[[], float] = time.time) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(clock()))
    return f"{stamp}-{os.urandom(3).hex()}"
