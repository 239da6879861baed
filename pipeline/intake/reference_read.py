"""The reference reader: the same ``Reading`` through openpyxl, the well-known slow path.

Used by the differential tests that hold the fast reader to it, and by anyone who wants a second
opinion on a file. Like the fast reader, it must only ever be given bytes the guard has passed.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Collection, Mapping

import openpyxl
import openpyxl.xml

from pipeline.intake.reading import EMPTY, Cell, Reading, cell_targets, needs_font, normal_value, parse_reference

assert openpyxl.xml.DEFUSEDXML, "defusedxml must be installed so openpyxl parses XML safely"


def read_reference(data: bytes, wanted: Mapping[str, Collection[str]], follow: Collection[str] = ()) -> Reading:
    """The same Reading as the fast reader, through openpyxl: the ``wanted`` cells and the ``follow``
    names' cells, each read by coordinate from openpyxl's model of the workbook."""
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
    for sheet, coordinates in cell_targets(reading, wanted, follow).items():
        for coordinate in coordinates:
            cell_f, cell_v = formulas[sheet][coordinate], values[sheet][coordinate]
            value = normal_value(cell_v.value)
            is_formula = cell_f.data_type == "f"
            font = cell_f.font.name if needs_font(value) else None
            reading.cells[(sheet, coordinate)] = (
                Cell(value, is_formula, font) if value is not None or is_formula else EMPTY
            )
    return reading
