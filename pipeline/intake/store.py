"""Storing a chunk's decisions before they are committed: the originals archived under their sha256
(made durable), the quarantine copies and reasons, the correction requests, the chunk's summary."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from jinja2 import Environment

from pipeline.config import Config
from pipeline.contracts import ProblemRecord
from pipeline.failures import checkpoint, doing
from pipeline.files import atomic_write, fsync_all, json_parts
from pipeline.intake import staging
from pipeline.intake.batch import Batch, Decision, Verdict
from pipeline.intake.decide import ChangedWhileReading
from pipeline.intake.report import build_report
from pipeline.intake.scan import waiting_entry, why_not
from pipeline.intake.staging import archive_path, sha256_of
from pipeline.intake.validate import Examination
from pipeline.names import safe_segment
from pipeline.problems import fixable_in_place
from pipeline.state import (
    FormRecord,
    Receipt,
    now,
)
from pipeline.templating import environment
from pipeline.text import deadline_text
from pipeline.workspace import Workspace

STORED_ONCE = frozenset({"too-large", "not-a-workbook"})  # refused unread: quarantined as a link to the archive


def store_batch(space: Workspace, config: Config, batch: Batch) -> Batch:
    """Archive the originals, write quarantine copies, reasons and correction requests, and the summary."""
    templates = environment(space.root)
    received_at = now()
    durable: list[Path] = []
    folders: set[Path] = set()
    kept: list[Decision] = []
    for decision in batch.decisions:
        if decision.decision is not Verdict.LEFTOVER:
            target = space.root / archive_path(decision.sha256)
            try:
                if not (target.exists() and target.stat().st_size == decision.file.size):
                    _archive(decision, target, folders)
                    durable.append(target)
            except (OSError, ChangedWhileReading) as exc:
                why = (
                    "it changed while this run was reading it"
                    if isinstance(exc, ChangedWhileReading)
                    else f"it could not be archived ({why_not(exc)})"
                )
                batch.waiting.append(waiting_entry(decision.file.name, why, not isinstance(exc, ChangedWhileReading)))
                continue
            decision.data = None  # the archive holds it now
        kept.append(decision)
    batch.decisions = kept
    _sync(durable, folders)
    checkpoint("after-archive")

    for decision in batch.decisions:
        if decision.decision is Verdict.LEFTOVER:
            continue
        examination = decision.examination
        problems = [p.record() for p in (examination.problems if examination else [])]
        correction = None
        if decision.decision is Verdict.QUARANTINED:
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
                answers=examination.answers if decision.decision is Verdict.ACCEPTED and examination else None,
                log=tuple(examination.log) if examination else (),
                correction=correction,
            )
        )
    batch.report = build_report(batch)
    summary = space.outbox / "runs" / batch.run_id / "summary.json"
    atomic_write(summary, json_parts(batch.report))
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
    fsync_all(paths)
    fsync_all(sorted({path.parent for path in paths} | {folder.parent for folder in made}))


def _quarantine(
    space: Workspace,
    config: Config,
    batch: Batch,
    decision: Decision,
    templates: Environment,
    problems: list[ProblemRecord],
    received_at: str,
) -> tuple[str, str] | None:
    copy = space.root / staging.quarantine_path(batch.run_id, decision.sha256, decision.file.name)
    folder, base = copy.parent, copy.name
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
        "file_name": re.sub(r"^[0-9a-f]{12} ", "", decision.file.name.rsplit("/", 1)[-1]),  # as they sent it
        "fixable": fixable_in_place(p.code for p in examination.problems if p.blocking),
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
