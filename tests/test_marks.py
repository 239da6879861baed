"""Every way a leader ticks is read as what it means."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.intake.marks import Kind, classify
from pipeline.intake.reading import Cell

TICKS = [
    "✓",
    "✔",
    "√",
    "☑",
    "✅",
    "🗸",
    "yes",
    "Y",
    "true",
    "TRUE",
    "1",
    "ok",
    "OK",
    " ✓ ",
    "✓\ufe0f",
    "\u00a0✔\u200b",
    True,
    1,
    1.0,
]
CROSSES = ["x", "X", "✗", "✘", "×", "☒", " x\u00a0"]
EMPTIES = [None, "", "   ", "\u00a0", "FALSE", "false", "0", "no", "No", "-", False, 0, 0.0, "\u200b"]
UNRECOGNISED = ["maybe", "✓✓", "comfortable", "2", 2, 0.5, "ü", "#N/A"]


@pytest.mark.parametrize("value", TICKS)
def test_ticks(value):
    assert classify(Cell(value)).kind is Kind.TICK


@pytest.mark.parametrize("value", CROSSES)
def test_crosses(value):
    assert classify(Cell(value)).kind is Kind.CROSS


@pytest.mark.parametrize("value", EMPTIES)
def test_empty(value):
    assert classify(Cell(value)).kind is Kind.EMPTY


@pytest.mark.parametrize("value", UNRECOGNISED)
def test_unrecognised_keeps_the_raw_value(value):
    mark = classify(Cell(value))
    assert mark.kind is Kind.UNRECOGNISED
    assert mark.raw == str(value)


def test_wingdings_marks_count_only_in_a_wingdings_font():
    assert classify(Cell("ü", font="Wingdings")).kind is Kind.TICK
    assert classify(Cell("þ", font="Wingdings 2")).kind is Kind.TICK
    assert classify(Cell("û", font="Wingdings")).kind is Kind.CROSS
    assert classify(Cell("ü", font="Calibri")).kind is Kind.UNRECOGNISED


def test_a_formula_cell_is_read_by_its_cached_value():
    assert classify(Cell(True, formula=True)).kind is Kind.TICK  # LibreOffice's =TRUE()
    assert classify(Cell(False, formula=True)).kind is Kind.EMPTY


@given(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text()),
    st.one_of(st.none(), st.text()),
)
def test_any_value_is_classified_without_error(value, font):
    mark = classify(Cell(value, font=font))
    assert mark.kind in set(Kind)
