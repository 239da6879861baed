"""The nightly intake batch: every file in ``inbox/`` gets exactly one recorded decision, and none is lost.

The order of work is what makes a killed run safe to run again:
  1. a run row is committed as "running"; a run found still "running" later died, and its unreported
     outputs are removed before anything else happens;
  2. each ready file is read, hashed and examined (nothing is written yet);
  3. the originals are copied into the archive under their sha256 (fsynced), and the quarantine copies,
     reasons, correction requests and the run's summary are written;
  4. all decisions are committed in one transaction;
  5. only then are the files removed from the inbox, and ``latest.json`` updated.
A file found in the inbox that a committed run already recorded (same name, bytes and time) is one whose
removal was cut short: it is removed without a second record.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from pipeline.config import Config
from pipeline.files import atomic_write
from pipeline.forms.layout import FormSpec
from pipeline.forms.names import safe_segment
from pipeline.forms.reference import deadline_text
from pipeline.intake.guard import Limits
from pipeline.intake.validate import Examination, examine
from pipeline.problems import problem
from pipeline.state import (
    FormRecord,
    Receipt,
    already_taken,
    begin_run,
    current_responses,
    first_receipts,
    forget_run,
    form_by_token,
    forms_for_round,
    interrupted_runs,
    now,
    record_intake,
)
from pipeline.templating import environment
from pipeline.workspace import Workspace

RUN_KIND = "nightly"
KEEP_BYTES = 256 * 1024 * 1024
TEMPORARY_PREFIXES = ("~$", ".~lock", "~lock")
TEMPORARY_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download", "~")


def checkpoint(name: str) -> None:
    """Die here, as kill -9 would, when CLB_CRASH_AT names this point (used by the crash tests only)."""
    if os.environ.get("CLB_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class InboxFile:
    path: Path
    name: str  # inbox-relative, forward slashes: how the facilitator knows it
    size: int
    mtime_ns: int


@dataclass
class Decision:
    file: InboxFile
    sha256: str
    decision: str  # accepted | quarantined | duplicate | leftover
    examination: Examination | None = None
    same_as: str | None = None
    supersedes: str | None = None
    data: bytes | None = None  # the file's bytes, kept from reading it until it is archived


@dataclass
class Batch:
    """What one run found and decided; the flow hands it from stage to stage."""

    run_id: str
    started_at: str
    waiting: list[dict[str, str]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- 1. prepare


def prepare_run(space: Workspace, engine: Engine, run_id: str) -> Batch:
    """Clear what dead runs left behind, open this run, and list the inbox."""
    for dead in interrupted_runs(engine, RUN_KIND):
        for folder in run_folders(space, dead):
            shutil.rmtree(folder, ignore_errors=True)
        forget_run(engine, dead)
    begin_run(engine, run_id, RUN_KIND)
    checkpoint("after-begin")
    return Batch(run_id=run_id, started_at=now())


def open_batch(space: Workspace, engine: Engine, config: Config, run_id: str) -> tuple[Batch, list[InboxFile]]:
    """Prepare the run and list the inbox: the files ready now (the still-saving ones go in ``waiting``)."""
    batch = prepare_run(space, engine, run_id)
    ready, batch.waiting = scan_inbox(space.inbox, config.settings.intake.settle_seconds)
    return batch, ready


def run_folders(space: Workspace, run_id: str) -> list[Path]:
    return [space.outbox / "quarantine" / run_id, space.outbox / "corrections" / run_id, space.outbox / "runs" / run_id]


def temporary_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1].casefold()
    return base.startswith(TEMPORARY_PREFIXES) or base.endswith(TEMPORARY_SUFFIXES)


def scan_inbox(
    inbox: Path, settle_seconds: float, clock: Callable[[], float] = time.time
) -> tuple[list[InboxFile], list[dict[str, str]]]:
    """Every file under the inbox, any name, subfolders too: those ready, and those still being written."""
    ready: list[InboxFile] = []
    waiting: list[dict[str, str]] = []
    if not inbox.is_dir():
        return ready, waiting
    moment = clock()
    for path in sorted(inbox.rglob("*")):
        name = path.relative_to(inbox).as_posix()
        if path.is_symlink():
            waiting.append({"file": name, "why": "it is a link, not a file: save the attachment itself into the inbox"})
            continue
        if not path.is_file() or name == ".gitkeep":
            continue
        if temporary_name(name):
            waiting.append({"file": name, "why": "its name shows it is still being saved (a temporary file)"})
            continue
        stat = path.stat()
        if moment - stat.st_mtime < settle_seconds:
            waiting.append({"file": name, "why": f"it changed less than {settle_seconds:g} seconds ago"})
            continue
        ready.append(InboxFile(path, name, stat.st_size, stat.st_mtime_ns))
    ready.sort(key=lambda item: (item.mtime_ns, item.name))
    return ready, waiting


# ---------------------------------------------------------------- 2. examine and decide


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def examine_batch(
    space: Workspace, engine: Engine, config: Config, batch: Batch, ready: list[InboxFile], spec: FormSpec
) -> Batch:
    """Decide every ready file. Reads the inbox and the state; writes nothing."""
    round_id = config.settings.round
    limits = Limits(max_file=int(config.settings.intake.max_file_mb * 1024 * 1024))
    issued = forms_for_round(engine, round_id)

    def lookup(token: str) -> FormRecord | None:
        return issued.get(token) or form_by_token(engine, token)

    hashed = [(item, sha256_of(item.path)) for item in ready]
    earlier = first_receipts(engine, [sha for _, sha in hashed])
    current = {leader: response.sha256 for leader, response in current_responses(engine, round_id).items()}
    seen_now: dict[str, str] = {}
    kept = 0  # bytes held in memory until the files are archived; past KEEP_BYTES they are read again
    for item, sha in hashed:
        if sha in earlier and already_taken(engine, item.name, sha, item.mtime_ns):
            batch.decisions.append(Decision(item, sha, "leftover"))
            continue
        if sha in earlier or sha in seen_now:
            batch.decisions.append(Decision(item, sha, "duplicate", same_as=earlier.get(sha) or seen_now[sha]))
            continue
        seen_now[sha] = item.name
        data: bytes | None = None
        if item.size > limits.max_file:  # refused without reading it into memory
            size, limit = item.size / 1024 / 1024, limits.max_file / 1024 / 1024
            examination = Examination(
                problems=[
                    problem(
                        "too-large",
                        detail=f"{size:.1f} MB (the limit is {limit:.0f} MB)",
                    )
                ]
            )
        else:
            data = item.path.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha:
                batch.waiting.append({"file": item.name, "why": "it changed while this run was reading it"})
                seen_now.pop(sha, None)
                continue
            examination = examine(data, lookup, spec, round_id, limits)
            kept += len(data)
            if kept > KEEP_BYTES:
                data = None
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


# ---------------------------------------------------------------- 3. store


def archive_path(sha256: str) -> str:
    return f"state/archive/{sha256[:2]}/{sha256}"


def store_batch(space: Workspace, config: Config, batch: Batch) -> Batch:
    """Archive the originals, write quarantine copies, reasons and correction requests, and the summary."""
    templates = environment(space.root)
    received_at = now()
    durable: list[Path] = []
    for decision in batch.decisions:
        if decision.decision == "leftover":
            continue
        target = space.root / archive_path(decision.sha256)
        if not (target.exists() and target.stat().st_size == decision.file.size):
            _archive(decision, target)
            durable.append(target)
    _sync(durable)
    checkpoint("after-archive")

    for decision in batch.decisions:
        if decision.decision == "leftover":
            continue
        examination = decision.examination
        problems = [p.as_report() | {"blocking": p.blocking} for p in (examination.problems if examination else [])]
        correction = None
        if decision.decision == "quarantined":
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
    atomic_write(summary, _json(batch.report))
    checkpoint("after-outputs")
    return batch


def _archive(decision: Decision, target: Path) -> None:
    """Copy the original into the archive (temporary name, then rename; made durable by ``_sync``)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".tmp-{target.name}")
    if decision.data is not None:
        temp.write_bytes(decision.data)
    else:
        shutil.copyfile(decision.file.path, temp)
        if sha256_of(temp) != decision.sha256:
            temp.unlink()
            raise RuntimeError(f"inbox/{decision.file.name} changed during the run; run again to take it in")
    os.replace(temp, target)


