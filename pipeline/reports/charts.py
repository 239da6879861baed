"""The workbooks' charts and table tints: horizontal 100% bars in the instrument's colours, each segment
labelled with its count, and a share column tinted in its answer's colour (the number is always written
too: colour is never the only cue)."""

from __future__ import annotations

from typing import Any

from openpyxl.chart import BarChart, Reference, Series
from openpyxl.chart.label import DataLabel, DataLabelList
from openpyxl.chart.text import RichText, Text
from openpyxl.chart.title import Title
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties, RegularTextRun
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.colours import scheme
from pipeline.pagefit import keep_together, tallest_drawing
from pipeline.reports.suppress import HIDDEN

CHART_WIDTH = 17.0  # cm: fits a portrait A4 page at 100%


CM = 72 / 2.54  # points


ORG_CHART_ROWS = 15  # rows of the default height (15 points) each organisation's chart takes


RIGHT = Alignment(horizontal="right", vertical="top")


def heat(sheet: Worksheet, first: int, last: int, first_column: int, answers: int) -> None:
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


def category_columns(source: Worksheet, first_column: int, count: int, first: int, last: int) -> list[Reference]:
    return [
        Reference(source, min_col=c, min_row=first, max_row=last) for c in range(first_column, first_column + count)
    ]


def column_counts(counts: list[list[int | None]]) -> list[list[int]]:
    """Rows of counts as the charts' columns (one list per answer), a withheld count as 0."""
    return [[row[i] or 0 for row in counts] for i in range(len(counts[0]))] if counts else []


def align_hidden(sheet: Worksheet, first: int, last: int, columns: range) -> None:
    """A withheld figure sits where its number would, right-aligned in its column."""
    for row in range(first, last + 1):
        for column in columns:
            cell = sheet.cell(row=row, column=column)
            if cell.value == HIDDEN:
                cell.alignment = RIGHT


def figure_widths(first: tuple[float, ...], answers: int) -> tuple[float, ...]:
    """``first`` columns, then a count per answer, the number who answered, and a share per answer."""
    return (*first, *[11.0] * answers, 10, *[11.0] * answers)
