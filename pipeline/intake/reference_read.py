"""The reference reader: the same ``Reading`` through openpyxl, the well-known slow path.

Used by the differential tests that hold the fast reader to it, and by anyone who wants a second
opinion on a file. Like the fast reader, it must only ever be given bytes the guard has passed.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from collections.abc import Iterable

import openpyxl
import openpyxl.xml
from openpyxl.utils.datetime import to_excel

from pipeline.intake.reading import Cell, CellRaw, Reading, needs_font, parse_reference

assert openpyxl.xml.DEFUSEDXML, "defusedxml must be installed so openpyxl parses XML safely"


def _raw(value: object) -> CellRaw:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return float(to_excel(value))
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return value
    return value  # type: ignore[return-value]


def read_reference(data: bytes, sheets_wanted: Iterable[str] | None = None) -> Reading:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        formulas = openpyxl.load_workbook(io.BytesIO(data), rich_text=False)
        values = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    reading = Reading(sheets=list(formulas.sheetnames))
    for name, definition in formulas.defined_names.items():
        target = parse_reference(definition.attr_text or "")
        if target is not None:
            reading.names[name] = target
    reading.properties = {prop.name: str(prop.value) for prop in formulas.custom_doc_props}
    wanted = set(sheets_wanted) if sheets_wanted is not None else {sheet for sheet, _ in reading.names.values()}
    for title in reading.sheets:
        if title not in wanted:
            continue
        for row_f, row_v in zip(formulas[title].iter_rows(), values[title].iter_rows(), strict=True):
            for cell_f, cell_v in zip(row_f, row_v, strict=True):
                value = _raw(cell_v.value)
                is_formula = cell_f.data_type == "f"
                if value is None and not is_formula and not cell_f.has_style:
                    continue
                reading.cells[(title, cell_f.coordinate)] = Cell(
                    value, is_formula, cell_f.font.name if needs_font(value) else None
                )
    return reading
