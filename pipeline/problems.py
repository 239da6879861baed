"""The one catalogue of problems a returned file can have.

Every place that reports a problem (the run report, the quarantine reasons file, the leader's correction
request, the comparison workbook's quarantine sheet, ``clb check``) formats it from here, so a code means
the same thing everywhere and tests assert on codes and cells, never on wording.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pipeline.contracts import ProblemRecord
from pipeline.text import shown_safely, visible


class Scope(StrEnum):
    FILE = "file"  # the whole file: it cannot be read or attributed
    FORM = "form"  # attributed, but the form itself is not the one we issued
    ROW = "row"  # one statement's row (a perspective, for CLB0.01)
    CELL = "cell"  # one cell


class Code(StrEnum):
    """Every problem's stable code (a misspelt one fails mypy, not a night)."""

    NOT_A_WORKBOOK = "not-a-workbook"
    ENCRYPTED = "encrypted"
    TOO_LARGE = "too-large"
    UNSAFE_FILE = "unsafe-file"
    MACROS = "macros"
    CANNOT_OPEN = "cannot-open"
    FORGOTTEN = "forgotten"
    UNKNOWN_FORM = "unknown-form"
    REPLACED_FORM = "replaced-form"
    WRONG_ROUND = "wrong-round"
    ALTERED_FORM = "altered-form"
    MISSING_TICK = "missing-tick"
    MULTIPLE_TICKS = "multiple-ticks"
    UNRECOGNISED_MARK = "unrecognised-mark"
    FORMULA_IN_CELL = "formula-in-cell"
    HELD_FOR_CONFIRMATION = "held-for-confirmation"
    SENT_BY_ANOTHER = "sent-by-another"
    PROBABLY_FROM = "probably-from"
    ENTERED = "entered"
    ASSIGNED = "assigned"


@dataclass(frozen=True)
class Kind:
    code: Code
    scope: Scope
    message: str  # for the facilitator; {placeholders} filled from the problem's details
    fix: str
    leader: str | None = None  # in the leader's terms, for the correction request; None: not sent
    blocking: bool = True  # False: reported, but does not stop a return being accepted
    summary: str = field(kw_only=True)  # one line for the problem-code table of docs/intake.md


