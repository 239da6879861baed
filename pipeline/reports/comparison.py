"""The partnership comparison workbook, in two editions built from the same tables.

The facilitator edition holds everything, names and words included. The shareable edition holds only
aggregates, after the suppression rules of ``suppress`` and from the snapshot ``publication`` allows.
Both are plain openpyxl: native charts, Excel tables with filters, a colour-scale heat map (the numbers
are always written too), frozen headers, print setup. Every text from a return is written as text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import Reference
from openpyxl.styles import Alignment

from pipeline.reports.aggregate import long_table, percentages, summary
from pipeline.reports.charts import (
    align_hidden,
    category_columns,
    column_counts,
    figure_widths,
    heat,
    stacked_chart,
)
from pipeline.reports.data import Answer, RoundData, whom_counted, withheld_rule
from pipeline.reports.facilitator_sheets import (
    quarantine_sheet,
    responses_sheet,
    rounds_compared_sheet,
    rounds_sheet,
    tracker_sheet,
    user_log_sheet,
)
from pipeline.reports.figures import Figure, FigureRow, published_table, shareable_masks, withheld_share
from pipeline.reports.org_sheets import by_org_sheet
from pipeline.reports.sheets import table, title
from pipeline.xlsx import workbook_bytes


def save_workbook(workbook: Workbook, stamp: dt.datetime) -> bytes:
    """The workbook's bytes, stamped with ``stamp`` rather than the time of saving: an edition built
    from the same snapshot is the same file."""
    return workbook_bytes(workbook, stamp)


def stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


def new_workbook() -> Workbook:
    workbook = Workbook()
    workbook.remove(workbook.worksheets[0])
    return workbook


def summary_sheet(
    workbook: Workbook,
    data: RoundData,
    answers: list[Answer],
    masks: dict[int, pd.Series] | None,
    note: str,
    counted: pd.DataFrame | None = None,
) -> None:
    """The summary table and chart, from ``answers`` or, for partners, from the ``counted`` table of the
    published editions (``published_table``): then each row says whom it counts (Counted) beside the
    leaders who have answered it so far."""
    sheet = workbook.create_sheet("Summary")
    instrument, keys = data.instrument, [t.key for t in data.instrument.ticks]
    counts = counted if counted is not None else summary(long_table(answers, instrument), instrument)
    shares = percentages(counts, keys)
    widths = figure_widths((10, 40), len(keys)) + (() if counted is None else (10.0,))
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
        "Answered" if counted is None else "Counted",
        *[f"{data.headings[k]} (share)" for k in keys],
        *([] if counted is None else ["Answered so far"]),
    ]
    rows: list[FigureRow] = []
    shown_any = False
    for p in instrument.perspectives:
        mask = masks.get(p.number) if masks is not None else None
        hidden = [bool(mask is not None and mask[key]) for key in keys]
        shown_any |= not all(hidden)
        rows.append(
            FigureRow(
                p.number,
                p.statement,
                [None if off else int(counts.loc[p.number, key]) for key, off in zip(keys, hidden, strict=True)],
                None if all(hidden) else int(counts.loc[p.number, "answered"]),
                [None if off else float(shares.loc[p.number, key]) for key, off in zip(keys, hidden, strict=True)],
                () if counted is None else (data.answered.get(p.number, 0),),
            )
        )
    share_column = 3 + len(keys) + 1
    formats = {share_column + i: "0%" for i in range(len(keys))}
    first, last = table(sheet, top, headers, [row.cells() for row in rows], "SummaryTable", widths, formats)
    align_hidden(sheet, first, last, range(3, len(headers) + 1))
    heat(sheet, first, last, share_column, len(keys))
    if shown_any and int(counts["answered"].sum()):  # a withheld row is an empty bar, as in the table
        stacked_chart(
            sheet,
            f"How leaders answered, per {instrument.row_noun}",
            category_columns(sheet, 3, len(keys), first, last),
            [f"{data.headings[k]} (leaders)" for k in keys],
            Reference(sheet, min_col=1, min_row=first, max_row=last),
            f"A{last + 3}",
            (instrument.row_title, f"Share of the leaders who answered the {instrument.row_noun}"),
            column_counts([row.counts for row in rows]),
        )


def about_sheet(workbook: Workbook, data: RoundData, edition: str, lines: list[list[Any]]) -> None:
    """What the edition is, last: a workbook opens on its Summary (``opens_on_summary``)."""
    sheet = workbook.create_sheet("About")
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


def shareable_workbook(data: RoundData, figures: list[Figure]) -> bytes:
    """Aggregates only, no names and no free text, from the published snapshot (``figures``: its
    ``shareable_figures``, counted once by the caller)."""
    workbook = new_workbook()
    summary_sheet(workbook, data, [], shareable_masks(data), whom_counted(data), counted=published_table(data))
    about_sheet(
        workbook,
        data,
        "shareable edition (for every partner)",
        [
            ["Responses counted", f"{data.published_respondents} of the {data.returned} answered so far"],
            ["Round status", _round_status(data)],
            ["Figures withheld", _withheld_text(*withheld_share(figures))],
            ["What is withheld", withheld_rule(data)],
            [
                "When it is published",
                "Every night, whenever enough new returns allow it (shareable: nightly)."
                if data.publishing == "nightly"
                else "Once, when the round closes, counting every return the rules above allow.",
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
    return save_workbook(opens_on_summary(workbook), stamp(data.generated_at))


def opens_on_summary(workbook: Workbook) -> Workbook:
    """The workbook opens on its Summary, the one sheet selected (Excel prints every selected sheet)."""
    for sheet in workbook.worksheets:
        sheet.sheet_view.tabSelected = sheet.title == "Summary"
    workbook.active = workbook.sheetnames.index("Summary")
    return workbook


def _round_status(data: RoundData) -> str:
    return f"closed on {data.closed_at[:10]}" if data.closed_at else f"open until {data.closes_on}"


def _unpublished(data: RoundData) -> str:
    if data.publishing == "close" and not data.closed_at:
        return "published when the round closes (clb close, or the first nightly run after its last day)"
    return "not published yet: too few answers to show any without giving one away"


def _withheld_text(withheld: int, figures: int) -> str:
    if not figures:
        return "no figures yet"
    return f"{withheld} of {figures} figures ({withheld / figures:.0%})"


def facilitator_workbook(data: RoundData) -> bytes:
    """Everything, for the facilitator only: names, ticks, the user log, the chasing list."""
    workbook = new_workbook()
    labels = data.labels
    summary_sheet(
        workbook,
        data,
        data.answers,
        None,
        f"All {len(data.answers)} accepted responses. "
        "FACILITATOR EDITION: contains names and personal answers; do not share.",
    )
    if data.answers:  # a sheet with nothing to show is not there
        by_org_sheet(workbook, data, data.answers)
        responses_sheet(workbook, data, labels)
    tracker_sheet(workbook, data)
    if data.quarantined:
        quarantine_sheet(workbook, data)
    if any(a.log for a in data.answers):
        user_log_sheet(workbook, data)
    if any(a.leader_id in data.earlier for a in data.answers):
        rounds_sheet(workbook, data, labels)
    if data.rounds:
        rounds_compared_sheet(workbook, data)
    about_sheet(
        workbook,
        data,
        "facilitator edition (names and personal answers: do not share)",
        [
            ["Accepted responses", len(data.answers)],
            ["Leaders on the roster", len(data.roster)],
            ["Quarantined files", len({q["id"] for q in data.quarantined})],
            ["Figures withheld", "none: this edition shows everything"],
            ["Round status", _round_status(data)],
            ["Shareable edition", data.published_note or _unpublished(data)],
        ],
    )
    return save_workbook(opens_on_summary(workbook), stamp(data.generated_at))
