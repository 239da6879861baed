"""The reference form builder: every cell, style, name and protection of a personalised form, with openpyxl.

It is the readable definition of the form. The fast path (``template``) builds one form with this builder
and then only swaps the personal text, and a test proves both give the same workbook.

Text from the roster is always written as text: openpyxl would turn any string starting with ``=`` into a
live formula, so every text cell goes through ``_text``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.formatting.rule import FormulaRule
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.colours import scheme
from pipeline.forms import layout as L
from pipeline.instrument import Instrument, number_word
from pipeline.pagefit import break_lines, fit_lines, fit_row, heading_widths, page_setup, row_height, wrapped_lines
from pipeline.text import deadline_text
from pipeline.xlsx import workbook_bytes

TICK_OPTIONS = "✓,x"
TOOL_DATE = dt.datetime(2013, 1, 1)
EMPTY_MARKS = ("", "-", "no", "false", "0")

_THIN = Side(style="thin", color="404040")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="1F3864")
_HEADER_FONT = Font(name="Calibri", bold=True, color="FFFFFF")  # named: else LibreOffice prints a serif
_BOLD = Font(name="Calibri", bold=True)
_INPUT_FILL = PatternFill("solid", fgColor="FFFFFF")
_LOCKED_FILL = PatternFill("solid", fgColor="F2F2F2")
_WRAP_TOP = Alignment(wrap_text=True, vertical="top")
_CENTRE = Alignment(horizontal="center", vertical="center")
_TOP = Alignment(vertical="top")
_UNLOCKED = Protection(locked=False)


@dataclass(frozen=True)
class FormFields:
    """Everything personal or round-specific that appears on a form."""

    name: str
    organisation: str
    role: str
    partnership: str
    round: str
    deadline: dt.date
    facilitator_name: str
    facilitator_email: str
    token: str
    min_group_size: int = 3
    password: str = ""
    lines: tuple[int, ...] = ()  # the personal rows' heights in lines; () measures them (``personal_lines``)


COVER_WIDTHS: tuple[float, ...] = (22, 52)  # portrait A4 at 100%
PRACTICES_WIDTHS: tuple[float, ...] = (10, 64)


def personal_lines(fields: FormFields, instrument: Instrument) -> tuple[int, ...]:
    """The lines the rows holding personal text need (the cover's name, organisation and role, and the
    Self-assessment sheet's "For ..." row). The fast path builds one template per distinct answer, so
    that a long name gets a taller row there exactly as here."""
    if fields.lines:
        return fields.lines
    cover = COVER_WIDTHS[1]
    return (
        wrapped_lines(fields.name, cover),
        wrapped_lines(fields.organisation, cover),
        wrapped_lines(fields.role or "(not given)", cover),
        max(
            wrapped_lines(f"For {fields.name}", form_widths(instrument)[0], bold=True),
            wrapped_lines(fields.organisation, form_widths(instrument)[1], bold=True),
        ),
    )


def build_form(instrument: Instrument, fields: FormFields) -> bytes:
    """The personalised .xlsx as bytes."""
    workbook = Workbook()
    cover = workbook.active
    assert cover is not None
    cover.title = L.COVER_SHEET
    _cover_sheet(cover, instrument, fields)
    _form_sheet(workbook.create_sheet(L.FORM_SHEET), instrument, fields)
    _log_sheet(workbook.create_sheet(L.LOG_SHEET), instrument, fields)
    if instrument.practices:
        _practices_sheet(workbook.create_sheet(L.PRACTICES_SHEET), instrument, fields)
    _data_sheet(workbook.create_sheet(L.DATA_SHEET), instrument, fields)

    for name, ref in {**L.input_names(instrument), **L.data_names()}.items():
        workbook.defined_names[name] = DefinedName(name, attr_text=ref.absolute)
    for key, value in _data_values(instrument, fields).items():
        workbook.custom_doc_props.append(StringProperty(name=L.PROPERTY_NAMES[key], value=value))

    workbook.security = WorkbookProtection(lockStructure=True)
    if fields.password:
        workbook.security.workbookPassword = fields.password
    workbook.calculation.fullCalcOnLoad = True
    workbook.properties.title = f"Tool {instrument.code} self-assessment"
    workbook.active = 0
    # Stamped with the tool's year: the same inputs give the same bytes, and the fast path can match
    # the reference exactly.
    return workbook_bytes(workbook, TOOL_DATE)


def _data_values(instrument: Instrument, fields: FormFields) -> dict[str, str]:
    return {
        "tool": instrument.code,
        "round": fields.round,
        "token": fields.token,
        "form_version": L.form_version(instrument),
    }


# ---------------------------------------------------------------- cells


def _text(sheet: Worksheet, row: int, column: int, value: str, **style: object) -> Cell:
    """Write text that stays text, even when it starts with '='."""
    cell = sheet.cell(row=row, column=column)
    cell.value = value
    cell.data_type = "s"
    for key, item in style.items():
        setattr(cell, key, item)
    return cell


def _header(sheet: Worksheet, row: int, labels: list[str]) -> None:
    for column, label in enumerate(labels, start=1):
        _text(
            sheet,
            row,
            column,
            label,
            font=_HEADER_FONT,
            fill=_HEADER_FILL,
            border=_BOX,
            alignment=Alignment(wrap_text=True, vertical="center", horizontal="center"),
        )


def _fit(sheet: Worksheet, row: int, texts: list[tuple[str, float]], minimum: float = 0.0) -> None:
    """Give a row the height its wrapped text needs (programs do not all measure rows when they open a file)."""
    fit_row(sheet, row, texts)
    if minimum and (sheet.row_dimensions[row].height or 15.0) < minimum:
        sheet.row_dimensions[row].height = minimum


def _lines_of(sheet: Worksheet, row: int, text: str, widths: tuple[float, ...], font: Font | None = None) -> int:
    """``text`` across the sheet's width, one line per row, broken between words where it is longer
    (cells are never merged: screen readers read them in order). Returns the next free row."""
    size = float(font.sz) if font is not None and font.sz else 11.0
    for line in break_lines(text, sum(widths), size=size, bold=bool(font is not None and font.b)):
        cell = _text(sheet, row, 1, line)
        if font is not None:
            cell.font = font
        if size > 11:
            sheet.row_dimensions[row].height = row_height(1, size)
        row += 1
    return row


def _widths(sheet: Worksheet, widths: tuple[float, ...]) -> None:
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width


def _protect(sheet: Worksheet, fields: FormFields) -> None:
    sheet.protection.sheet = True
    sheet.protection.formatColumns = False
    sheet.protection.formatRows = False
    if fields.password:
        sheet.protection.password = fields.password


def _page(sheet: Worksheet, area: str, widths: tuple[float, ...], header_row: int | None = None) -> None:
    page_setup(sheet, widths, header_row=header_row, repeat_columns=0)
    sheet.print_area = area


# ---------------------------------------------------------------- sheets


def _cover_sheet(sheet: Worksheet, instrument: Instrument, fields: FormFields) -> None:
    widths = COVER_WIDTHS
    _widths(sheet, widths)
    row = _lines_of(sheet, 1, f"Tool: {instrument.code}", widths, Font(name="Calibri", bold=True, size=16))
    row = _lines_of(sheet, row, instrument.title.upper(), widths, Font(name="Calibri", bold=True, size=13)) + 1
    _header(sheet, row, ["Prepared for", "Details"])
    deadline = deadline_text(fields.deadline)
    name_lines, organisation_lines, role_lines, _ = personal_lines(fields, instrument)
    details = [
        ("Leader", fields.name, name_lines),
        ("Organisation", fields.organisation, organisation_lines),
        ("Role", fields.role or "(not given)", role_lines),
        ("Partnership", fields.partnership, 0),
        ("Round", fields.round, 0),
        ("Please return by", deadline, 0),
        ("Return to", f"{fields.facilitator_name}, {fields.facilitator_email}", 0),
    ]
    for label, value, lines in details:
        row += 1
        _text(sheet, row, 1, label, font=_BOLD, border=_BOX, alignment=_WRAP_TOP)
        _text(sheet, row, 2, value, border=_BOX, alignment=_WRAP_TOP)
        if lines:  # personal: measured once per leader, see personal_lines
            fit_lines(sheet, row, lines)
        else:
            _fit(sheet, row, [(value, widths[1])])
    row += 2
    _header(sheet, row, ["Section", "Text"])
    reading: list[tuple[str, str]] = [("Introduction", text) for text in instrument.introduction]
    reading.append(("The question", instrument.question))
    reading.append(("How to use the tool", f"Answer on the '{L.FORM_SHEET}' sheet, then think through the steps."))
    reading += [(f"Step {step.number}", step.wording("workbook")) for step in instrument.steps]
    if instrument.mentor_advice:
        reading.append(("Advice", instrument.mentor_advice))
    reading.append(
        (
            "How to fill in",
            f"On the '{L.FORM_SHEET}' sheet, put one mark in each of the {number_word(len(instrument.perspectives))} "
            "rows, in the column that gives your answer: choose ✓ from the cell's list, or type x. The 'Row "
            "status' column tells you as you go whether each row is done, and the top of the sheet tells you "
            "when the whole form is complete. "
            f"The '{L.LOG_SHEET}' sheet is optional. Only the white boxes with a border can be typed in.",
        )
    )
    reading.append(
        (
            "How to return it",
            f"Save the file as an Excel workbook (.xlsx) and email it to {fields.facilitator_name} "
            f"({fields.facilitator_email}) by {deadline}. You may rename the file: a reference inside it tells "
            "us it is yours, so please do not copy your answers into another person's form.",
        )
    )
    reading.append(
        (
            "Who sees your answers",
            "Your answers are personal. You receive your own feedback letter. Partners see only figures for groups "
            f"of at least {fields.min_group_size} leaders, never your name or your words.",
        )
    )
    if instrument.references:
        reading.append(("Sources", "; ".join(instrument.references)))
    reading.append(("Copyright", f"{instrument.copyright}. {instrument.copyright_notice}"))
    for label, text in reading:
        row += 1
        _text(sheet, row, 1, label, font=_BOLD, alignment=_WRAP_TOP, border=_BOX)
        _text(sheet, row, 2, text, alignment=_WRAP_TOP, border=_BOX)
        _fit(sheet, row, [(text, widths[1]), (label, widths[0])])
    _protect(sheet, fields)
    _page(sheet, f"A1:B{row}", widths)


def _mark_count(ref: str) -> str:
    """1 when a tick cell holds a mark, else 0. FALSE (an unticked in-cell checkbox), '', '-', 'no' and 0
    are not marks; TRUE, numbers other than 0 and any other text are."""
    empties = ",".join(f'LOWER(TRIM({ref}))="{word}"' for word in EMPTY_MARKS)
    return f"IF(ISLOGICAL({ref}),IF({ref},1,0),IF(ISNUMBER({ref}),IF({ref}<>0,1,0),IF(OR({empties}),0,1)))"


def form_widths(instrument: Instrument) -> tuple[float, ...]:
    """Statement, activity, one column per answer (wide enough for its heading's longest word), marks in
    the row, row status."""
    ticks = heading_widths([t.label for t in instrument.ticks], [12.0] * len(instrument.ticks))
    return (36, 38, *ticks, 8, 20)


def log_widths(instrument: Instrument) -> tuple[float, ...]:
    return (24, *[36.0] * (len(instrument.user_log) - 1))


def _form_sheet(sheet: Worksheet, instrument: Instrument, fields: FormFields) -> None:
    widths = form_widths(instrument)
    _widths(sheet, widths)
    _form_heading(sheet, instrument, fields)
    _form_rows(sheet, instrument, widths)
    _form_checks(sheet, instrument)
    last = L.perspective_row(len(instrument.perspectives))
    _text(sheet, last + 2, 1, instrument.copyright)
    sheet.freeze_panes = None
    _protect(sheet, fields)
    _page(sheet, f"A1:{get_column_letter(L.status_column(instrument))}{last + 2}", widths, L.FORM_HEADER_ROW)


def _form_heading(sheet: Worksheet, instrument: Instrument, fields: FormFields) -> None:
    """Rows 1 to 5 are fixed (the layout is a contract): each holds one line that fits the page's width,
    except the leader's name and organisation, which wrap in their own columns. Row 4 tells the leader
    live whether the whole form is complete."""
    _text(sheet, 1, 1, f"Tool: {instrument.code}. {instrument.question}", font=Font(name="Calibri", bold=True, size=12))
    sheet.row_dimensions[1].height = row_height(1, 12)
    _text(sheet, 2, 1, f"For {fields.name}", alignment=_WRAP_TOP, font=_BOLD)
    _text(sheet, 2, 2, fields.organisation, alignment=_WRAP_TOP, font=_BOLD)
    _text(sheet, 2, 3, f"Please return by {deadline_text(fields.deadline)}", alignment=_TOP)
    fit_lines(sheet, 2, personal_lines(fields, instrument)[3])
    _text(sheet, 3, 1, f"{instrument.tick_instruction}.")
    _text(
        sheet,
        L.FORM_HEADER_ROW - 1,
        1,
        f"Round {fields.round}. One mark per row: choose ✓ from the list in the cell, or type x.",
    )
    _text(sheet, L.OVERALL_ROW, 1, "Form status", font=_BOLD)
    count_col = get_column_letter(L.count_column(instrument))
    first, last = L.FIRST_PERSPECTIVE_ROW, L.perspective_row(len(instrument.perspectives))
    total, rows = len(instrument.perspectives), instrument.rows_noun
    counts = f"{count_col}{first}:{count_col}{last}"
    status = sheet.cell(row=L.OVERALL_ROW, column=2)
    status.value = (
        f'=IF(COUNTIF({counts},1)={total},"Complete: all {total} {rows} answered. Save and email it back.",'
        f'"Not complete: "&COUNTIF({counts},1)&" of {total} {rows} answered"'
        f'&IF(COUNTIF({counts},">1")>0,", "&COUNTIF({counts},">1")&" with more than one mark",""))'
    )
    status.font = _BOLD


def _form_rows(sheet: Worksheet, instrument: Instrument, widths: tuple[float, ...]) -> None:
    """The header in the answers' own colours, then one row per statement: its words, one input box per
    answer, the marks counted, and the row's status in words."""
    ticks = instrument.ticks
    headings = [instrument.perspectives_heading, instrument.activity_heading, *[t.label for t in ticks]]
    _header(sheet, L.FORM_HEADER_ROW, [*headings, "Marks in row", "Row status"])
    fit_row(sheet, L.FORM_HEADER_ROW, list(zip(headings, widths, strict=False)), bold=True)
    colours = scheme(len(ticks))
    for offset, (colour, ink) in enumerate(zip(colours.colours, colours.ink, strict=True)):
        cell = sheet.cell(row=L.FORM_HEADER_ROW, column=L.TICK_FIRST_COLUMN + offset)
        cell.fill = PatternFill("solid", fgColor=colour)
        cell.font = Font(name="Calibri", bold=True, color=ink)
    for perspective in instrument.perspectives:
        row = L.perspective_row(perspective.number)
        _text(sheet, row, 1, perspective.label, alignment=_WRAP_TOP, border=_BOX, fill=_LOCKED_FILL)
        _text(sheet, row, 2, perspective.activity, alignment=_WRAP_TOP, border=_BOX, fill=_LOCKED_FILL)
        refs = []
        for offset in range(len(ticks)):
            cell = sheet.cell(row=row, column=L.TICK_FIRST_COLUMN + offset)
            cell.protection = _UNLOCKED
            cell.border = _BOX
            cell.fill = _INPUT_FILL
            cell.alignment = _CENTRE
            cell.font = Font(size=14)
            refs.append(cell.coordinate)
        count = sheet.cell(row=row, column=L.count_column(instrument))
        count.value = "=" + "+".join(_mark_count(ref) for ref in refs)
        count.alignment = _CENTRE
        count.border = _BOX
        row_status = sheet.cell(row=row, column=L.status_column(instrument))
        row_status.value = (
            f'=IF({count.coordinate}=1,"Done",IF({count.coordinate}=0,"Not answered yet",'
            f'"More than one mark: keep one"))'
        )
        row_status.border = _BOX
        row_status.alignment = Alignment(wrap_text=True, vertical="center")
        _fit(sheet, row, [(perspective.label, widths[0]), (perspective.activity, widths[1])], minimum=30)


def _form_checks(sheet: Worksheet, instrument: Instrument) -> None:
    """What tells the leader live that a row is not right: a tint for a row with no mark or more than
    one, and a warning for anything but ✓ or x typed in an answer box."""
    count_col = get_column_letter(L.count_column(instrument))
    first, last = L.FIRST_PERSPECTIVE_ROW, L.perspective_row(len(instrument.perspectives))
    area = f"A{first}:{get_column_letter(L.status_column(instrument))}{last}"
    sheet.conditional_formatting.add(
        area,
        FormulaRule(
            formula=[f"${count_col}{first}>=2"],
            fill=PatternFill("solid", bgColor="F4B6B6"),
            font=Font(bold=True),
        ),
    )
    sheet.conditional_formatting.add(
        area, FormulaRule(formula=[f"${count_col}{first}=0"], fill=PatternFill("solid", bgColor="FFF2CC"))
    )
    others = len(instrument.ticks) - 1
    validation = DataValidation(
        type="list",
        formula1=f'"{TICK_OPTIONS}"',
        allow_blank=True,
        showInputMessage=True,
        promptTitle="One mark per row",
        prompt=(
            "Put one mark in this row: choose ✓ from the list, or type x. "
            f"Leave the other {number_word(others)} box{'es' if others != 1 else ''} empty."
        ),
        showErrorMessage=True,
        errorStyle="warning",
        errorTitle="Not a tick mark",
        error="Please use ✓ or x. Anything else may not be read as a tick when your form comes back.",
    )
    validation.add(L.tick_range(instrument))
    sheet.add_data_validation(validation)


def _log_sheet(sheet: Worksheet, instrument: Instrument, fields: FormFields) -> None:
    widths = log_widths(instrument)
    _widths(sheet, widths)
    heading = Font(name="Calibri", bold=True, size=14)
    _text(sheet, 1, 1, f"Tool: {instrument.code}. {instrument.user_log_heading.upper()}", font=heading)
    sheet.row_dimensions[1].height = row_height(1, 14)
    _text(sheet, 2, 1, "Optional: a note of how you used the tool. Type in the boxes; long text wraps.")
    _header(sheet, L.LOG_HEADER_ROW, [column.label for column in instrument.user_log])
    fit_row(sheet, L.LOG_HEADER_ROW, list(zip([c.label for c in instrument.user_log], widths, strict=False)), bold=True)
    for line in range(L.LOG_LINES):
        row = L.LOG_FIRST_ROW + line
        for offset in range(len(instrument.user_log)):
            cell = sheet.cell(row=row, column=1 + offset)
            cell.protection = _UNLOCKED
            cell.border = _BOX
            cell.fill = _INPUT_FILL
            cell.alignment = _WRAP_TOP
            cell.number_format = "@"
        sheet.row_dimensions[row].height = row_height(4)
    last = L.LOG_FIRST_ROW + L.LOG_LINES - 1
    _text(sheet, last + 2, 1, instrument.copyright)
    _protect(sheet, fields)
    _page(sheet, f"A1:{get_column_letter(len(widths))}{last + 2}", widths, L.LOG_HEADER_ROW)


def _practices_sheet(sheet: Worksheet, instrument: Instrument, fields: FormFields) -> None:
    widths = PRACTICES_WIDTHS
    _widths(sheet, widths)
    heading = Font(name="Calibri", bold=True, size=14)
    row = _lines_of(sheet, 1, instrument.practices_title or "Practices", widths, heading)
    if instrument.practices_intro:
        row = _lines_of(sheet, row, instrument.practices_intro, widths)
    step = instrument.step_showing("practices")
    if step is not None:
        concern = instrument.answers_or(instrument.ticks[instrument.comfort_columns :])
        line = f"Step {step.number}: put these into play in the areas where you would feel {concern}."
        row = _lines_of(sheet, row, line, widths)
    row += 1
    _header(sheet, row, ["Practice", instrument.practices_heading])
    for practice in instrument.practices:
        row += 1
        _text(sheet, row, 1, str(practice.number), border=_BOX, alignment=_CENTRE)
        _text(sheet, row, 2, practice.text, border=_BOX, alignment=_WRAP_TOP)
        _fit(sheet, row, [(practice.text, widths[1])])
    if instrument.references:
        row += 1
        _text(sheet, row + 1, 1, "Source: " + instrument.references[-1])
    _text(sheet, row + 2, 1, instrument.copyright)
    _protect(sheet, fields)
    _page(sheet, f"A1:B{row + 2}", widths)


def _data_sheet(sheet: Worksheet, instrument: Instrument, fields: FormFields) -> None:
    """The second, independent home of the token and version (the first is the document properties)."""
    _widths(sheet, (16, 70))
    _header(sheet, 1, ["Key", "Value"])
    for offset, (key, value) in enumerate(_data_values(instrument, fields).items()):
        _text(sheet, L.DATA_FIRST_ROW + offset, 1, key)
        _text(sheet, L.DATA_FIRST_ROW + offset, 2, value)
    sheet.sheet_state = "hidden"
    _protect(sheet, fields)