CATALOGUE: dict[Code, Kind] = {
    kind.code: kind
    for kind in [
        Kind(
            Code.NOT_A_WORKBOOK,
            Scope.FILE,
            "This is not an Excel workbook: {detail}.",
            "Ask the leader to send the form they were given as an Excel workbook (.xlsx).",
            "The file you sent us is not the form ({detail}), so there are no answers in it we can read.",
            summary="not a workbook at all (empty, a CSV or PDF renamed, a Word file, a damaged zip or .xls)",
        ),
        Kind(
            Code.ENCRYPTED,
            Scope.FILE,
            "The workbook is locked with a password to open it.",
            "Ask the leader to remove the password (File > Info > Protect Workbook > Encrypt with Password) "
            "and send it again.",
            "The form you sent us is locked with a password, so we cannot open it.",
            summary="locked with a password to open",
        ),
        Kind(
            Code.TOO_LARGE,
            Scope.FILE,
            "The file is {detail}, more than any filled-in form can be.",
            "Do not open it. Ask the leader to send the form they were given, filled in, as .xlsx.",
            "The file you sent us is too large to be the form ({detail}), so we did not open it.",
            summary="larger than any filled form can be (`max_file_mb`)",
        ),
        Kind(
            Code.UNSAFE_FILE,
            Scope.FILE,
            "The file holds something a form never holds: {detail}.",
            "Do not open it. Ask the leader to send the form they were given, filled in, as .xlsx.",
            "The file you sent us holds something the form never holds, so we did not open it.",
            summary="something a form never holds: a zip bomb, an XML DTD or entity, a cell far outside the form, "
            "an embedded object",
        ),
        Kind(
            Code.MACROS,
            Scope.FILE,
            "The workbook contains macros ({detail}).",
            "Ask the leader to save the form as 'Excel Workbook (.xlsx)' and send it again.",
            "The file you sent us contains macros, so we did not open it.",
            summary="contains VBA macros",
        ),
        Kind(
            Code.CANNOT_OPEN,
            Scope.FILE,
            "The file cannot be opened: {detail}.",
            "Check that the file is yours to read (its permissions), or save the attachment again.",
            summary="`clb check` only: the file cannot be read (permissions); the nightly run leaves such a file "
            "waiting",
        ),
        Kind(
            Code.FORGOTTEN,
            Scope.FILE,
            "This form belongs to a leader who asked to be forgotten; their data was erased on {detail}.",
            "Do not use it: delete this file, and tell the sender their form was not taken in. If they now want "
            "to take part again, see 'Forgetting a leader' in docs/data.md.",
            summary="a form of a leader who asked to be forgotten: not read, not attributed",
        ),
        Kind(
            Code.UNKNOWN_FORM,
            Scope.FILE,
            "This workbook is not a form we issued: {detail}.",
            "Check it is the right attachment. Each leader must fill in the form sent to them; a form copied "
            "from someone else or made from scratch cannot be accepted. Send a new form with clb forms --reissue.",
            "The workbook you sent us is not the form we sent you, so we cannot tell that it is your self-assessment.",
            summary="no form reference, or one we never issued",
        ),
        Kind(
            Code.REPLACED_FORM,
            Scope.FORM,
            "This is {leader}'s earlier form, replaced by a new one on {detail}.",
            "Ask the leader to fill in the newest form they were sent.",
            "The form you returned has been replaced by a newer one, sent to you on {detail}. "
            "Please fill in the newest form and send that one.",
            summary="the leader's earlier form, replaced by `clb forms --reissue`",
        ),
        Kind(
            Code.WRONG_ROUND,
            Scope.FORM,
            "The form is for round {detail}, not the current round {round}.",
            "Ask the leader to fill in the form for round {round}.",
            "The form you returned is for round {detail}. Please fill in the form for round {round} and send that.",
            summary="a form of another round (named)",
        ),
        Kind(
            Code.ALTERED_FORM,
            Scope.FORM,
            "The form was changed after it was issued: {detail}.",
            "Ask the leader to fill in an unchanged copy of their form (clb forms --reissue makes a new one).",
            "The form you returned has been changed ({detail}), so we cannot read it reliably. Please fill in "
            "an unchanged copy of the form we sent you (only tick the boxes and type in the log).",
            summary="version, named cells or wording changed since it was issued, or its two references disagree",
        ),
        Kind(
            Code.MISSING_TICK,
            Scope.ROW,
            "{Row} {perspective}: no box is ticked.",
            "Ask the leader to tick one box for {row} {perspective}.",
            "no box is ticked; please tick the one box that gives your answer.",
            summary="a perspective with no mark",
        ),
        Kind(
            Code.MULTIPLE_TICKS,
            Scope.ROW,
            "{Row} {perspective}: more than one box is ticked ({detail}).",
            "Ask the leader to keep one tick for {row} {perspective}.",
            "you ticked {detail}; please keep one.",
            summary="a perspective with more than one mark",
        ),
        Kind(
            Code.UNRECOGNISED_MARK,
            Scope.CELL,
            "{Row} {perspective}: '{found}' in the '{column}' box is not a mark we can read.",
            "Ask the leader to use \u2713 or x in that box.",
            "we found \u2018{found}\u2019, which we cannot read as a mark; please use \u2713 or x.",
            summary="a mark that cannot be read (the value is quoted)",
        ),
        Kind(
            Code.FORMULA_IN_CELL,
            Scope.CELL,
            "{cell} holds a formula; its displayed text '{found}' was kept as text.",
            "Nothing to do; the text is kept and the formula ignored.",
            blocking=False,
            summary="a user-log cell holds a formula: its displayed text is kept",
        ),
        Kind(
            Code.HELD_FOR_CONFIRMATION,
            Scope.FORM,
            "It would replace {leader}'s accepted return, but it came {how}: it is held until {leader} sends "
            "it from their own address, or you confirm it.",
            "Ask {leader} whether they sent it. If they did, run clb accept with this file; if not, leave it: "
            "their earlier return stands.",
            "we received a new copy of your self-assessment {how_for_you} on {date}. It would replace the "
            "answers you sent us earlier, so we have not used it. If it is yours, please send it to us again "
            "from your own email address (it is attached), or reply to say so; if you did not send it, tell "
            "us: your earlier answers stand.",
            summary="would replace the leader's accepted return but came from another address, or from theirs with "
            "the mail server finding it forged: held until they send it themselves or you run `clb accept`",
        ),
        Kind(
            Code.SENT_BY_ANOTHER,
            Scope.FILE,
            "It came by email from {sender}, not from the leader's own address ({leader}); it was taken as "
            "theirs because the form inside is the one issued to them.",
            "Nothing to do, unless {leader} did not mean to send it: then ask them.",
            blocking=False,
            summary="a leader's first return, fetched from another address than theirs",
        ),
        Kind(
            Code.PROBABLY_FROM,
            Scope.FILE,
            "It came by email from {leader}'s own address, so it is shown as probably theirs; no form of "
            "theirs could be read in it.",
            "Send them the drafted reply (clb send corrections), which has their form attached. If the file "
            "is their answers in another shape (a scan, a typed list), you may enter them for them.",
            blocking=False,
            summary="a file that is not a readable form, mailed from a roster leader's own address: shown "
            "beside them, with a reply drafted",
        ),
        Kind(
            Code.ENTERED,
            Scope.FILE,
            "Entered by the facilitator (clb enter) from a return on paper or in another shape.",
            "Nothing to do: the source, when one was given, is kept in the archive (see clb audit).",
            blocking=False,
            summary="answers the facilitator entered with `clb enter`, checked as any return",
        ),
        Kind(
            Code.ASSIGNED,
            Scope.FILE,
            "Placed with {leader} by the facilitator on {date} (clb assign).",
            "If it holds their answers in another shape, enter them: clb enter.",
            blocking=False,
            summary="a quarantined file the facilitator said is a leader's (`clb assign`)",
        ),
    ]
}


