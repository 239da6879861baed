"""Held returns (``held-for-confirmation``) accepted once their leader has said so.

A return that would replace a leader's accepted answers but came from another address (or from theirs,
with the mail server finding it forged) is quarantined and the leader is asked. It is accepted when the
leader sends the very same file again from their own address (the fetch records that message as
evidence; ``confirm_by_mail``, at the start of every night's intake), or when the facilitator confirms it
(``clb accept FILE``, ``accept_file``). The file is read again from the archive and checked exactly as
the nightly run checks any return; the hold stays on record as a note saying who confirmed it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.config import Config
from pipeline.contracts import Accepted
from pipeline.forms.layout import FormSpec
from pipeline.intake.safexml import Limits
from pipeline.intake.validate import examine
from pipeline.mail.headers import authentication_failed
from pipeline.privacy.tombstones import token_forgotten
from pipeline.state import (
    HELD,
    Engine,
    HeldReceipt,
    accept_held,
    current_sha256,
    form_by_token,
    held_receipts,
    issued_versions,
    messages_carrying,
    now,
)
from pipeline.workspace import Workspace


class NotHeld(Exception):
    """The file given to clb accept is not a return held for confirmation."""


def confirm_by_mail(space: Workspace, engine: Engine, config: Config) -> list[Accepted]:
    """Accept every held return of the round that its leader has since sent from their own address."""
    accepted = []
    for held in held_receipts(engine, config.settings.round):
        own = [
            message
            for message in messages_carrying(engine, held.sha256)
            if message.sender == held.leader_id and not authentication_failed(message.authentication)
        ]
        if own:
            note = f"Confirmed: {held.leader_id} sent it again from their own address on {own[0].fetched_at[:10]}."
            entry = accept(space, engine, config, held, note)
            if entry is not None:
                accepted.append(entry)
    return accepted


def accept_file(space: Workspace, engine: Engine, config: Config, path: Path) -> Accepted:
    """clb accept: the held return with the same bytes as ``path`` (its quarantine copy, or the attachment
    saved anywhere) accepted on the facilitator's word. Raises NotHeld when there is none."""
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    found = [held for held in held_receipts(engine) if held.sha256 == sha256]
    if not found:
        raise NotHeld(
            f"{path} is not a return held for confirmation (clb accept takes the quarantined copy of a file "
            f"whose problem is '{HELD}')"
        )
    entry = accept(space, engine, config, found[-1], f"Confirmed by the facilitator on {now()[:10]} (clb accept).")
    if entry is None:
        raise NotHeld(f"{path} no longer passes the checks of round {found[-1].round}; it stays quarantined")
    return entry


def accept(space: Workspace, engine: Engine, config: Config, held: HeldReceipt, note: str) -> Accepted | None:
    """Check the held file again, as the nightly run would, and accept it; None when it does not pass."""
    data = (space.root / held.archive_path).read_bytes()
    limits = Limits(max_file=int(config.settings.intake.max_file_mb * 1024 * 1024))
    examination = examine(
        data,
        lambda token: form_by_token(engine, token),
        FormSpec.of(config.instrument),
        held.round,
        limits,
        forgotten=lambda token: token_forgotten(engine, token),
        versions=lambda token: issued_versions(engine, token),
    )
    if examination.blocking(config.settings.intake.accept_partial) or examination.leader_id != held.leader_id:
        return None
    before = current_sha256(engine, held.round).get(held.leader_id)
    accept_held(engine, held, examination.answers, examination.log, note)
    return {
        "file": held.file,
        "sha256": held.sha256,
        "leader_id": held.leader_id,
        "supersedes": before,
        "notes": [{"code": HELD, "cell": None, "message": note}],
    }
