"""The figures the editions show, as data: the counts per row for the partnership and each organisation
(``FigureRow``), and the shareable figures as tidy data (the CSV beside the shareable edition, and what
letters may quote), from the published editions only."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, TypedDict

import pandas as pd

from pipeline.instrument import Instrument
from pipeline.reports.aggregate import long_table
from pipeline.reports.data import Answer, RoundData
from pipeline.reports.suppress import HIDDEN, safe

PARTNERSHIP = "All organisations"


@dataclass(frozen=True)
class FigureRow:
    """One row of a figure table: a group (an organisation, a round, a perspective), what the row is (a
    perspective's number, or its statement), the count per answer, the number who answered and the
    shares of those. A withheld figure is None, and shows as ``HIDDEN`` in a cell."""

    group: str | int
    label: str | int
    counts: list[int | None]
    answered: int | None
    shares: list[float | None]
    tail: tuple[Any, ...] = ()  # cells after the shares (partners' table: the leaders answered so far)

    def cells(self) -> list[Any]:
        """The row as the sheet's cells, a withheld figure as ``HIDDEN``."""
        shown = [*self.counts, self.answered, *self.shares]
        return [self.group, self.label, *(HIDDEN if value is None else value for value in shown), *self.tail]


@dataclass(frozen=True)
class OrgTables:
    rows: list[FigureRow]  # per organisation and perspective
    partnership: dict[int, pd.Series]  # per perspective: the partnership row's counts
    partnership_hidden: dict[int, pd.Series]  # per perspective: which of them are withheld


def org_tables(answers: list[Answer], instrument: Instrument, k: int, shareable: bool) -> OrgTables:
    """Per perspective, the partnership's counts and each organisation's. In the shareable edition, the
    partnership's only, withheld whole where ``suppress.safe`` does not allow them (publication makes that
    rare): an organisation's own counts cannot be shared safely once editions are compared, because the
    leaders who change between two editions are few in any one organisation."""
    keys = [t.key for t in instrument.ticks]
    frame = long_table(answers, instrument)
    organisations = sorted({a.organisation for a in answers})
    rows: list[FigureRow] = []
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
                rows.append(figure_row(org, p.number, vector))
    rows.sort(key=lambda row: (str(row.group), str(row.label).zfill(6)))  # readers look for their own organisation
    return OrgTables(rows, totals, hidden)


def figure_row(group: str | int, label: str | int, counts: list[int]) -> FigureRow:
    """A group's counts for one row, the number who answered, and the shares (0 where none did)."""
    answered = sum(counts)
    return FigureRow(group, label, list(counts), answered, [count / answered if answered else 0.0 for count in counts])


FIGURE_COLUMNS = ("group", "perspective", "category", "count", "withheld", "respondents", "answered_so_far")


class Figure(TypedDict):
    """One figure of the shareable edition (a row of its CSV): a withheld one has no count and no
    respondents."""

    group: str
    perspective: int
    category: str
    count: int | None
    withheld: bool
    respondents: int | None  # the leaders this figure counts
    answered_so_far: int  # the leaders who have answered the perspective: more than counted until they are added


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


def shareable_figures(data: RoundData) -> list[Figure]:
    """Every figure the shareable edition shows or withholds, one row each, per perspective and category
    (the partnership's: organisations' own figures are not shared). A withheld figure has no count and no
    respondents. The public contract for partners' own tools (the CSV beside the workbook)."""
    instrument = data.instrument
    table, masks = published_table(data), shareable_masks(data)
    figures: list[Figure] = []
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
                    data.answered.get(p.number, 0),
                )
            )
    return figures


def _figure(group: str, number: int, key: str, count: int, withheld: bool, answered: int, so_far: int) -> Figure:
    return {
        "group": group,
        "perspective": number,
        "category": key,
        "count": None if withheld else int(count),
        "withheld": withheld,
        "respondents": None if withheld else answered,
        "answered_so_far": so_far,
    }


def figures_csv(figures: list[Figure]) -> bytes:
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
                figure["answered_so_far"],
            ]
        )
    return buffer.getvalue().encode("utf-8")


def withheld_share(figures: list[Figure]) -> tuple[int, int]:
    """(figures withheld, figures in all) of an edition."""
    return sum(1 for f in figures if f["withheld"]), len(figures)
