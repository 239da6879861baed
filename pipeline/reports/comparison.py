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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference, Series
from openpyxl.chart.label import DataLabel, DataLabelList
from openpyxl.chart.text import RichText, Text
from openpyxl.chart.title import Title
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties, RegularTextRun
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.colours import scheme
from pipeline.instrument import Instrument
from pipeline.pagefit import keep_together, page_setup, split_to_rows, tallest_drawing
from pipeline.reports.aggregate import long_table, percentages, summary, tally
from pipeline.reports.data import Answer, RoundData
from pipeline.reports.sheets import table, title
from pipeline.reports.suppress import MARGIN, safe
from pipeline.xlsx import workbook_bytes

HIDDEN = "[c]"
PARTNERSHIP = "All organisations"
CHART_WIDTH = 17.0  # cm: fits a portrait A4 page at 100%
CM = 72 / 2.54  # points
ORG_CHART_ROWS = 15  # rows of the default height (15 points) each organisation's chart takes
RIGHT = Alignment(horizontal="right", vertical="top")


def _save(workbook: Workbook, stamp: dt.datetime) -> bytes:
    """The workbook's bytes, stamped with ``stamp`` rather than the time of saving: an edition built
    from the same snapshot is the same file."""
    return workbook_bytes(workbook, stamp)


def _minute(text: str) -> str:
    """A time as people read it in a table: "2026-11-29 06:00", in UTC."""
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def _stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


def _new() -> Workbook:
    workbook = Workbook()
    workbook.remove(workbook.worksheets[0])
    return workbook


def _heat(sheet: Worksheet, first: int, last: int, first_column: int, answers: int) -> None:
    """Each share column tinted in its own category's colour, deeper as the share grows (the number is
    always written too: colour is never the only cue)."""
    for offset, colour in enumerate(scheme(answers).tints):
        letter = get_column_letter(first_column + offset)
        sheet.conditional_formatting.add(
            f"{letter}{first}:{letter}{last}",
            ColorScaleRule(
                start_type="num", start_value=0, start_color="FFFFFF", end_type="num", end_value=1, end_color=colour
            ),
        )


def _labels(series: Any, colour: str, counts: list[int]) -> None:
    """Each bar segment carries its count, in a colour that reads on the segment's fill; a zero has no
    label. With the legend in the bars' order this keeps the chart readable without telling colours apart."""
    properties = CharacterProperties(sz=900, b=True, solidFill=colour)
    shown = {"showLegendKey": False, "showCatName": False, "showSerName": False, "showPercent": False}
    series.dLbls = DataLabelList(showVal=True, **shown)
    series.dLbls.txPr = _text_properties(properties)
    series.dLbls.dLbl = [DataLabel(idx=i, showVal=False, **shown) for i, count in enumerate(counts) if not count]


def stacked_chart(
    sheet: Worksheet,
    title_text: str,
    columns: list[Reference],
    names: list[str],
    categories: Reference,
    anchor: str,
    axis_titles: tuple[str, str],
    counts: list[list[int]],
    height: float = 9.0,
    width: float = CHART_WIDTH,
    title_size: int = 12,
) -> BarChart:
    """Horizontal 100% bars, one per row of ``categories`` (perspective 1 or the first organisation at
    the top, as in the tables), split in the categories' natural order (``columns``, one per category,
    named in the legend by ``names``): calm to concern (comfortable, stretched, a bit panicked for
    CLB0.01), in the instrument's colours. ``axis_titles``: what the bars are (none where their labels
    say it), and what their lengths count; ``counts``: each column's values, for the labels."""
    chart = BarChart()
    chart.type = "bar"
    chart.grouping = "percentStacked"
    chart.overlap = 100
    chart.title = _chart_title(title_text, title_size)
    chart.x_axis.title, chart.y_axis.title = (title or None for title in axis_titles)
    chart.x_axis.tickLblSkip = 1  # every bar named, however many
    for axis in (chart.x_axis, chart.y_axis):
        axis.txPr = _text_properties(CharacterProperties(sz=900))
    chart.y_axis.number_format = "0%"
    chart.y_axis.majorUnit = 0.25  # five labels that never crowd, however narrow the plot
    chart.height, chart.width = min(height, tallest_drawing(sheet) / CM), width
    chart.gapWidth = 50
    chart.legend.position = "b"
    for column, name in zip(columns, names, strict=True):
        chart.series.append(Series(column, title=name))
    chart.set_categories(categories)
    chart.x_axis.scaling.orientation = "maxMin"  # the first row at the top, as in the table
    chart.y_axis.crosses = "max"  # and the shares' axis stays below the bars
    chart.x_axis.delete = chart.y_axis.delete = False
    colours = scheme(len(columns))
    for series, colour, ink, values in zip(chart.series, colours.colours, colours.ink, counts, strict=False):
        series.graphicalProperties.solidFill = colour
        series.graphicalProperties.line.solidFill = colour
        _labels(series, ink, values)
    sheet.add_chart(chart, anchor)
    row = int("".join(c for c in anchor if c.isdigit()))
    keep_together(sheet, row, chart.height * CM)
    return chart