def _sync(paths: list[Path]) -> None:
    """Make the archive copies durable before the inbox originals can go: one sync for the batch."""
    if paths:
        os.sync()


def _quarantine(
    space: Workspace,
    config: Config,
    batch: Batch,
    decision: Decision,
    templates: Any,
    problems: list[dict[str, Any]],
    received_at: str,
) -> tuple[str, str] | None:
    folder = space.outbox / "quarantine" / batch.run_id
    base = f"{decision.sha256[:8]} {safe_segment(decision.file.name.replace('/', ' - '))}"
    copy = folder / base
    copy.parent.mkdir(parents=True, exist_ok=True)
    if decision.data is not None:
        copy.write_bytes(decision.data)
    else:
        shutil.copyfile(decision.file.path, copy)
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
    templates: Any,
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
    }
    folder = space.outbox / "corrections" / batch.run_id / safe_segment(form.organisation)
    stem = f"{safe_segment(form.name)} {decision.sha256[:8]}"
    html, text = folder / f"{stem}.html", folder / f"{stem}.txt"
    atomic_write(html, templates.get_template("correction.html.j2").render(**context).encode("utf-8"))
    atomic_write(text, templates.get_template("correction.txt.j2").render(**context).encode("utf-8"))
    return space.relative(html), space.relative(text)


