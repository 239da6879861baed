"""The guard stops every hostile file with the right code before any parser sees it."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tests.hostile as H
from pipeline.forms.issuing import shared_fields
from pipeline.forms.reference import build_form
from pipeline.intake.guard import Guarded, Limits, guard
from pipeline.problems import Problem


@pytest.fixture(scope="module")
def form(example_config) -> bytes:
    fields = dataclasses.replace(shared_fields(example_config), name="Priya", organisation="Council", token="tok")
    return build_form(example_config.instrument, fields)


CASES = [
    ("empty file", lambda form: b"", "not-a-workbook", "empty"),
    ("old .xls renamed", lambda form: H.old_xls(), "not-a-workbook", ".xls"),
    ("csv renamed .xlsx", lambda form: H.csv_renamed(), "not-a-workbook", "text file"),
    ("pdf", lambda form: b"%PDF-1.7\n...", "not-a-workbook", "PDF"),
    ("truncated zip", H.truncated, "not-a-workbook", "damaged"),
    ("word document", lambda form: H.word_document(), "not-a-workbook", "Word"),
    ("encrypted", H.encrypted, "encrypted", ""),
    ("macros", H.with_macros, "macros", "vbaProject"),
    ("zip bomb", lambda form: H.zip_bomb(200), "unsafe-file", "inflating to 200.0 MB"),
    ("billion laughs", H.billion_laughs, "unsafe-file", "entity declaration"),
    ("XXE", H.xxe, "unsafe-file", "entity declaration"),
    ("DOCTYPE hidden in UTF-16", H.utf16_smuggled_doctype, "unsafe-file", "UTF-16"),
    # what the parser sees, not what a byte search sees
    ("UTF-16 without a byte-order mark", H.utf16_without_bom, "unsafe-file", "UTF-16 in xl/workbook.xml"),
    ("another encoding declared loosely", H.declared_encoding, "unsafe-file", "ISO-8859-1"),
    ("far cell in single quotes", H.far_cell_single_quotes, "unsafe-file", "1048576"),
    ("far cell with spaces around =", H.far_cell_spaced, "unsafe-file", "XFD1048576"),
    ("far cell with a namespace prefix", H.far_cell_prefixed, "unsafe-file", "XFD1048576"),
    ("far cell placed by counting", H.far_cell_unnumbered, "unsafe-file", "far outside the form"),
    ("sheet size reaching XFD1048576", H.far_dimension, "unsafe-file", "XFD1048576"),
    ("far cell in an upper-case .XML part", H.far_cell_upper_case_name, "unsafe-file", "SHEET4.XML"),
    ("far cell in a sheet stored elsewhere", H.far_cell_elsewhere, "unsafe-file", "xl/data/numbers.xml"),
    ("control characters in a part name", H.control_part_name, "macros", "\\u001b]0;owned\\u0007"),
    ("U+FFFE in a part name", H.noncharacter_part_name, "unsafe-file", "\\ufffe\\uffff"),
    ("A1 and XFD1048576", H.far_cell, "unsafe-file", "1048576"),
    ("two million cells", H.many_cells, "unsafe-file", ""),
    ("over the size cap", lambda form: form + b"\0" * (6 << 20), "too-large", "MB"),
]


@pytest.mark.parametrize(("label", "make", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_hostile_file_is_stopped(form, label, make, code, words):
    found = guard(make(form))
    assert isinstance(found, Problem), label
    assert found.code == code
    assert words in found.message
    assert found.fix


def test_a_real_form_passes_with_its_xml_parts(form):
    guarded = guard(form)
    assert isinstance(guarded, Guarded)
    assert {"xl/workbook.xml", "docProps/custom.xml", "xl/worksheets/sheet2.xml"} <= set(guarded.parts)


def test_files_saved_by_real_programs_pass():
    from tests.conftest import DATA

    kept = sorted(path for path in (DATA / "returns").iterdir() if path.suffix in (".xlsx", ".ods", ".xls"))
    assert len(kept) == 9
    for path in kept:
        assert isinstance(guard(path.read_bytes()), Guarded), path.name


def test_a_damaged_xls_renamed_xlsx_is_named_as_such():
    assert "a damaged Excel 97-2003 (.xls) file" in guard(H.old_xls()).message


def test_calamine_may_read_what_the_guard_passes(form):
    """calamine aborts the process on the far-cell file: it must only ever see guarded files."""
    from python_calamine import CalamineWorkbook

    assert isinstance(guard(H.far_cell(form)), Problem)
    book = CalamineWorkbook.from_filelike(__import__("io").BytesIO(form))
    assert "Self-assessment" in book.sheet_names


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_files_never_crash_the_guard(form, data):
    mutated = bytearray(form)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(mutated))))
    blob = bytes(mutated[:cut] if cut is not None else mutated)
    result = guard(blob, Limits())
    assert isinstance(result, Guarded | Problem)