def _text_properties(properties: CharacterProperties) -> RichText:
    return RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=properties), endParaRPr=properties)])


def _chart_title(text: str, size: int) -> Title:
    """A title in ``size``-point bold: the programs' default (18 points) takes half the chart when a long
    organisation name wraps."""
    properties = CharacterProperties(sz=size * 100, b=True)
    paragraph = Paragraph(pPr=ParagraphProperties(defRPr=properties), r=[RegularTextRun(rPr=properties, t=text)])
    return Title(tx=Text(rich=RichText(p=[paragraph])), overlay=False)


def _category_columns(source: Worksheet, first_column: int, count: int, first: int, last: int) -> list[Reference]:
    return [
        Reference(source, min_col=c, min_row=first, max_row=last) for c in range(first_column, first_column + count)
    ]


def _counts(rows: list[list[Any]], first_index: int, count: int) -> list[list[int]]:
    """The columns of counts in table rows, a withheld one as 0."""
    return [
        [v if isinstance(v, int) else 0 for v in (row[i] for row in rows)]
        for i in range(first_index, first_index + count)
    ]


def _align_hidden(sheet: Worksheet, first: int, last: int, columns: range) -> None:
    """A withheld figure sits where its number would, right-aligned in its column."""
    for row in range(first, last + 1):
        for column in columns:
            cell = sheet.cell(row=row, column=column)
            if cell.value == HIDDEN:
                cell.alignment = RIGHT


# ---------------------------------------------------------------- shared tables


def _figure_widths(first: tuple[float, ...], answers: int) -> tuple[float, ...]:
    """``first`` columns, then a count per answer, the number who answered, and a share per answer."""
    return (*first, *[11.0] * answers, 10, *[11.0] * answers)


