"""What the commands only read: check files, where every leader stands, the audit trail."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import load_config
from pipeline.privacy.audit import record
from pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pipeline.intake.check import CheckResult
    from pipeline.mail.status import LeaderStatus, Unplaced
    from pipeline.privacy.audit import Entry


def check(space: Workspace, files: list[Path]) -> list[CheckResult]:
    """clb check: the nightly checks on files the facilitator names, recording nothing but the audit line."""
    from pipeline.intake.check import check_files

    results = check_files(space, load_config(space.config), files)
    record(space, "check", files=len(results), acceptable=sum(1 for result in results if result.acceptable))
    return results


@dataclasses.dataclass
class Status:
    """Where every leader of the round stands (clb status), named only if still on the roster."""

    partnership: str
    round: str
    rows: list[LeaderStatus]
    totals: dict[str, int]
    forgotten_on_roster: int
    erasures_unfinished: list[str]  # when each unfinished erasure started
    stage_text: str = ""  # where the round stands (pipeline.rounds)
    unplaced: list[Unplaced] = dataclasses.field(default_factory=list)  # files we could not place


def status(space: Workspace) -> Status | None:
    """Read-only: None when nothing has happened in the workspace yet."""
    from pipeline.mail.status import leader_status, totals, unplaced_files
    from pipeline.privacy.tombstones import forgotten_on, leave_out
    from pipeline.rounds import standing
    from pipeline.state import open_state_readonly, pending_erasures, round_closed

    config = load_config(space.config)
    engine = open_state_readonly(space.database)
    if engine is None:
        return None
    try:
        gone = forgotten_on(engine, [leader.id for leader in config.roster])
        config = leave_out(config, gone)  # named nowhere, on screen neither
        rows = leader_status(engine, config)
        settings = config.settings
        closed = round_closed(engine, settings.round)
        invited = any(row.invitation in ("drafted", "sent") for row in rows)
        _, words = standing(settings, closed.at if closed else "", closed.by if closed else "", invited)
        return Status(
            settings.partnership,
            settings.round,
            rows,
            totals(rows),
            len(gone),
            pending_erasures(engine),
            words,
            unplaced_files(engine, settings.round),
        )
    finally:
        engine.dispose()


def audit_entries(space: Workspace) -> list[Entry]:
    from pipeline.privacy.audit import entries

    return list(entries(space))


def verify_audit(space: Workspace) -> tuple[int, str | None]:
    from pipeline.privacy.audit import verify

    return verify(space)
