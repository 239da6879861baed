"""What one run (one chunk of the inbox) and one night hold: the files taken, their decisions, the
receipts to record. The stages hand these from step to step."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pipeline.contracts import Accepted, ChunkReport, Waiting
from pipeline.intake.scan import InboxFile, chunked
from pipeline.intake.staging import Taken
from pipeline.intake.validate import Examination
from pipeline.state import (
    Receipt,
)


class Verdict(StrEnum):
    """What became of one file: the run report's sections, and how the state records it."""

    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"  # the same bytes as a file received before
    LEFTOVER = "leftover"  # recorded by a run that died before it could clear it: only cleared now


@dataclass
class Decision:
    file: Taken
    sha256: str
    decision: Verdict
    examination: Examination | None = None
    same_as: str | None = None
    supersedes: str | None = None
    data: bytes | None = None  # the file's bytes, kept from reading it until it is archived


@dataclass
class Batch:
    """What one run (one chunk of the inbox) found and decided; the flow hands it from stage to stage."""

    run_id: str
    started_at: str
    waiting: list[Waiting] = field(default_factory=list)
    taken: list[Taken] = field(default_factory=list)  # the chunk's files, as the run holds them (staging)
    decisions: list[Decision] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    report: ChunkReport | None = None  # made by store_batch


@dataclass
class Night:
    """One nightly run: the inbox as it was listed, taken in chunk by chunk; each chunk is a run of its
    own (the first carries the night's id, the next ``<id>-2``, ...), and their reports make the night's."""

    run_id: str
    started_at: str
    ready: list[InboxFile]
    waiting: list[Waiting]
    reports: list[ChunkReport] = field(default_factory=list)  # each chunk's, as it is committed
    confirmed: list[Accepted] = field(default_factory=list)  # held returns their leaders have confirmed

    def chunks(self) -> list[list[InboxFile]]:
        """The ready files in chunks; one empty chunk when there are none (the run is still recorded)."""
        return chunked(self.ready) or [[]]