def _summary_sheet(
    workbook: Workbook,
    data: RoundData,
    answers: list[Answer],
    masks: dict[int, pd.Series] | None,
    note: str,
    counted: pd.DataFrame | None = None,
) -> None:
    """The summary table and chart, from ``answers`` or, for partners, from the ``counted`` table of the
    published editions (``published_table``)."""
    sheet = workbook.create_sheet("Summary")
    instrument, keys = data.instrument, [t.key for t in data.instrument.ticks]
    counts = counted if counted is not None else summary(long_table(answers, instrument), instrument)
    shares = percentages(counts, keys)
    widths = _figure_widths((10, 40), len(keys))
    top = title(
        sheet,
        f"How leaders answered the {instrument.count_words()}: {data.partnership}, round {data.round}",
        [
            note,
            f"Counts of leaders and shares of those who answered each {instrument.row_noun}. "
            "Categories are never averaged.",
        ],
        widths,
    )
    headers = [
        instrument.row_title,
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
    share_column = 3 + len(keys) + 1
    formats = {share_column + i: "0%" for i in range(len(keys))}
    first, last = table(sheet, top, headers, rows, "SummaryTable", widths, formats)
    _align_hidden(sheet, first, last, range(3, len(headers) + 1))
    _heat(sheet, first, last, share_column, len(keys))
    if shown_any and int(
        counts["answered"].sum()
    ):  # a withheld row is an empty bar: the chart shows what the table does
        stacked_chart(
            sheet,
            f"How leaders answered, per {instrument.row_noun}",
            _category_columns(sheet, 3, len(keys), first, last),
            [f"{data.headings[k]} (leaders)" for k in keys],
            Reference(sheet, min_col=1, min_row=first, max_row=last),
            f"A{last + 3}",
            (instrument.row_title, f"Share of the leaders who answered the {instrument.row_noun}"),
            _counts(rows, 2, len(keys)),
        )


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
                rows.append(_figure_row(org, p.number, vector))
    rows.sort(key=lambda row: (row[0], row[1]))  # readers look for their own organisation
    return OrgTables(rows, totals, hidden)


def _figure_row(group: str, number: int, counts: list[int]) -> list[Any]:
    """A group's counts for one row, the number who answered, and the shares (0 where none did)."""
    answered = sum(counts)
    return [group, number, *counts, answered, *[count / answered if answered else 0.0 for count in counts]]


def _figure_table(
    sheet: Worksheet, top: int, group: str, data: RoundData, rows: list[list[Any]], name: str, widths: Sequence[float]
) -> tuple[int, int]:
    """A table of ``_figure_row``s under ``group``'s heading, the shares tinted in their answers' colours."""
    keys = [t.key for t in data.instrument.ticks]
    headers = [
        group,
        data.instrument.row_title,
        *[data.headings[key] for key in keys],
        "Answered",
        *[f"{data.headings[key]} (share)" for key in keys],
    ]
    share_column = 3 + len(keys) + 1
    formats = {share_column + i: "0%" for i in range(len(keys))}
    first, last = table(sheet, top, headers, rows, name, widths, formats)
    _heat(sheet, first, last, share_column, len(keys))
    return first, last


def _by_org_sheet(workbook: Workbook, data: RoundData, answers: list[Answer], shareable: bool) -> dict[int, pd.Series]:
    """The organisation table; returns each perspective's withheld partnership figures."""
    sheet = workbook.create_sheet("By organisation")
    instrument, keys, k = data.instrument, [t.key for t in data.instrument.ticks], data.min_group_size
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
        sheet.column_dimensions["A"].width = 100
        page_setup(sheet, [100])
        return shareable_masks(data)
    tables = org_tables(answers, instrument, k, shareable)
    widths = _figure_widths((30, 11), len(keys))
    top = title(
        sheet,
        "By organisation",
        [
            "Every organisation with at least one accepted return, in alphabetical order, then by "
            f"{instrument.row_noun}."
        ],
        widths,
    )
    first, _ = _figure_table(sheet, top, "Organisation", data, tables.rows, "ByOrganisation", widths)
    if tables.rows:
        _matrix(workbook, data, tables.rows, keys)
        _org_charts(workbook, data, sheet, tables.rows, first, keys)
        _org_totals(workbook, data, long_table(answers, instrument), keys)
    return tables.partnership_hidden


def _matrix(workbook: Workbook, data: RoundData, rows: list[list[Any]], keys: list[str]) -> None:
    """Organisations down, perspectives across: the whole partnership on one page. Each cell gives the
    three counts in the categories' order and is tinted by the category most of its leaders chose."""
    sheet = workbook.create_sheet("Organisation matrix")
    instrument = data.instrument
    numbers = [p.number for p in instrument.perspectives]
    order = " / ".join(data.labels[key] for key in keys)
    tints = scheme(len(keys)).tints
    widths = (30, *[10] * len(numbers))
    top = title(
        sheet,
        f"Organisations and {instrument.rows_noun} at a glance",
        [
            f"Each cell counts the organisation's leaders who answered {order}, in that order. The tint is "
            f"the answer most of them gave, in its colour on the other sheets; an empty cell means no one in "
            f"the organisation answered that {instrument.row_noun}.",
        ],
        widths,
    )
    cells: dict[str, dict[int, list[int]]] = defaultdict(dict)
    for row in rows:
        cells[row[0]][row[1]] = row[2 : 2 + len(keys)]
    matrix = [
        [org, *[" / ".join(map(str, cells[org][n])) if n in cells[org] else "" for n in numbers]] for org in cells
    ]
    first, _ = table(
        sheet,
        top,
        ["Organisation", *[f"{instrument.row_title} {n}" for n in numbers]],
        matrix,
        "OrganisationMatrix",
        widths,
    )
    for offset, org in enumerate(cells):
        for column, number in enumerate(numbers, start=2):
            counts = cells[org].get(number)
            if counts:
                cell = sheet.cell(row=first + offset, column=column)
                cell.fill = PatternFill("solid", fgColor=tints[counts.index(max(counts))])
                cell.alignment = Alignment(horizontal="center", vertical="top", wrap_text=True)


def _org_charts(
    workbook: Workbook, data: RoundData, source: Worksheet, rows: list[list[Any]], first: int, keys: list[str]
) -> None:
    """One chart per organisation, from its rows of the By organisation table, about three to a portrait
    page and never split by a page break."""
    sheet = workbook.create_sheet("Charts by organisation")
    row_noun = data.instrument.row_noun
    title(sheet, f"How each organisation's leaders answered, per {row_noun}", [], (70,))
    spans: dict[str, list[int]] = {}
    for offset, row in enumerate(rows):
        spans.setdefault(row[0], []).append(first + offset)
    sheet.column_dimensions["A"].width = 70
    page_setup(sheet, [70])
    anchor = 3
    for org, table_rows in spans.items():
        stacked_chart(
            sheet,
            org,
            _category_columns(source, 3, len(keys), table_rows[0], table_rows[-1]),
            [data.headings[k] for k in keys],
            Reference(source, min_col=2, min_row=table_rows[0], max_row=table_rows[-1]),
            f"A{anchor}",
            (data.instrument.row_title, "Share of the organisation's leaders who answered"),
            _counts(rows[table_rows[0] - first : table_rows[-1] - first + 1], 2, len(keys)),
            height=ORG_CHART_ROWS * 0.529 - 0.4,
            title_size=10,
        )
        anchor += ORG_CHART_ROWS


def _org_totals(workbook: Workbook, data: RoundData, frame: pd.DataFrame, keys: list[str]) -> None:
    sheet = workbook.create_sheet("Organisation totals")
    totals = frame.groupby(["organisation", "answer"]).size().unstack("answer", fill_value=0)
    totals = totals.reindex(columns=keys, fill_value=0).astype(int).sort_index()
    widths = (40, *[14] * len(keys))
    together = f"All {data.instrument.count_words()} together, per organisation"
    top = title(sheet, together, [f"Each leader counts once per {data.instrument.row_noun} answered."], widths)
    rows = [[org, *[int(totals.loc[org, key]) for key in keys]] for org in totals.index]
    first, last = table(
        sheet, top, ["Organisation", *[data.headings[key] for key in keys]], rows, "OrganisationTotals", widths
    )
    stacked_chart(
        sheet,
        together,
        _category_columns(sheet, 2, len(keys), first, last),
        [f"{data.headings[k]} (answers)" for k in keys],
        Reference(sheet, min_col=1, min_row=first, max_row=last),
        f"A{last + 3}",
        ("", f"Share of the organisation's answers over all {data.instrument.count_words()}"),  # names say the bars
        _counts(rows, 1, len(keys)),
        height=max(9.0, 3.0 + 0.95 * len(rows)),  # room for a two-line name per bar, up to a page
        width=24.0,  # the organisations' names take room beside the bars; the sheet prints landscape
    )


def _about(workbook: Workbook, data: RoundData, edition: str, lines: list[list[Any]]) -> None:
    sheet = workbook.create_sheet("About", 0)
    widths = (20, 54)
    top = title(sheet, f"{data.instrument.code} partnership comparison: {edition}", [], widths)
    rows: list[list[Any]] = [
        ["Partnership", data.partnership],
        ["Round", data.round],
        ["Run", data.run_id],
        ["Made at", data.generated_at],
        ["Minimum group size", data.min_group_size],
        *lines,
        ["Copyright", f"{data.instrument.copyright}. {data.instrument.copyright_notice}"],
    ]
    first, last = table(sheet, top, ["Item", "Value"], rows, "About", widths)
    for row in range(first, last + 1):  # numbers beside text read better on the left here
        sheet.cell(row=row, column=2).alignment = Alignment(horizontal="left", vertical="top", wrap_text=True)


# ---------------------------------------------------------------- the shareable figures as tidy data

FIGURE_COLUMNS = ("group", "perspective", "category", "count", "withheld", "respondents")
PARTNERSHIP_GROUP = "Partnership"


def published_table(data: RoundData) -> pd.DataFrame:
    """Partners' counts as ``aggregate.summary`` gives counts: per row, each answer's leaders and the
    number who answered, from each row's latest published edition (zeros where none is yet)."""
    keys = [t.key for t in data.instrument.ticks]
    rows = {
        p.number: [int(data.published_counts.get(p.number, {}).get(key, 0)) for key in keys]
        for p in data.instrument.perspectives
    }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=keys)
    table["answered"] = table.sum(axis=1)
    return table


