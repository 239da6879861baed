"""The rules a returned form must meet, each a function that adds what it finds to the file's
``Examination`` (problems from the one catalogue, the answers, the user log).

Order matters and mirrors how a person would look at the file: is it safe and a workbook at all (guard),
is it one of ours and whose (token), is it still the form we issued (version, names, wording), then is
every row (a perspective, for CLB0.01) answered exactly once. The form's own status cells are never
trusted: the marks are read and counted again here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.forms import layout as L
from pipeline.intake.fast_reader import UnreadableWorkbook, read_guarded
from pipeline.intake.guard import guard
from pipeline.intake.marks import Kind, classify
from pipeline.intake.reading import Cell, Reading
from pipeline.intake.safexml import Guarded, Limits
from pipeline.problems import CATALOGUE, Code, Problem, Scope, problem
from pipeline.state import FormRecord
from pipeline.text import visible


@dataclass
class Examination:
    """Everything intake learnt from one file."""

    problems: list[Problem] = field(default_factory=list)
    token: str | None = None
    form: FormRecord | None = None  # the issued form the token belongs to (None: not attributable)
    answers: dict[int, str | None] = field(default_factory=dict)  # perspective -> tick key
    log: list[dict[str, str]] = field(default_factory=list)

    @property
    def leader_id(self) -> str | None:
        return self.form.leader_id if self.form is not None else None

    def blocking(self, accept_partial: bool = False) -> bool:
        """Whether the problems keep this return out. Partial acceptance forgives row and cell problems only."""
        for item in self.problems:
            if not item.blocking:
                continue
            if (
                accept_partial
                and CATALOGUE[item.code].scope in (Scope.ROW, Scope.CELL)
                and any(answer is not None for answer in self.answers.values())
            ):
                continue
            return True
        return False


DEFAULT_LIMITS = Limits()


def examine(
    data: bytes,
    lookup: Callable[[str], FormRecord | None],
    spec: L.FormSpec,
    current_round: str,
    limits: Limits = DEFAULT_LIMITS,
    forgotten: Callable[[str], str | None] = lambda token: None,
    versions: Callable[[str], frozenset[str]] = lambda token: frozenset(),
) -> Examination:
    """Guard, read and check one returned file. Never raises for anything a file can contain.
    ``forgotten``: the date a form reference's leader was forgotten (clb forget), or None; ``versions``:
    every form version a reference was issued with (``state.issued_versions``)."""
    guarded = guard(data, limits)
    if not isinstance(guarded, Guarded):
        return Examination(problems=[guarded])
    try:
        reading = read_guarded(guarded, spec.wanted, spec.follow)
    except UnreadableWorkbook:
        return Examination(problems=[problem(Code.NOT_A_WORKBOOK, detail="its workbook structure is damaged")])
    return check_reading(reading, lookup, spec, current_round, forgotten, versions)


def check_reading(
    reading: Reading,
    lookup: Callable[[str], FormRecord | None],
    spec: L.FormSpec,
    current_round: str,
    forgotten: Callable[[str], str | None] = lambda token: None,
    versions: Callable[[str], frozenset[str]] = lambda token: frozenset(),
) -> Examination:
    result = Examination()
    tokens = _stamped(reading, "token")
    if not tokens:
        result.problems.append(problem(Code.UNKNOWN_FORM, detail="it carries no form reference"))
        return result
    if len(tokens) > 1:
        result.problems.append(problem(Code.ALTERED_FORM, detail="its two form references disagree"))
        return result
    result.token = token = tokens.pop()
    form = lookup(token)
    if form is None:
        erased_on = forgotten(token)
        if erased_on is not None:
            result.problems.append(problem(Code.FORGOTTEN, detail=erased_on))
        else:
            result.problems.append(problem(Code.UNKNOWN_FORM, detail="its form reference is not one we issued"))
        return result
    result.form = form
    if form.revoked_at is not None:
        result.problems.append(problem(Code.REPLACED_FORM, leader=form.name, detail=form.revoked_at[:10]))
        return result
    if form.round != current_round:
        result.problems.append(problem(Code.WRONG_ROUND, detail=form.round, round=current_round))
        return result
    altered = _alterations(reading, form, spec, versions)
    if altered:
        result.problems.append(problem(Code.ALTERED_FORM, detail="; ".join(altered)))
        return result
    _check_ticks(reading, spec, result)
    _read_log(reading, spec, result)
    return result


def _stamped(reading: Reading, key: str) -> set[str]:
    """A value the form carries in two places (token, version): every distinct value found in either the
    custom document properties or the data sheet (by its name, or where the form put it if the name is gone)."""
    found = set()
    from_properties = reading.properties.get(L.PROPERTY_NAMES[key], "").strip()
    if from_properties:
        found.add(from_properties)
    name = f"clb_{key}"
    named = reading.named(name)
    if named is None:
        named = reading.cell(L.DATA_SHEET, L.data_names()[name].coordinate)
    if isinstance(named.value, str) and named.value.strip():
        found.add(named.value.strip())
    return found


def _alterations(
    reading: Reading, form: FormRecord, spec: L.FormSpec, issued: Callable[[str], frozenset[str]]
) -> list[str]:
    """What differs from the form as issued: version, named cells, the wording of the questions.

    A copy the leader was sent before the form was rewritten in place (new wording elsewhere, or a new
    clb, under the same reference) carries an earlier version issued to this token: it is the form as
    issued when it asks exactly the questions the current form asks, in the same answer columns."""
    changes = []
    stamped = _stamped(reading, "form_version")
    current = form.form_version == spec.version
    earlier = stamped != {form.form_version} and len(stamped) == 1 and current
    earlier = earlier and stamped <= issued(form.token)  # looked up only for such a copy
    if stamped != {form.form_version} and not earlier:
        shown = ", ".join(sorted(stamped)) or "none"
        changes.append(f"form version {shown} instead of {form.form_version}")
    moved = [name for name, target in spec.expected.items() if reading.names.get(name) != target]
    if moved:
        changes.append(f"{len(moved)} named answer cells are missing or moved (first: {moved[0]})")
    if current:
        changes += _reworded(reading, spec, columns=earlier)
    return changes


def _reworded(reading: Reading, spec: L.FormSpec, columns: bool) -> list[str]:
    """The first row whose statement or activity is not the instrument's; with ``columns``, the answer
    columns' headings too."""
    instrument = spec.instrument
    for perspective in instrument.perspectives:
        row = L.perspective_row(perspective.number)
        statement = reading.cell(L.FORM_SHEET, f"A{row}").value
        activity = reading.cell(L.FORM_SHEET, f"B{row}").value
        if statement != perspective.label or activity != perspective.activity:
            return [f"the wording of {instrument.row_noun} {perspective.number} was changed"]
    if columns:
        for offset, tick in enumerate(instrument.ticks):
            heading = reading.cell(
                L.FORM_SHEET, L.CellRef(L.FORM_SHEET, L.FORM_HEADER_ROW, L.TICK_FIRST_COLUMN + offset).coordinate
            )
            if heading.value != tick.label:
                return [f"the answer column '{tick.label}' was changed"]
    return []