# ---------------------------------------------------------------- 4. commit, 5. clear the inbox


def commit_batch(engine: Engine, batch: Batch) -> None:
    record_intake(engine, batch.run_id, batch.receipts)
    checkpoint("after-commit")


def clear_inbox(space: Workspace, batch: Batch) -> None:
    """Remove from the inbox every file whose decision is committed; the archive holds the original.
    Folders are the facilitator's own and stay, even when empty."""
    for index, decision in enumerate(batch.decisions):
        decision.file.path.unlink(missing_ok=True)
        if index == 0:
            checkpoint("mid-removal")


def finish_report(space: Workspace, batch: Batch, outputs: list[str], headline: dict[str, Any]) -> dict[str, Any]:
    """Add the files the run wrote for people to read and the round's figures; publish it as the latest."""
    batch.report["outputs"] = outputs
    batch.report["round"] = headline
    batch.report["finished_at"] = now()
    atomic_write(space.outbox / "runs" / batch.run_id / "summary.json", _json(batch.report))
    atomic_write(space.outbox / "runs" / "latest.json", _json(batch.report))
    return batch.report


# ---------------------------------------------------------------- the report


def build_report(batch: Batch) -> dict[str, Any]:
    """The run report, a public contract: facilitators' scripts read it."""
    report: dict[str, Any] = {
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
                    "notes": [{k: p[k] for k in ("code", "cell", "message")} for p in receipt.problems],
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
                    "problems": [
                        {k: p[k] for k in ("code", "cell", "name", "found", "message", "fix")} for p in receipt.problems
                    ],
                    "correction_request": receipt.correction[0] if receipt.correction else None,
                }
            )
    return report


def _json(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# ---------------------------------------------------------------- the whole run, without the engine


def new_run_id(clock: Callable[[], float] = time.time) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(clock()))
    return f"{stamp}-{os.urandom(3).hex()}"


def run_intake(space: Workspace, engine: Engine, config: Config, run_id: str | None = None) -> dict[str, Any]:
    """One nightly intake, stage by stage (the ``nightly`` flow runs the same stages as tasks)."""
    batch, ready = open_batch(space, engine, config, run_id or new_run_id())
    examine_batch(space, engine, config, batch, ready, FormSpec.of(config.instrument))
    store_batch(space, config, batch)
    commit_batch(engine, batch)
    clear_inbox(space, batch)
    from pipeline.reports.build import build_outputs

    return finish_report(space, batch, *build_outputs(space, engine, config, batch.run_id))
