"""The night's run report: its chunks' decisions together, with the files written for people and the
round's figures, saved as the run's summary and as the latest (``outbox/runs/``), with the audit trail's
anchor. Not intake's: the stages make it once the outputs are built."""

from __future__ import annotations

from pipeline.contracts import Headline, Held, RunReport
from pipeline.files import atomic_write, json_parts
from pipeline.intake.batch import Night
from pipeline.privacy.audit import current_anchor
from pipeline.state import (
    Engine,
    now,
)
from pipeline.workspace import Workspace


def finish_report(
    space: Workspace,
    night: Night,
    outputs: list[str],
    headline: Headline,
    engine: Engine,
    held: list[Held] | None = None,
) -> RunReport:
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
    if held:
        report["held"] = held
    save_report(space, report, engine)
    return report


def save_report(space: Workspace, report: RunReport, engine: Engine) -> None:
    """The night's report as its summary and as the latest, with the audit trail's anchor as it stands;
    written again when the night adds to it (the mailbox, the notices, the retention policy)."""
    anchor = current_anchor(engine)
    if anchor is not None:
        report["audit"] = {"entries": anchor["entries"], "last": anchor["last"]}
    atomic_write(space.outbox / "runs" / report["run_id"] / "summary.json", json_parts(report))
    atomic_write(space.outbox / "runs" / "latest.json", json_parts(report))
