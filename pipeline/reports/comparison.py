"""The partnership comparison workbook, in two editions built from the same tables.

The facilitator edition holds everything, names and words included. The shareable edition holds only
aggregates, after the suppression rules of ``suppress`` and from the snapshot ``publication`` allows.
Both are plain openpyxl: native charts, Excel tables with filters, a colour-scale heat map (the numbers
are always written too), frozen headers, print setup. Every text from a return is written as text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.config import Leader
from pipeline.instrument import Instrument
from pipeline.reports.aggregate import Answer, long_table, percentages, summary
from pipeline.reports.sheets import landscape, table, title
from pipeline.reports.suppress import MARGIN, safe
from pipeline.xlsx import workbook_bytes

HIDDEN = "[c]"
PARTNERSHIP = "All organisations"
CATEGORY_COLOURS = ("0072B2", "E69F00", "D55E00")  # Okabe-Ito: calm blue, amber, vermilion (colour-blind safe)
RIGHT = Alignment(horizontal="right")


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
    issued: dict[str, Any] = field(default_factory=dict)  # leader id -> FormRecord
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    earlier: dict[str, dict[str, Any]] = field(default_factory=dict)
    published: list[Answer] = field(default_factory=list)  # the snapshot partners may see
    published_note: str = ""

    @property
    def labels(self) -> dict[str, str]:
        """ "comfortable", "stretched", "a bit panicked": as the leaders' answers read in a sentence."""
        return {t.key: t.label.removeprefix("I would feel ") for t in self.instrument.ticks}

    @property
    def headings(self) -> dict[str, str]:
        """The same, capitalised for column headings."""
        return {key: label[:1].upper() + label[1:] for key, label in self.labels.items()}


def _save(workbook: Workbook, stamp: dt.datetime) -> bytes:
    """The workbook's bytes, stamped with ``stamp`` rather than the time of saving: an edition built
    from the same snapshot is the same file."""
    return workbook_bytes(workbook, stamp)


def _stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


def _new() -> Workbook:
    workbook = Workbook()
    workbook.remove(workbook.worksheets[0])
    return workbook


def _heat(sheet: Worksheet, ref: str) -> None:
    sheet.conditional_formatting.add(
        ref,
        ColorScaleRule(
            start_type="num", start_value=0, start_color="FFFFFF", end_type="num", end_value=1, end_color="F4B183"
        ),
    )


def _stacked_chart(
    sheet: Worksheet,
    title_text: str,
    first_row: int,
    last_row: int,
    first_col: int,
    last_col: int,
    category_col: int,
    anchor: str,
) -> None:
    chart = BarChart()
    chart.type = "bar"
    chart.grouping = "percentStacked"
    chart.overlap = 100
    chart.title = title_text
    chart.y_axis.title = "Share of leaders who answered"
    chart.height, chart.width = 9, 22
    chart.gapWidth = 50
    data = Reference(sheet, min_col=first_col, max_col=last_col, min_row=first_row - 1, max_row=last_row)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=category_col, min_row=first_row, max_row=last_row))
    chart.x_axis.scaling.orientation = "maxMin"  # the first row (perspective 1) at the top, as in the table
    chart.y_axis.crosses = "max"  # and the shares' axis stays below the bars
    for series, colour in zip(chart.series, CATEGORY_COLOURS, strict=False):
        series.graphicalProperties.solidFill = colour
        series.graphicalProperties.line.solidFill = colour
    sheet.add_chart(chart, anchor)


def _align_hidden(sheet: Worksheet, first: int, last: int, columns: range) -> None:
    """A withheld figure sits where its number would, right-aligned in its column."""
    for row in range(first, last + 1):
        for column in columns:
            cell = sheet.cell(row=row, column=column)
            if cell.value == HIDDEN:
                cell.alignment = RIGHT


# ---------------------------------------------------------------- shared tables


