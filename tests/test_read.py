"""The fast reader agrees with the openpyxl reference reader on every fixture and every generated case."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tests.hostile as H
from pipeline.config import load_config
from pipeline.forms import layout as L
from pipeline.forms.issuing import shared_fields
from pipeline.forms.layout import FormSpec
from pipeline.forms.reference import build_form
from pipeline.intake.fast_reader import UnreadableWorkbook, read_guarded
from pipeline.intake.guard import Guarded, guard
from pipeline.intake.reference_read import read_reference
from pipeline.simulate import SHEET_PARTS, repack
from tests.conftest import DATA, EXAMPLE_CONFIG

SPEC = FormSpec.of(load_config(EXAMPLE_CONFIG).instrument)


def both(data: bytes):
    guarded = guard(data)
    assert isinstance(guarded, Guarded)
    return read_guarded(guarded, SPEC.wanted, SPEC.follow), read_reference(data, SPEC.wanted, SPEC.follow)


def assert_same(data: bytes) -> None:
    fast, reference = both(data)
    assert fast.names == reference.names
    assert fast.properties == reference.properties
    assert fast.sheets == reference.sheets
    assert fast.cells == reference.cells
    assert len(fast.cells) >= 59


@pytest.mark.parametrize("path", sorted((DATA / "returns").glob("*.xlsx")), ids=lambda p: p.name)
def test_real_program_files(path):
    assert_same(path.read_bytes())


def test_excel_365_checkboxes(tmp_path):
    data = H.excel_checkbox_workbook()
    fast, reference = both(data)
    assert fast.cells == reference.cells
    assert [fast.named(n).value for n in ("p1_comfortable", "p1_stretched", "p1_panicked")] == [True, False, False]


def test_libreoffice_booleans_are_cached_values_of_formulas():
    fast, _ = both((DATA / "returns" / "libreoffice-complete.xlsx").read_bytes())
    cell = fast.named("p3_panicked")
    assert (cell.value, cell.formula) == (True, True)


@pytest.fixture(scope="module")
def form(example_config) -> bytes:
    fields = dataclasses.replace(shared_fields(example_config), name="Priya", organisation="Council", token="tok")
    return build_form(example_config.instrument, fields)


xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    xml_text,
)


def cell_xml(coordinate: str, shape: str, value: object, style: str) -> bytes:
    from xml.sax.saxutils import escape

    text = escape(str(value))
    shapes = {
        "inline": f'<c r="{coordinate}"{style} t="inlineStr"><is><t>{text}</t></is></c>',
        "rich": f'<c r="{coordinate}"{style} t="inlineStr"><is><r><t>{text}</t></r><r><t>!</t></r></is></c>',
        "number": f'<c r="{coordinate}"{style}><v>{value!r}</v></c>'
        if isinstance(value, int | float) and not isinstance(value, bool)
        else f'<c r="{coordinate}"{style}/>',
        "bool": f'<c r="{coordinate}"{style} t="b"><v>{int(bool(value))}</v></c>',
        "formula-str": f'<c r="{coordinate}"{style} t="str"><f>CONCAT("a")</f><v>{text}</v></c>',
        "formula-bool": f'<c r="{coordinate}"{style} t="b"><f>TRUE()</f><v>1</v></c>',
        "error": f'<c r="{coordinate}"{style} t="e"><v>#N/A</v></c>',
        "no-ref": f'<c{style} t="inlineStr"><is><t>{text}</t></is></c>',
        "lower-ref": f'<c r="{coordinate.lower()}"{style} t="inlineStr"><is><t>{text}</t></is></c>',
        "empty": f'<c r="{coordinate}"{style}/>',
    }
    return shapes[shape].encode("utf-8")


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_cells(form, example_config, data):
    parts = H.parts_of(form)
    names = list(L.input_names(example_config.instrument).values())
    for _ in range(data.draw(st.integers(1, 6))):
        ref = data.draw(st.sampled_from(names))
        part = SHEET_PARTS[ref.sheet]
        xml = parts[part]
        pattern = re.compile(rb'<c r="' + ref.coordinate.encode() + rb'"( s="\d+")?[^>]*?(?:/>|>.*?</c>)', re.S)
        match = pattern.search(xml)
        if match is None:
            continue
        shape = data.draw(
            st.sampled_from(
                [
                    "inline",
                    "rich",
                    "number",
                    "bool",
                    "formula-str",
                    "formula-bool",
                    "error",
                    "empty",
                    "no-ref",
                    "lower-ref",
                ]
            )
        )
        replacement = cell_xml(ref.coordinate, shape, data.draw(values), (match.group(1) or b"").decode())
        parts[part] = xml[: match.start()] + replacement + xml[match.end() :]
    mutated = repack(parts)
    guarded = guard(mutated)
    assert isinstance(guarded, Guarded)
    try:
        fast = read_guarded(guarded, SPEC.wanted, SPEC.follow)
    except UnreadableWorkbook:
        with pytest.raises(Exception):  # noqa: B017 - openpyxl raises many kinds; both must refuse
            read_reference(mutated, SPEC.wanted, SPEC.follow)
        return
    reference = read_reference(mutated, SPEC.wanted, SPEC.follow)
    assert fast.cells == reference.cells
    assert fast.names == reference.names


def test_cells_without_references_follow_the_previous_one(form):
    parts = H.parts_of(form)
    part = SHEET_PARTS[L.FORM_SHEET]
    parts[part] = re.sub(
        rb'<c r="D7"( s="\d+")?[^>]*?/>',
        lambda m: cell_xml("D7", "no-ref", "x", (m.group(1) or b"").decode()),
        parts[part],
    )
    data = repack(parts)
    assert_same(data)
    fast, _ = both(data)
    assert fast.cell(L.FORM_SHEET, "D7").value == "x"