def shareable_masks(data: RoundData) -> dict[int, pd.Series]:
    """Per row, whether partners' counts are withheld: when they do not pass ``suppress.safe`` on their
    own (publication makes that rare), the row is withheld whole."""
    keys = [t.key for t in data.instrument.ticks]
    table = published_table(data)
    return {
        p.number: pd.Series(
            dict.fromkeys(keys, not safe([int(table.loc[p.number, key]) for key in keys], data.min_group_size))
        )
        for p in data.instrument.perspectives
    }


def shareable_figures(data: RoundData) -> list[dict[str, Any]]:
    """Every figure the shareable edition shows or withholds, one row each, per perspective and category
    (the partnership's: organisations' own figures are not shared). A withheld figure has no count and no
    respondents. The public contract for partners' own tools (the CSV beside the workbook)."""
    instrument = data.instrument
    table, masks = published_table(data), shareable_masks(data)
    figures: list[dict[str, Any]] = []
    for p in instrument.perspectives:
        answered = int(table.loc[p.number, "answered"])
        for t in instrument.ticks:
            figures.append(
                _figure(
                    PARTNERSHIP_GROUP,
                    p.number,
                    t.key,
                    int(table.loc[p.number, t.key]),
                    bool(masks[p.number][t.key]),
                    answered,
                )
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
    note = (
        f"Based on {data.published_respondents} leaders' responses. {data.published_note}"
        if data.published_respondents
        else "Not enough responses have been received yet to show any figures."
    )
    masks = _by_org_sheet(workbook, data, [], shareable=True)
    _summary_sheet(workbook, data, [], masks, note, counted=published_table(data))
    workbook.move_sheet("Summary", offset=-1)
    _about(
        workbook,
        data,
        "shareable edition (for every partner)",
        [
            ["Responses counted", data.published_respondents],
            ["Figures withheld", _withheld_text(*withheld_share(figures))],
            [
                "What is withheld",
                f"Counts are shown for the partnership as a whole, per {data.instrument.row_noun}, only when at least "
                f"{data.min_group_size} leaders answered and, for every answer given, at least {MARGIN} "
                "leaders gave another: then no leader's answer can be worked out, even by a partner who knows "
                f"their own and one colleague's answers. Otherwise the {data.instrument.row_noun} shows {HIDDEN}. "
                "Organisations' own figures are not shared.",
            ],
            [
                "When it changes",
                f"A {data.instrument.row_noun}'s figures change only when the answers that came in since "
                f"partners last saw it number at least {data.min_group_size} and pass the same test, so that "
                "comparing two editions never reveals the answers of the leaders who changed. That is why partners' "
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
    labels = data.labels
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
    _rounds_compared(workbook, data)
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
    return _save(workbook, _stamp(data.generated_at))


def _responses(workbook: Workbook, data: RoundData, labels: dict[str, str]) -> None:
    sheet = workbook.create_sheet("Responses")
    numbers = [p.number for p in data.instrument.perspectives]
    widths = [22, 24, *[11] * len(numbers), 12, 30, 66]
    top = title(sheet, "Responses: one row per leader (their current accepted return)", [], widths[:9])
    row_title = data.instrument.row_title
    headers = ["Leader", "Organisation", *[f"{row_title} {n}" for n in numbers], "Received (UTC)", "File", "sha256"]
    rows = [
        [
            a.name,
            a.organisation,
            *[labels.get(a.answers.get(n) or "", "") for n in numbers],
            _minute(a.received_at),
            a.file,
            a.sha256,
        ]
        for a in sorted(data.answers, key=lambda a: (a.organisation, a.name))
    ]
    table(sheet, top, headers, rows, "Responses", widths, stream=True)


TRACKER_REASONS = 5  # a leader's quarantine reasons shown in the tracker; the Quarantine sheet has them all


def _tracker(workbook: Workbook, data: RoundData) -> None:
    sheet = workbook.create_sheet("Response tracker")
    widths = [22, 24, 30, 11, 12, 50]
    top = title(sheet, "Response tracker: who still needs chasing", [], widths)
    accepted = {a.leader_id: a for a in data.answers}
    reasons: dict[str, list[str]] = defaultdict(list)
    for item in data.quarantined:
        if item["leader_id"] and item["code"]:
            reasons[item["leader_id"]].append(f"{item['file']}: {item['message']}")
    rows = []
    for leader in sorted(data.roster, key=lambda item: (item.organisation, item.name)):
        form = data.issued.get(leader.id)
        sent = data.mail.get(leader.id, {})
        if leader.id in accepted:
            status, detail = "returned", f"accepted {accepted[leader.id].received_at[:10]}"
            if "letter" in sent:
                detail += f"; letter {sent['letter']}"
            for note in data.senders.get(leader.id, [])[-1:]:  # the latest: who mailed it, when not the leader
                detail += f"\n{note}"
        elif leader.id in reasons:
            found = reasons[leader.id]
            more = len(found) - TRACKER_REASONS
            status = "quarantined"
            detail = "\n".join(found[:TRACKER_REASONS]) + (
                f"\n… and {more} more on the Quarantine sheet" if more > 0 else ""
            )
            detail += f"\ncorrection {sent['correction']}" if "correction" in sent else "\ncorrection not sent yet"
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
        widths,
        stream=True,
    )


def _quarantine(workbook: Workbook, data: RoundData) -> None:
    """What a facilitator acts on comes first (file, leader, problem, fix), so that it prints on the first
    page; the cell and the file's fingerprint follow."""
    sheet = workbook.create_sheet("Quarantine")
    widths = [12, 24, 24, 16, 38, 38, 18, 14, 66]
    top = title(sheet, "Quarantine: every file that was not accepted, with each problem", [], widths[:6])
    rows = [
        [
            _minute(q["received_at"]),
            q["file"],
            q["leader_id"] or "",
            q["code"] or "",
            q["message"] or "",
            q["fix"] or "",
            q["cell"] or "",
            q["name"] or "",
            q["sha256"],
        ]
        for q in data.quarantined
    ]
    table(
        sheet,
        top,
        ["Received (UTC)", "File", "Leader", "Code", "Problem", "What to do", "Cell", "Name", "sha256"],
        rows,
        "Quarantine",
        widths,
        stream=True,
        repeat_columns=2,
    )


LOG_WIDTH = 28  # each user-log column: about five words a line, however long the text


def _user_log(workbook: Workbook, data: RoundData) -> None:
    """What leaders wrote, in columns of a fixed, readable width. A text longer than the tallest row a
    spreadsheet allows goes on in the rows below it, marked as continued, so that nothing is cut off."""
    sheet = workbook.create_sheet("User log")
    columns = data.instrument.user_log
    widths = [20, 20, 7, *[LOG_WIDTH] * len(columns)]
    top = title(sheet, "User log: what leaders wrote (kept as text)", [], widths)
    rows: list[list[Any]] = []
    for a in sorted(data.answers, key=lambda a: (a.organisation, a.name)):
        for line, entry in enumerate(a.log, start=1):
            parts = [split_to_rows(entry.get(c.key, ""), LOG_WIDTH) for c in columns]
            for index in range(max(len(part) for part in parts)):
                rows.append(
                    [
                        a.name,
                        a.organisation,
                        line if index == 0 else f"{line} (cont.)",
                        *[part[index] if index < len(part) else "" for part in parts],
                    ]
                )
    table(
        sheet,
        top,
        ["Leader", "Organisation", "Line", *[c.label for c in columns]],
        rows,
        "UserLog",
        widths,
        stream=True,
    )


def _rounds_compared(workbook: Workbook, data: RoundData) -> None:
    """Every round's totals side by side, per row: counted from the answers, or for a round whose answers
    the retention policy has removed, from the totals kept then."""
    sheet = workbook.create_sheet("Rounds compared")
    instrument, keys = data.instrument, [t.key for t in data.instrument.ticks]
    rounds = [*sorted(data.rounds.items()), (data.round, tally(a.answers for a in data.answers))]
    widths = _figure_widths((12, 11), len(keys))
    top = title(
        sheet,
        f"Every round's totals, per {instrument.row_noun}",
        [
            "Counts of leaders per answer in each round (their latest accepted return); earlier rounds stay "
            "here after the retention policy has removed their leaders' answers.",
        ],
        widths,
    )
    rows = [
        _figure_row(round_id, p.number, [totals.get((p.number, key), 0) for key in keys])
        for round_id, totals in rounds
        for p in instrument.perspectives
    ]
    _figure_table(sheet, top, "Round", data, rows, "RoundsCompared", widths)


def _rounds(workbook: Workbook, data: RoundData, labels: dict[str, str]) -> None:
    sheet = workbook.create_sheet("Rounds")
    widths = [22, 24, 12, 11, 14, 14, 30]
    top = title(
        sheet,
        "Movement since each leader's previous round",
        [
            "Only leaders who answered an earlier round appear here." if data.earlier else "No earlier rounds yet.",
        ],
        widths,
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
        ["Leader", "Organisation", "Earlier round", data.instrument.row_title, "Then", "Now", "Movement"],
        rows,
        "Rounds",
        widths,
        stream=True,
    )