def _summary_sheet(
    workbook: Workbook, data: RoundData, answers: list[Answer], masks: dict[int, pd.Series] | None, note: str
) -> None:
    sheet = workbook.create_sheet("Summary")
    instrument, keys = data.instrument, [t.key for t in data.instrument.ticks]
    counts = summary(long_table(answers, instrument), instrument)
    shares = percentages(counts, keys)
    top = title(
        sheet,
        f"How leaders feel about the seven perspectives: {data.partnership}, round {data.round}",
        [
            note,
            "Counts of leaders and shares of those who answered each perspective. Categories are never averaged.",
        ],
    )
    headers = [
        "Perspective",
        "Statement",
        *[f"{data.headings[k]} (leaders)" for k in keys],
        "Answered",
        *[f"{data.headings[k]} (share)" for k in keys],
    ]
    rows = []
    shown_any = False
    for p in instrument.perspectives:
        mask = masks.get(p.number) if masks is not None else None
        values: list[Any] = [p.number, p.statement]
        shown: list[Any] = []
        for key in keys:
            hidden = bool(mask is not None and mask[key])
            shown_any |= not hidden
            values.append(HIDDEN if hidden else int(counts.loc[p.number, key]))
            shown.append(HIDDEN if hidden else float(shares.loc[p.number, key]))
        answered: Any = int(counts.loc[p.number, "answered"])
        rows.append([*values, HIDDEN if all(v == HIDDEN for v in shown) else answered, *shown])
    formats = {3 + len(keys) + 1 + i: "0%" for i in range(len(keys))}
    widths = [12, 60, 14, 14, 14, 11, 14, 14, 14]
    first, last = table(sheet, top, headers, rows, "SummaryTable", widths, formats, wrap=[2])
    _align_hidden(sheet, first, last, range(3, len(headers) + 1))
    share_cols = f"G{first}:I{last}"
    _heat(sheet, share_cols)
    if shown_any and answers:  # a withheld perspective is an empty bar: the chart shows only what the table does
        _stacked_chart(sheet, "Comfortable, stretched, a bit panicked", first, last, 3, 5, 1, f"B{last + 3}")
    landscape(sheet)


@dataclass(frozen=True)
class OrgTables:
    rows: list[list[Any]]  # organisation, perspective, counts (or HIDDEN), answered, shares (or HIDDEN)
    partnership: dict[int, pd.Series]  # per perspective: the partnership row's counts
    partnership_hidden: dict[int, pd.Series]  # per perspective: which of them are withheld


def org_tables(answers: list[Answer], instrument: Instrument, k: int, shareable: bool) -> OrgTables:
    """Per perspective, the partnership's counts and each organisation's. In the shareable edition, the
    partnership's only, withheld whole where ``suppress.safe`` does not allow them (publication makes that
    rare): an organisation's own counts cannot be shared safely once editions are compared, because the
    leaders who change between two editions are few in any one organisation (issue 9)."""
    keys = [t.key for t in instrument.ticks]
    frame = long_table(answers, instrument)
    organisations = sorted({a.organisation for a in answers})
    rows: list[list[Any]] = []
    totals: dict[int, pd.Series] = {}
    hidden: dict[int, pd.Series] = {}
    for p in instrument.perspectives:
        part = frame[frame["perspective"] == p.number]
        counts = part.groupby(["organisation", "answer"]).size().unstack("answer", fill_value=0) if len(part) else None
        counts = (counts if counts is not None else pd.DataFrame()).reindex(
            index=organisations, columns=keys, fill_value=0
        )
        counts = counts.fillna(0).astype(int)
        total = counts.sum(axis=0).rename(PARTNERSHIP)
        withheld = shareable and not safe([int(total[key]) for key in keys], k)
        totals[p.number] = total
        hidden[p.number] = pd.Series({key: withheld for key in keys})
        if shareable:
            continue  # partners get the partnership's figures only: see the docstring
        for org in organisations:
            vector = [int(counts.loc[org, key]) for key in keys]
            if sum(vector):
                rows.append(_org_row(org, p.number, vector, keys))
    rows.sort(key=lambda row: (row[0], row[1]))  # readers look for their own organisation
    return OrgTables(rows, totals, hidden)


def _org_row(group: str, number: int, counts: list[int], keys: list[str]) -> list[Any]:
    answered = sum(counts)
    return [group, number, *counts, answered, *[count / answered for count in counts]]


