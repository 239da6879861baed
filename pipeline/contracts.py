"""The shapes clb hands between stages and publishes, typed so that mypy checks every reader.

The run report (``outbox/runs/<run>/summary.json`` and ``latest.json``) is a public contract: facilitators'
scripts read it. Keys may be added, never removed or renamed; tests/test_intake.py holds a report from an
earlier release as a key skeleton (tests/data/summary-keys-2026-11.json) and checks every key of it is still
produced. Everything here is plain JSON-ready data
(TypedDicts: the report is the same dict in memory and on disk, with no conversion step to drift).
"""

from __future__ import annotations

from typing import NotRequired, TypedDict, final


class ReportProblem(TypedDict):
    """A quarantined file's problem in the run report."""

    code: str
    cell: str | None
    name: str | None
    found: str | None
    message: str
    fix: str


class ProblemRecord(ReportProblem):
    """A problem as it is stored with its receipt (``received.problems``) and shown in the reports:
    whether it kept the return out, besides."""

    blocking: bool


class Note(TypedDict):
    """A problem that did not keep a return out (a formula kept as text, a return mailed by another)."""

    code: str
    cell: str | None
    message: str


class Waiting(TypedDict):
    """A file left in the inbox for a later run, and why; ``needs_you`` is false when time alone will
    settle it (still being saved, changed during the run)."""

    file: str
    why: str
    needs_you: bool


class Accepted(TypedDict):
    file: str
    sha256: str
    leader_id: str | None
    supersedes: str | None
    notes: list[Note]


class Duplicate(TypedDict):
    file: str
    sha256: str
    same_as: str | None


class Quarantined(TypedDict):
    file: str
    sha256: str
    leader_id: str | None
    problems: list[ReportProblem]
    correction_request: str | None


class ChunkReport(TypedDict):
    """One intake run's decisions (a night takes its inbox in chunks, each a run of its own)."""

    run_id: str
    started_at: str
    finished_at: str
    accepted: list[Accepted]
    duplicates: list[Duplicate]
    quarantined: list[Quarantined]
    waiting: list[Waiting]


class Withheld(TypedDict):
    withheld: int
    figures: NotRequired[int]


class Headline(TypedDict):
    """The round's figures after a night's outputs were built."""

    round: str
    responses: int
    roster: int
    outstanding: int
    quarantined_files: int
    shareable_responses: int
    shareable_published_at: str | None
    shareable_withheld: Withheld
    facilitator_withheld: Withheld
    stage: str  # open | chasing | closed (pipeline.rounds.Stage)
    closes_on: str  # the round's last day (deadline and grace), YYYY-MM-DD
    closed_at: str | None
    stage_text: str  # where the round stands, in a sentence for the facilitator


@final
class Fetched(TypedDict):
    """What ``clb fetch`` took from the mailbox."""

    messages: int
    saved: list[dict[str, str]]  # file, sender, message_id, sha256
    already: int
    ignored: list[dict[str, str]]  # message, part, why


@final
class FetchFailed(TypedDict):
    """The mailbox could not be reached or read: the night went on with the inbox as it was."""

    error: str


class AuditAnchor(TypedDict):
    """How far the audit trail reached when a report was written: its lines and the last one's hash."""

    entries: int
    last: str


class Held(TypedDict):
    """An output another program held open (Excel on Windows), so its new edition went beside it."""

    file: str  # workspace-relative, as in ``outputs``
    written_to: str


class RunReport(ChunkReport):
    """A night: its chunks' decisions together, the files written for people, the round's figures."""

    runs: list[str]
    outputs: list[str]
    round: Headline
    fetched: NotRequired[Fetched | FetchFailed]
    purged: NotRequired[list[str]]  # what the retention policy removed, when one is set
    audit: NotRequired[AuditAnchor]  # the audit trail as far as it reached (privacy/audit.py checks it)
    notices: NotRequired[SendReport]  # replacement notices sent or drafted after the intake
    held: NotRequired[list[Held]]  # outputs open in another program: their new editions are beside them


class SendResult(TypedDict):
    leader_id: str
    recipient: str
    status: str  # drafted | sent | deferred | refused
    response: str
    attempts: NotRequired[int]


class Skipped(TypedDict):
    leader_id: str
    why: str


class SendReport(TypedDict):
    """One ``clb send`` run."""

    kind: str
    mode: str
    results: list[SendResult]
    skipped: list[Skipped]
    warning: str  # what the facilitator should know before these go ("" when nothing)
