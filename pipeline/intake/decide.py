"""Deciding each file of a chunk: read once, hashed, guarded and checked (``intake.validate``), held
when it would replace a leader's answers without their word. Reads the inbox and the state; writes
nothing."""

from __future__ import annotations

import hashlib
import logging

from pipeline.config import Config
from pipeline.forms.layout import FormSpec
from pipeline.intake.batch import Batch, Decision, Verdict
from pipeline.intake.entered import FOLDER as ENTERED_FOLDER
from pipeline.intake.safexml import Limits
from pipeline.intake.scan import waiting_entry, why_not
from pipeline.intake.staging import Taken, sha256_of
from pipeline.intake.validate import Examination, examine
from pipeline.mail.headers import authentication_failed
from pipeline.privacy.tombstones import token_forgotten
from pipeline.problems import Code, Problem, problem
from pipeline.state import (
    Engine,
    FormRecord,
    MailEvidence,
    already_taken,
    current_sha256,
    first_receipts,
    form_by_token,
    forms_for_round,
    issued_versions,
    senders_by_sha256,
)
from pipeline.text import one_line
from pipeline.workspace import Workspace


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
    space: Workspace,
    engine: Engine,
    config: Config,
    batch: Batch,
    ready: list[Taken],
    spec: FormSpec,
    issued: dict[str, FormRecord] | None = None,
) -> Batch:
    """Decide every ready file of the chunk. Reads the inbox and the state; writes nothing. A file that
    cannot be read, or whose examination fails, waits in the inbox with the reason; the rest go on.
    ``issued``: the round's forms by token (``forms_for_round``), when the night has them already."""
    round_id = config.settings.round
    limits = Limits(max_file=int(config.settings.intake.max_file_mb * 1024 * 1024))
    if issued is None:
        issued = forms_for_round(engine, round_id)
    active = {form.leader_id.casefold(): form for form in issued.values() if form.revoked_at is None}

    def lookup(token: str) -> FormRecord | None:
        return issued.get(token) or form_by_token(engine, token)

    read: list[tuple[Taken, str, bytes | None]] = []
    for item in ready:
        try:
            sha, data = _read(item, limits.max_file)
        except ChangedWhileReading:
            batch.waiting.append(waiting_entry(item.name, "it changed while this run was reading it", needs_you=False))
            continue
        except OSError as exc:
            batch.waiting.append(waiting_entry(item.name, f"it cannot be read ({why_not(exc)})"))
            continue
        read.append((item, sha, data))
    earlier = first_receipts(engine, [sha for _, sha, _ in read])
    senders = senders_by_sha256(engine, [sha for _, sha, _ in read])  # returns fetched from the mailbox
    current = current_sha256(engine, round_id)
    seen_now: dict[str, str] = {}
    probable: list[tuple[Examination, FormRecord]] = []
    for item, sha, data in read:
        if sha in earlier and already_taken(engine, item.name, sha, item.mtime_ns):
            batch.decisions.append(Decision(item, sha, Verdict.LEFTOVER))
            continue
        if sha in earlier or sha in seen_now:
            batch.decisions.append(Decision(item, sha, Verdict.DUPLICATE, same_as=earlier.get(sha) or seen_now[sha]))
            continue
        if data is None:  # refused without reading it into memory
            size, limit = item.size / 1024 / 1024, limits.max_file / 1024 / 1024
            detail = f"{size:.1f} MB (the limit is {limit:.0f} MB)"
            examination = Examination(problems=[problem(Code.TOO_LARGE, detail=detail)])
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
                batch.waiting.append(waiting_entry(item.name, why))
                continue
        seen_now[sha] = item.name
        if item.name.startswith(f"{ENTERED_FOLDER}/") and examination.form is not None:
            examination.problems.append(problem(Code.ENTERED))
        mailed = senders.get(sha)
        if mailed is not None and examination.form is None:
            owner = probable_owner(mailed, examination, active)
            if owner is not None:  # placed once the batch is decided (below)
                probable.append((examination, owner))
        leader_id = examination.leader_id
        if mailed and leader_id and not examination.blocking(config.settings.intake.accept_partial):
            held = _hold(mailed, leader_id, leader_id in current)
            if held is not None:  # it would replace their answers without their own word: held
                examination.problems.append(held)
            elif mailed.sender != leader_id:  # evidence only: the form's reference decided
                examination.problems.append(problem(Code.SENT_BY_ANOTHER, sender=mailed.sender, leader=leader_id))
        if examination.blocking(config.settings.intake.accept_partial):
            batch.decisions.append(Decision(item, sha, Verdict.QUARANTINED, examination, data=data))
        else:
            leader = examination.leader_id
            assert leader is not None
            batch.decisions.append(
                Decision(item, sha, Verdict.ACCEPTED, examination, supersedes=current.get(leader), data=data)
            )
            current[leader] = sha
    # beside its probable owner, who gets a reply with their form attached; unless their form is in (before
    # or this night, whatever the order): then they are not asked for it again, and the file stays unplaced
    for examination, owner in probable:
        if owner.leader_id not in current:
            examination.form = owner
            examination.problems.append(problem(Code.PROBABLY_FROM, leader=owner.name))
    return batch


# What a file holds when it cannot be any leader's form: then who mailed it says whose it probably is
_UNPLACED = {Code.NOT_A_WORKBOOK, Code.ENCRYPTED, Code.TOO_LARGE, Code.UNSAFE_FILE, Code.MACROS, Code.UNKNOWN_FORM}


def probable_owner(mailed: MailEvidence, examination: Examination, active: dict[str, FormRecord]) -> FormRecord | None:
    """The round's form of the roster leader whose own address mailed a file that holds no readable form
    (a scan, a form saved wrongly, a spreadsheet of their own): the facilitator sees it beside them and
    they get a reply. Not when the receiving server found the address forged, and never for a form of a
    forgotten leader."""
    codes = {item.code for item in examination.problems}
    if not codes or not codes <= _UNPLACED or authentication_failed(mailed.authentication):
        return None
    return active.get((mailed.sender or "").casefold())


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
    return problem(
        Code.HELD_FOR_CONFIRMATION, leader=leader, how=how, how_for_you=how_for_you, date=mailed.fetched_at[:10]
    )
