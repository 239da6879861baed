"""A chunk's run report (``summary.json``), a public contract: facilitators' scripts read it."""

from __future__ import annotations

from pipeline.contracts import ChunkReport, ProblemRecord, ReportProblem
from pipeline.intake.batch import Batch, Verdict
from pipeline.state import (
    now,
)


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
        if decision.decision is Verdict.ACCEPTED:
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
        elif decision.decision is Verdict.DUPLICATE:
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
