"""Work on one return or one leader, on the facilitator's word: accept a held return, enter answers from
paper, place an unplaced file, forget a leader; and the retention policy."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Config, load_config
from pipeline.privacy.audit import record
from pipeline.stages.base import moment, opened, stamped, workspace_config
from pipeline.stages.outputs import rebuild_outputs
from pipeline.state import Engine
from pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pipeline.config import Leader
    from pipeline.contracts import Accepted
    from pipeline.state import FormRecord


def accept(space: Workspace, path: Path, config: Config | None = None) -> Accepted:
    """clb accept: a return held for confirmation accepted on the facilitator's word, recorded in the
    audit trail, and the round's outputs built again with it."""
    from pipeline.intake.confirm import accept_file

    with opened(space) as engine:
        config = config if config is not None else workspace_config(space, engine)
        entry = accept_file(space, engine, config, path)
        rebuild_outputs(space, [config.settings.round], config, engine)
        record(space, "accept", engine, sha256=entry["sha256"], supersedes=entry["supersedes"])
    return entry


@dataclasses.dataclass(frozen=True)
class Entered:
    """What ``enter`` wrote: the filled form in the inbox, and the kept source's sha256 (or "")."""

    leader: str
    file: str
    source: str


def enter(space: Workspace, email: str, answers: str, log: str = "", source: Path | None = None) -> Entered:
    """clb enter: a leader's answers, as the facilitator read them from paper, a scan or an email, written
    into a copy of their issued form in inbox/entered/ (pipeline/intake/entered.py), for the next nightly
    run to check and take in as their return; the source kept in the archive; the audit trail records it
    (the form's and the source's sha256: which return, never whose answers)."""
    from pipeline.intake.entered import EntryRefused, keep_source, parse_answers, write_entry
    from pipeline.intake.staging import archive_path
    from pipeline.state import record_source

    with opened(space) as engine:
        config = workspace_config(space, engine)
        chosen = parse_answers(config.instrument, answers)
        found = _with_form(engine, config, email)
        if found is None:
            raise EntryRefused(_no_form(email, config))
        leader, form = found
        kept = keep_source(space.root, source) if source is not None else ""
        if source is not None:  # a receipt of theirs: clb forget and the retention policy remove it too
            size = source.stat().st_size
            record_source(
                engine, stamped("entered"), leader.id, form.round, source.name, kept, size, archive_path(kept)
            )
        written, sha256 = write_entry(space.root, form.path, config.instrument, chosen, log, moment())
        record(space, "enter", engine, sha256=sha256, source=kept or None)
    return Entered(leader.name, written, kept)


def _with_form(engine: Engine, config: Config, email: str) -> tuple[Leader, FormRecord] | None:
    """The roster leader of ``email`` (as typed: any case, spaces round it) and their form of the round."""
    from pipeline.state import active_forms

    leader = next((item for item in config.roster if item.id == email.strip().casefold()), None)
    form = active_forms(engine, config.settings.round).get(leader.id) if leader else None
    return (leader, form) if leader is not None and form is not None else None


def _no_form(email: str, config: Config) -> str:
    return f"{email} has no form in round {config.settings.round}: check the address, or run clb forms"


class NotPlaceable(ValueError):
    """clb assign was given a file that is not an unplaced quarantined one, or an address with no form."""


