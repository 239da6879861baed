"""The facilitator edition's organisation sheets (the table, the matrix, a chart per organisation, the
totals). The shareable edition has none: organisations' own figures are not shared (its About sheet
says why)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import Reference
from openpyxl.styles import Alignment, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.colours import scheme
from pipeline.pagefit import page_setup
from pipeline.reports.aggregate import long_table
from pipeline.reports.charts import (
    ORG_CHART_ROWS,
    category_columns,
    column_counts,
    figure_widths,
    heat,
    stacked_chart,
)
from pipeline.reports.data import Answer, RoundData
from pipeline.reports.figures import FigureRow, org_tables
from pipeline.reports.sheets import table, title


def figure_table(
    sheet: Worksheet, top: int, group: str, data: RoundData, rows: list[FigureRow], name: str, widths: Sequence[float]
) -> tuple[int, int]:
    """A table of ``figure_row``s under ``group``'s heading, the shares tinted in their answers' colours."""
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
    first, last = table(sheet, top, headers, [row.cells() for row in rows], name, widths, formats)
    heat(sheet, first, last, share_column, len(keys))
    return first, last


def by_org_sheet(workbook: Workbook, data: RoundData, answers: list[Answer]) -> dict[int, pd.Series]:
    """The organisation table; returns each perspective's withheld partnership figures (none here)."""
    sheet = workbook.create_sheet("By organisation")
    instrument, keys, k = data.instrument, [t.key for t in data.instrument.ticks], data.min_group_size
    tables = org_tables(answers, instrument, k, shareable=False)
    widths = figure_widths((30, 11), len(keys))
    top = title(
        sheet,
        "By organisation",
        [
            "Every organisation with at least one accepted return, in alphabetical order, then by "
            f"{instrument.row_noun}."
        ],
        widths,
    )
    first, _ = figure_table(sheet, top, "Organisation", data, tables.rows, "ByOrganisation", widths)
    if tables.rows:
        _matrix(workbook, data, tables.rows, keys)
        _org_charts(workbook, data, sheet, tables.rows, first, keys)
        _org_totals(workbook, data, long_table(answers, instrument), keys)
    return tables.partnership_hidden


def _matrix(workbook: Workbook, data: RoundData, rows: list[FigureRow], keys: list[str]) -> None:
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
        cells[str(row.group)][int(row.label)] = [count or 0 for count in row.counts]
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
    workbook: Workbook, data: RoundData, source: Worksheet, rows: list[FigureRow], first: int, keys: list[str]
) -> None:
    """One chart per organisation, from its rows of the By organisation table, about three to a portrait
    page and never split by a page break."""
    sheet = workbook.create_sheet("Charts by organisation")
    row_noun = data.instrument.row_noun
    title(sheet, f"How each organisation's leaders answered, per {row_noun}", [], (70,))
    spans: dict[str, list[int]] = {}
    for offset, row in enumerate(rows):
        spans.setdefault(str(row.group), []).append(first + offset)
    sheet.column_dimensions["A"].width = 70
    page_setup(sheet, [70])
    anchor = 3
    for org, table_rows in spans.items():
        stacked_chart(
            sheet,
            org,
            category_columns(source, 3, len(keys), table_rows[0], table_rows[-1]),
            [data.headings[k] for k in keys],
            Reference(source, min_col=2, min_row=table_rows[0], max_row=table_rows[-1]),
            f"A{anchor}",
            (data.instrument.row_title, "Share of the organisation's leaders who answered"),
            column_counts([row.counts for row in rows[table_rows[0] - first : table_rows[-1] - first + 1]]),
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
        category_columns(sheet, 2, len(keys), first, last),
        [f"{data.headings[k]} (answers)" for k in keys],
        Reference(sheet, min_col=1, min_row=first, max_row=last),
        f"A{last + 3}",
        ("", f"Share of the organisation's answers over all {data.instrument.count_words()}"),  # names say the bars
        column_counts([row[1:] for row in rows]),
        height=max(9.0, 3.0 + 0.95 * len(rows)),  # room for a two-line name per bar, up to a page
        width=24.0,  # the organisations' names take room beside the bars; the sheet prints landscape
    )
