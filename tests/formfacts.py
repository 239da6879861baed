"""What a form workbook holds, read with openpyxl, so tests compare facts rather than bytes."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from openpyxl.workbook.workbook import Workbook


@dataclass
class FormFacts:
    names: dict[str, str]  # defined name -> "Sheet!C7"
    properties: dict[str, str]
    data_sheet: dict[str, str]  # key -> value on the "Form data" sheet
    sheet_states: dict[str, str]
    protected: dict[str, bool]
    unlocked: dict[str, set[str]]  # sheet -> coordinates of unlocked cells
    validations: dict[str, list[tuple[str, str, str]]]  # sheet -> (range, type, formula1)
    values: Workbook  # cached values (data_only)
    formulas: Workbook


def load(path: Path) -> FormFacts:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        formulas = openpyxl.load_workbook(path)
        values = openpyxl.load_workbook(path, data_only=True)
    names = {}
    for name, definition in formulas.defined_names.items():
        destinations = list(definition.destinations)
        if len(destinations) == 1:
            sheet, ref = destinations[0]
            names[name] = f"{sheet}!{ref.replace('$', '')}"
    data_sheet = {}
    if "Form data" in formulas.sheetnames:
        for key, value in formulas["Form data"].iter_rows(min_row=2, max_col=2, values_only=True):
            if key is not None:
                data_sheet[str(key)] = str(value)
    unlocked: dict[str, set[str]] = {}
    for sheet in formulas.worksheets:
        unlocked[sheet.title] = {
            cell.coordinate for row in sheet.iter_rows() for cell in row if cell.protection.locked is False
        }
    return FormFacts(
        names=names,
        properties={prop.name: str(prop.value) for prop in formulas.custom_doc_props},
        data_sheet=data_sheet,
        sheet_states={sheet.title: sheet.sheet_state for sheet in formulas.worksheets},
        protected={sheet.title: bool(sheet.protection.sheet) for sheet in formulas.worksheets},
        unlocked=unlocked,
        validations={
            sheet.title: [(str(v.sqref), str(v.type), str(v.formula1)) for v in sheet.data_validations.dataValidation]
            for sheet in formulas.worksheets
        },
        values=values,
        formulas=formulas,
    )