def _by_org_sheet(workbook: Workbook, data: RoundData, answers: list[Answer], shareable: bool) -> dict[int, pd.Series]:
    """The organisation table; returns each perspective's withheld partnership figures."""
    sheet = workbook.create_sheet("By organisation")
    instrument, keys, k = data.instrument, [t.key for t in data.instrument.ticks], data.min_group_size
    tables = org_tables(answers, instrument, k, shareable)
    if shareable:  # one sentence, not a wall of [c]
        title(
            sheet,
            "By organisation",
            [
                "Organisations' own figures are not shared: in an organisation of a few leaders, they, or the "
                "change in them from one edition to the next, would let partners work out how individual "
                "leaders answered.",
                "The partnership's figures are on the Summary sheet; the About sheet gives the rule.",
            ],
        )
        landscape(sheet)
        return tables.partnership_hidden
    top = title(sheet, "By organisation", ["Every organisation with at least one accepted return."])
    headers = [
        "Organisation",
        "Perspective",
        *[data.headings[key] for key in keys],
        "Answered",
        *[f"{data.headings[key]} (share)" for key in keys],
    ]
    formats = {3 + len(keys) + 1 + i: "0%" for i in range(len(keys))}
    first, last = table(
        sheet, top, headers, tables.rows, "ByOrganisation", [40, 12, 14, 14, 14, 11, 14, 14, 14], formats
    )
    _heat(sheet, f"G{first}:I{last}")
    if tables.rows:
        _org_totals(workbook, data, long_table(answers, instrument), keys)
    landscape(sheet)
    return tables.partnership_hidden


def _org_totals(workbook: Workbook, data: RoundData, frame: pd.DataFrame, keys: list[str]) -> None:
    sheet = workbook.create_sheet("Organisation totals")
    totals = frame.groupby(["organisation", "answer"]).size().unstack("answer", fill_value=0)
    totals = totals.reindex(columns=keys, fill_value=0).astype(int).sort_index()
    top = title(
        sheet,
        "All seven perspectives together, per organisation",
        [
            "Each leader counts once per perspective answered.",
        ],
    )
    rows = [[org, *[int(totals.loc[org, key]) for key in keys]] for org in totals.index]
    first, last = table(
        sheet,
        top,
        ["Organisation", *[data.headings[key] for key in keys]],
        rows,
        "OrganisationTotals",
        [40, 14, 14, 14],
    )
    _stacked_chart(sheet, "Per organisation", first, last, 2, 4, 1, f"A{last + 3}")
    landscape(sheet)


def _about(workbook: Workbook, data: RoundData, edition: str, lines: list[list[Any]]) -> None:
    sheet = workbook.create_sheet("About", 0)
    top = title(sheet, f"CLB0.01 partnership comparison: {edition}", [])
    rows: list[list[Any]] = [
        ["Partnership", data.partnership],
        ["Round", data.round],
        ["Run", data.run_id],
        ["Made at", data.generated_at],
        ["Minimum group size", data.min_group_size],
        *lines,
        ["Copyright", f"{data.instrument.copyright}. {data.instrument.copyright_notice}"],
    ]
    table(sheet, top, ["Item", "Value"], rows, "About", [28, 100], wrap=[1, 2])
    landscape(sheet)


# ---------------------------------------------------------------- the shareable figures as tidy data

FIGURE_COLUMNS = ("group", "perspective", "category", "count", "withheld", "respondents")
PARTNERSHIP_GROUP = "Partnership"


def shareable_figures(data: RoundData) -> list[dict[str, Any]]:
    """Every figure the shareable edition shows or withholds, one row each, per perspective and category
    (the partnership's: organisations' own figures are not shared). A withheld figure has no count and no
    respondents. The public contract for partners' own tools (the CSV beside the workbook)."""
    instrument, k = data.instrument, data.min_group_size
    tables = org_tables(data.published, instrument, k, shareable=True)
    figures: list[dict[str, Any]] = []
    for p in instrument.perspectives:
        totals, hidden = tables.partnership[p.number], tables.partnership_hidden[p.number]
        answered = int(totals.sum())
        for t in instrument.ticks:
            figures.append(
                _figure(PARTNERSHIP_GROUP, p.number, t.key, int(totals[t.key]), bool(hidden[t.key]), answered)
            )
    return figures


def _figure(group: str, number: int, key: str, count: Any, withheld: bool, answered: int) -> dict[str, Any]:
    return {
        "group": group,
        "perspective": number,
        "category": key,
        "count": None if withheld else int(count),
        "withheld": withheld,
        "respondents": None if withheld else answered,
    }


