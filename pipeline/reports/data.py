"""What the outputs are made from: each leader's current answers, and everything a round's editions show.

Plain data with no heavy imports: a night with nothing new compares a fingerprint of this and writes
nothing, without loading pandas or openpyxl at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.config import Leader
from pipeline.instrument import Instrument

if TYPE_CHECKING:  # the state module brings SQLAlchemy: only its types are needed here
    from pipeline.state import EarlierResponse, IssuedLeader, QuarantinedProblem


@dataclass(frozen=True, slots=True)
class Answer:
    """One leader's current answers for the round, with who they are."""

    leader_id: str
    name: str
    organisation: str
    answers: dict[int, str | None]
    log: list[dict[str, str]]
    received_at: str
    sha256: str
    file: str = ""  # the name it came in under


@dataclass
class RoundData:
    """Everything the editions show, read from the state once."""

    partnership: str
    round: str
    run_id: str
    generated_at: str
    min_group_size: int
    instrument: Instrument
    answers: list[Answer]
    roster: list[Leader] = field(default_factory=list)
    issued: dict[str, IssuedLeader] = field(default_factory=dict)  # leader id -> as their form was issued
    quarantined: list[QuarantinedProblem] = field(default_factory=list)
    earlier: dict[str, EarlierResponse] = field(default_factory=dict)  # leader id -> their earlier round
    published_counts: dict[int, dict[str, int]] = field(default_factory=dict)  # what partners are shown, per row
    published_respondents: int = 0  # the leaders the partners' figures count (in any row)
    counted: dict[str, dict[int, str | None]] = field(default_factory=dict)  # leader -> answers partners count
    published_note: str = ""
    mail: dict[str, dict[str, str]] = field(default_factory=dict)  # leader id -> kind -> drafted | sent | ...
    senders: dict[str, list[str]] = field(default_factory=dict)  # leader id -> notes: returns mailed by others
    rounds: dict[str, dict[tuple[int, str], int]] = field(default_factory=dict)  # earlier rounds' totals
    answered: dict[int, int] = field(default_factory=dict)  # per row: leaders who have answered it so far
    returned: int = 0  # leaders whose return is accepted so far
    closed_at: str = ""  # when the round closed ("" while it is open)
    closed_by: str = ""  # what closed it: "clb close" or "the deadline"
    closes_on: str = ""  # its last day, YYYY-MM-DD
    publishing: str = "close"  # when partners' figures are published (settings.shareable)

    @property
    def labels(self) -> dict[str, str]:
        """The answers as they read in a sentence ("a bit panicked"), by key."""
        return self.instrument.short_labels()

    @property
    def headings(self) -> dict[str, str]:
        """The same, capitalised for column headings."""
        return {key: label[:1].upper() + label[1:] for key, label in self.labels.items()}


def whom_counted(data: RoundData) -> str:
    """What partners' figures count, truthfully: never "based on 12" over a count of 6. Per row, the
    Counted and Answered-so-far columns say the same in figures."""
    k, noun = data.min_group_size, data.instrument.row_noun
    returned = f"{data.returned} leader{'s have' if data.returned != 1 else ' has'} answered so far"
    if not data.published_counts:
        if data.publishing == "close" and not data.closed_at:
            return f"Partners' figures are published once, when the round closes (after {data.closes_on}): {returned}."
        return (
            f"Not enough responses to show any figures yet: {returned}. A {noun} is shown once at least {k} "
            "leaders have answered it, in a way that never shows what any one of them answered."
        )
    counted = {number: sum(tally.values()) for number, tally in data.published_counts.items()}
    behind = [number for number, answered in data.answered.items() if counted.get(number, 0) < answered]
    if not behind:
        return f"Each {noun} counts every leader who has answered it: {returned}."
    later = (
        f"at least {k} more have answered and comparing the editions cannot show what any one of them answered"
        if data.publishing == "nightly" or data.closed_at
        else "the round closes"
    )
    rows = ", ".join(str(number) for number in sorted(behind))
    return (
        f"From {data.published_respondents} of the {data.returned} leaders who have answered so far. For "
        f"{noun}{'s' if len(behind) > 1 else ''} {rows}, the figures count fewer leaders than have answered "
        f"(the Counted and Answered so far columns): the others will be added when {later}."
    )


def withheld_rule(data: RoundData) -> str:
    """Why a figure partners see may be withheld, in words (the workbook's About sheet, the round page,
    the briefing)."""
    from pipeline.reports.suppress import HIDDEN, MARGIN

    noun, k = data.instrument.row_noun, data.min_group_size
    return (
        f"Counts are shown for the partnership as a whole, per {noun}, only when at least {k} leaders answered "
        f"and, for every answer given, at least {MARGIN} leaders gave another: then no leader's answer can be "
        "worked out, even by a partner who knows their own and one colleague's answers. Otherwise the "
        f"{noun} shows {HIDDEN}. Organisations' own figures are not shared."
    )