@dataclass(frozen=True)
class Problem:
    """One problem found in one returned file."""

    code: Code
    message: str
    fix: str
    leader_message: str | None
    blocking: bool
    cell: str | None = None  # "Self-assessment!C7"
    name: str | None = None  # the cell's defined name, "p1_comfortable"
    found: str | None = None  # the raw value, as text
    perspective: int | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def record(self) -> ProblemRecord:
        """The problem as it is stored with its receipt and shown in every report."""
        return {
            "code": self.code,
            "cell": self.cell,
            "name": self.name,
            "found": self.found,
            "message": self.message,
            "fix": self.fix,
            "blocking": self.blocking,
        }


class _Details(dict[str, Any]):
    """A problem's details for its templates: a placeholder with no value is a fault of the code that made
    the problem, said as one (a leader must never read a '?')."""

    code: str = ""

    def __missing__(self, key: str) -> str:
        raise KeyError(f"problem {self.code!r} was made without the detail {key!r} its message needs")


def problem(
    code: Code,
    *,
    cell: str | None = None,
    name: str | None = None,
    found: str | None = None,
    perspective: int | None = None,
    **details: Any,
) -> Problem:
    """Make a problem from the catalogue; the details fill the message templates. ``row``: what the
    instrument calls a row ("perspective"), for the problems of one row or cell."""
    kind = CATALOGUE[code]
    noun = str(details.pop("row", None) or "row")
    if found is not None:
        found = visible(found)  # a cell's text, quoted in reasons, workbooks and the console
    details = {key: shown_safely(value) if isinstance(value, str) else value for key, value in details.items()}
    values = _Details(
        details,
        cell=cell or "",
        name=name or "",
        found=found if found is not None else "",
        perspective=perspective if perspective is not None else "",
        row=noun,
        Row=noun[:1].upper() + noun[1:],
    )
    values.code = code
    return Problem(
        code=code,
        message=kind.message.format_map(values),
        fix=kind.fix.format_map(values),
        leader_message=_for_the_leader(kind, values) if kind.leader else None,
        blocking=kind.blocking,
        cell=cell,
        name=name,
        found=found,
        perspective=perspective,
        details=dict(details),
    )


def _for_the_leader(kind: Kind, values: Mapping[str, Any]) -> str:
    """What the leader reads, the same way for every problem in a row or a cell: the row's number
    and statement, the box where there is one, then what was found and what to do."""
    text = (kind.leader or "").format_map(values)
    if kind.scope not in (Scope.ROW, Scope.CELL) or not values.get("perspective"):
        return text
    where = f"{values['Row']} {values['perspective']}"
    if values.get("statement"):
        where += f" (\u201c{values['statement']}\u201d)"
    if values.get("column"):
        where += f", the \u2018{values['column']}\u2019 box"
    return f"{where}: {text}"


def fixable_in_place(codes: Iterable[str]) -> bool:
    """A return whose every problem is in a row or a cell of the form: the leader can fix it in the very
    file they sent (their correction attaches it). A file that could not be read safely, or is not the
    form we issued them (another round's, a replaced or altered one), is answered with a fresh copy of
    their form instead."""
    found = [CATALOGUE[Code(code)].scope for code in codes if code in set(Code)]
    return bool(found) and all(scope in (Scope.ROW, Scope.CELL) for scope in found)
