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

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.config import Config
from pipeline.contracts import ChunkReport
from pipeline.failures import checkpoint, doing
from pipeline.files import atomic_write, json_parts
from pipeline.forms.layout import FormSpec
from pipeline.intake import staging
from pipeline.intake.batch import Batch, Night
from pipeline.intake.decide import examine_batch
from pipeline.intake.scan import InboxFile, scan_inbox
from pipeline.intake.staging import Taken
from pipeline.intake.store import store_batch
from pipeline.state import (
    Engine,
    FormRecord,
    begin_run,
    forget_run,
    interrupted_runs,
    now,
    record_intake,
)
from pipeline.workspace import Workspace

RUN_KIND = "nightly"


RUN_KIND = "nightly"


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


def begin_chunk(space: Workspace, engine: Engine, night: Night, index: int) -> Batch:
    """The run that takes in chunk ``index`` of the night: the night's own run for the first."""
    if index == 0:
        return Batch(run_id=night.run_id, started_at=night.started_at, waiting=list(night.waiting))
    return prepare_run(space, engine, f"{night.run_id}-{index + 1}")


def take_files(space: Workspace, batch: Batch, chunk: list[InboxFile]) -> list[Taken]:
    """Take the chunk's files out of the inbox into the run's staging folder (``staging``): from here on
    the run reads files nobody else can change or replace. Those that cannot be taken wait."""
    taken, waiting = staging.take(space, batch.run_id, [(i.path, i.name, i.size, i.mtime_ns) for i in chunk])
    batch.taken, batch.waiting = taken, batch.waiting + waiting
    checkpoint("after-staging")
    return taken


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
        atomic_write(space.outbox / "runs" / batch.run_id / "summary.json", json_parts(batch.report))


def take_chunk(
    space: Workspace,
    engine: Engine,
    config: Config,
    night: Night,
    index: int,
    chunk: list[InboxFile],
    spec: FormSpec,
    issued: dict[str, FormRecord] | None = None,
) -> ChunkReport:
    """One chunk of the inbox from reading to clearing, as a run of its own; returns its report.
    ``issued``: the round's forms by token, when the night loaded them once for all its chunks."""
    batch = begin_chunk(space, engine, night, index)
    taken = take_files(space, batch, chunk)
    examine_batch(space, engine, config, batch, taken, spec, issued)
    store_batch(space, config, batch)
    commit_batch(engine, batch)
    clear_inbox(space, batch)
    assert batch.report is not None  # store_batch made it
    return batch.report


def new_run_id(clock: Callable[[], float] = time.time) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(clock()))
    return f"{stamp}-{os.urandom(3).hex()}"


__all__ = ["examine_batch", "store_batch"]