def assign(space: Workspace, path: Path, email: str) -> str:
    """clb assign: a quarantined file no leader's form or address placed (the same bytes as ``path``: its
    quarantine copy, or the attachment saved anywhere) placed with the leader of ``email`` on the
    facilitator's word, with a note, shown beside them from now on (the outputs are built again); the
    audit trail records it. The leader's name."""
    from pipeline.problems import Code, problem
    from pipeline.state import assign_receipt, now, quarantined_receipts

    with opened(space) as engine:
        config = workspace_config(space, engine)
        round_id = config.settings.round
        found = _with_form(engine, config, email)
        if found is None:
            raise NotPlaceable(_no_form(email, config))
        leader, _ = found
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        receipts = quarantined_receipts(engine, sha256)
        if not receipts:
            raise NotPlaceable(f"{path} is not a quarantined file (clb assign takes a copy from outbox/quarantine/)")
        received_id, owner = receipts[-1]
        if owner is not None:
            raise NotPlaceable(f"{path} is already shown as {owner}'s")
        note = problem(Code.ASSIGNED, leader=leader.name, date=now()[:10]).record()
        assign_receipt(engine, received_id, leader.id, round_id, note)
        rebuild_outputs(space, [round_id], config, engine)  # the tracker shows it beside them now
        record(space, "assign", engine, sha256=sha256)
    return leader.name


@dataclasses.dataclass
class Forgotten:
    """What ``forget`` did: what it removed, in words, and the files still to remove (empty once done)."""

    lines: list[str]
    left: list[str]


def forget(space: Workspace, email: str, confirm: Callable[[list[str]], bool] = lambda lines: True) -> Forgotten:
    """Erase one leader everywhere (pipeline/privacy/forget.py), then build again the outputs of every
    round they were in. ``confirm`` is shown what would go and says whether to go ahead. What is to be
    erased is recorded in the state first; what could not be removed stays recorded, and running it again
    finishes the job. Nothing found (or not confirmed): nothing done, no lines."""
    from pipeline.privacy.forget import describe, erase, find
    from pipeline.privacy.tombstones import pseudonym
    from pipeline.state import compact, end_erasure, pending_erasure, record_erasure

    with opened(space) as engine:
        leader = email.strip().casefold()
        found = find(space, engine, leader)
        pending = pending_erasure(engine, leader)
        if pending is not None:
            found.add_plan(space, pending)
        lines = describe(found)
        on_roster = any(item.id == found.email for item in load_config(space.config).roster)
        if not (found.found or found.files or on_roster or pending is not None) or not confirm(lines):
            return Forgotten([], [])
        record_erasure(engine, found.email, found.plan(space))  # before anything is removed
        left = erase(space, engine, found)
        _, held = rebuild_outputs(space, sorted(found.rounds), engine=engine)
        # an output open in another program still shows them: removed by the next run, once it is closed
        left += [space.root / entry["file"] for entry in held]
        if left:
            found.files = set(left)
            record_erasure(engine, found.email, found.plan(space))
            return Forgotten(lines, sorted(space.relative(path) for path in left))
        end_erasure(engine, found.email)
        compact(engine)  # the to-do, names and all, overwritten and vacuumed with the rest
        record(
            space,
            "forget",
            engine,
            leader=pseudonym(engine, found.email),  # the tombstone's hash: which erasure, never who
            rows=found.rows,
            files=len(found.files),
            rounds=sorted(found.rounds),
        )
    return Forgotten(lines, [])


def purge(
    space: Workspace,
    config: Config | None = None,
    today: dt.date | None = None,
    dry_run: bool = False,
    engine: Engine | None = None,
) -> list[str]:
    """Apply the retention policy (pipeline/privacy/retention.py): what is due is removed, and the
    outputs of a round whose returns went are built again without its user logs. Returns what was (or,
    with ``dry_run``, would be) removed, in words."""
    from pipeline.privacy.retention import apply, plan

    with opened(space, engine) as engine:
        config = config if config is not None else workspace_config(space, engine)
        steps = plan(space, engine, config, today or dt.date.today())
        if dry_run or not steps:
            return [step.describe() for step in steps]
        apply(space, engine, config, steps)
        gone = {step.round for step in steps if step.kind == "answers"}
        rebuilt = {step.round for step in steps if step.kind == "returns" and step.round} - gone
        if rebuilt:
            rebuild_outputs(space, sorted(rebuilt), config, engine)
        done = [{"kind": step.kind, "round": step.round, "files": len(step.files), "rows": step.rows} for step in steps]
        record(space, "purge", engine, steps=done)
    return [step.describe() for step in steps]