def _either(items: list[str]) -> str:
    quoted = [f"'{item}'" for item in items]
    if len(quoted) == 2:
        return f"both {quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _check_ticks(reading: Reading, spec: L.FormSpec, result: Examination) -> None:
    instrument = spec.instrument
    sheet = L.FORM_SHEET
    for perspective in instrument.perspectives:
        marked: list[str] = []
        crossed: list[str] = []
        unreadable = False
        row_refs = []
        for tick in instrument.ticks:
            name = L.tick_name(perspective.number, tick.key)
            sheet_name, coordinate = reading.names[name]
            row_refs.append(coordinate)
            mark = classify(reading.named(name))
            if mark.kind is Kind.TICK:
                marked.append(tick.key)
            elif mark.kind is Kind.CROSS:
                crossed.append(tick.key)
            elif mark.kind is Kind.UNRECOGNISED:
                unreadable = True
                result.problems.append(
                    problem(
                        Code.UNRECOGNISED_MARK,
                        cell=f"{sheet_name}!{coordinate}",
                        name=name,
                        found=mark.raw,
                        perspective=perspective.number,
                        statement=perspective.statement,
                        column=spec.short_labels[tick.key],
                        row=instrument.row_noun,
                    )
                )
        row = f"{sheet}!{row_refs[0]}:{row_refs[-1]}"
        chosen = marked + crossed  # a lone cross counts as the row's tick; crosses beside marks are marks too
        answer = None
        if len(chosen) > 1:
            result.problems.append(
                problem(
                    Code.MULTIPLE_TICKS,
                    cell=row,
                    name=f"p{perspective.number}_*",
                    perspective=perspective.number,
                    statement=perspective.statement,
                    row=instrument.row_noun,
                    detail=_either([spec.short_labels[key] for key in chosen]),
                    found=", ".join(chosen),
                )
            )
        elif len(chosen) == 1 and not unreadable:
            answer = chosen[0]
        elif not chosen and not unreadable:
            result.problems.append(
                problem(
                    Code.MISSING_TICK,
                    cell=row,
                    name=f"p{perspective.number}_*",
                    perspective=perspective.number,
                    statement=perspective.statement,
                    row=instrument.row_noun,
                )
            )
        result.answers[perspective.number] = answer


def _text_of(cell: Cell) -> str:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_log(reading: Reading, spec: L.FormSpec, result: Examination) -> None:
    for line in range(1, L.LOG_LINES + 1):
        entry = {}
        for column in spec.instrument.user_log:
            name = L.log_name(column.key, line)
            cell = reading.named(name)
            if cell is None:
                continue
            text = _text_of(cell).strip()
            if cell.formula:
                sheet, coordinate = reading.names[name]
                result.problems.append(
                    problem(
                        Code.FORMULA_IN_CELL,
                        cell=f"{sheet}!{coordinate}",
                        name=name,
                        found=text,
                    )
                )
            if text:
                entry[column.key] = visible(text, lines=True)  # typed by the leader: kept, made safe
        if entry:
            result.log.append(entry)