def figures_csv(figures: list[dict[str, Any]]) -> bytes:
    """The tidy figures as UTF-8 CSV: empty where withheld, withheld as true or false."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIGURE_COLUMNS)
    for figure in figures:
        writer.writerow(
            [
                figure["group"],
                figure["perspective"],
                figure["category"],
                "" if figure["count"] is None else figure["count"],
                "true" if figure["withheld"] else "false",
                "" if figure["respondents"] is None else figure["respondents"],
            ]
        )
    return buffer.getvalue().encode("utf-8")


def withheld_share(figures: list[dict[str, Any]]) -> tuple[int, int]:
    """(figures withheld, figures in all) of an edition."""
    return sum(1 for f in figures if f["withheld"]), len(figures)


# ---------------------------------------------------------------- editions


def shareable_workbook(data: RoundData, figures: list[dict[str, Any]]) -> bytes:
    """Aggregates only, no names and no free text, from the published snapshot (``figures``: its
    ``shareable_figures``, counted once by the caller)."""
    workbook = _new()
    answers = data.published
    note = (
        f"Based on {len(answers)} leaders' responses. {data.published_note}"
        if answers
        else "Not enough responses have been received yet to show any figures."
    )
    masks = _by_org_sheet(workbook, data, answers, shareable=True)
    _summary_sheet(workbook, data, answers, masks, note)
    workbook.move_sheet("Summary", offset=-1)
    _about(
        workbook,
        data,
        "shareable edition (for every partner)",
        [
            ["Responses counted", len(answers)],
            ["Figures withheld", _withheld_text(*withheld_share(figures))],
            [
                "What is withheld",
                f"Counts are shown for the partnership as a whole, per perspective, only when at least "
                f"{data.min_group_size} leaders answered and, for every answer given, at least {MARGIN} "
                "leaders gave another: then no leader's answer can be worked out, even by a partner who knows "
                f"their own and one colleague's answers. Otherwise the perspective shows {HIDDEN}. "
                "Organisations' own figures are not shared.",
            ],
            [
                "When it changes",
                "A perspective's figures change only when the answers that came in since partners last saw "
                f"it number at least {data.min_group_size} and pass the same test, so that comparing two "
                "editions never reveals the answers of the leaders who changed. That is why partners' "
                "figures can trail the facilitator's: the latest returns may not be counted here yet.",
            ],
        ],
    )
    return _save(workbook, _stamp(data.generated_at))


def _withheld_text(withheld: int, figures: int) -> str:
    if not figures:
        return "no figures yet"
    return f"{withheld} of {figures} figures ({withheld / figures:.0%})"


def facilitator_workbook(data: RoundData) -> bytes:
    """Everything, for the facilitator only: names, ticks, the user log, the chasing list."""
    workbook = _new()
    instrument, labels = data.instrument, data.labels
    _summary_sheet(
        workbook,
        data,
        data.answers,
        None,
        f"All {len(data.answers)} accepted responses. "
        "FACILITATOR EDITION: contains names and personal answers; do not share.",
    )
    _by_org_sheet(workbook, data, data.answers, shareable=False)
    _responses(workbook, data, labels)
    _tracker(workbook, data)
    _quarantine(workbook, data)
    _user_log(workbook, data)
    _rounds(workbook, data, labels)
    _about(
        workbook,
        data,
        "facilitator edition (names and personal answers: do not share)",
        [
            ["Accepted responses", len(data.answers)],
            ["Leaders on the roster", len(data.roster)],
            ["Quarantined files", len({q["id"] for q in data.quarantined})],
            ["Figures withheld", "none: this edition shows everything"],
            ["Shareable edition", data.published_note or "not published yet"],
        ],
    )
    del instrument
    return _save(workbook, _stamp(data.generated_at))


def _responses(workbook: Workbook, data: RoundData, labels: dict[str, str]) -> None:
    sheet = workbook.create_sheet("Responses")
    top = title(sheet, "Responses: one row per leader (their current accepted return)", [])
    numbers = [p.number for p in data.instrument.perspectives]
    headers = ["Leader", "Organisation", *[f"Perspective {n}" for n in numbers], "Received", "File", "sha256"]
    rows = [
        [
            a.name,
            a.organisation,
            *[labels.get(a.answers.get(n) or "", "") for n in numbers],
            a.received_at,
            a.file,
            a.sha256,
        ]
        for a in sorted(data.answers, key=lambda a: (a.organisation, a.name))
    ]
    table(sheet, top, headers, rows, "Responses", [28, 34, *[14] * len(numbers), 22, 10, 66], stream=True)
    landscape(sheet)


def _tracker(workbook: Workbook, data: RoundData) -> None:
    sheet = workbook.create_sheet("Response tracker")
    top = title(sheet, "Response tracker: who still needs chasing", [])
    accepted = {a.leader_id: a for a in data.answers}
    reasons: dict[str, list[str]] = defaultdict(list)
    for item in data.quarantined:
        if item["leader_id"] and item["code"]:
            reasons[item["leader_id"]].append(f"{item['file']}: {item['message']}")
    rows = []
    for leader in sorted(data.roster, key=lambda item: (item.organisation, item.name)):
        form = data.issued.get(leader.id)
        if leader.id in accepted:
            status, detail = "returned", f"accepted {accepted[leader.id].received_at[:10]}"
        elif leader.id in reasons:
            status, detail = "quarantined", " | ".join(reasons[leader.id])
        elif form is not None:
            status, detail = "outstanding", "no return yet"
        else:
            status, detail = "not issued", "run clb forms"
        rows.append(
            [leader.name, leader.organisation, leader.email, form.issued_at[:10] if form else "", status, detail]
        )
    table(
        sheet,
        top,
        ["Leader", "Organisation", "Email", "Form issued", "Status", "Details"],
        rows,
        "Tracker",
        [28, 34, 36, 12, 14, 80],
        wrap=[6],
        stream=True,
    )
    landscape(sheet)


def _quarantine(workbook: Workbook, data: RoundData) -> None:
    sheet = workbook.create_sheet("Quarantine")
    top = title(sheet, "Quarantine: every file that was not accepted, with each problem", [])
    rows = [
        [
            q["received_at"],
            q["file"],
            q["sha256"],
            q["leader_id"] or "",
            q["code"] or "",
            q["cell"] or "",
            q["name"] or "",
            q["message"] or "",
            q["fix"] or "",
        ]
        for q in data.quarantined
    ]
    table(
        sheet,
        top,
        ["Received", "File", "sha256", "Leader", "Code", "Cell", "Name", "Problem", "What to do"],
        rows,
        "Quarantine",
        [22, 30, 20, 30, 18, 24, 16, 60, 60],
        stream=True,
    )
    landscape(sheet)


def _user_log(workbook: Workbook, data: RoundData) -> None:
    sheet = workbook.create_sheet("User log")
    top = title(sheet, "User log: what leaders wrote (kept as text)", [])
    columns = data.instrument.user_log
    rows = [
        [a.name, a.organisation, line, *[entry.get(c.key, "") for c in columns]]
        for a in sorted(data.answers, key=lambda a: (a.organisation, a.name))
        for line, entry in enumerate(a.log, start=1)
    ]
    table(
        sheet,
        top,
        ["Leader", "Organisation", "Line", *[c.label for c in columns]],
        rows,
        "UserLog",
        [28, 30, 6, 36, 40, 40, 40],
        wrap=range(4, 8),
        stream=True,
    )
    landscape(sheet)


def _rounds(workbook: Workbook, data: RoundData, labels: dict[str, str]) -> None:
    sheet = workbook.create_sheet("Rounds")
    top = title(
        sheet,
        "Movement since each leader's previous round",
        [
            "Only leaders who answered an earlier round appear here." if data.earlier else "No earlier rounds yet.",
        ],
    )
    rows = []
    for a in sorted(data.answers, key=lambda a: (a.organisation, a.name)):
        before = data.earlier.get(a.leader_id)
        if before is None:
            continue
        for p in data.instrument.perspectives:
            then, now = before["answers"].get(p.number), a.answers.get(p.number)
            movement = "no change" if then == now else f"{labels.get(then or '', '-')} → {labels.get(now or '', '-')}"
            rows.append(
                [
                    a.name,
                    a.organisation,
                    before["round"],
                    p.number,
                    labels.get(then or "", ""),
                    labels.get(now or "", ""),
                    movement,
                ]
            )
    table(
        sheet,
        top,
        ["Leader", "Organisation", "Earlier round", "Perspective", "Then", "Now", "Movement"],
        rows,
        "Rounds",
        [28, 30, 14, 12, 16, 16, 34],
        stream=True,
    )
    landscape(sheet)
