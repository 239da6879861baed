"""The fast template path gives exactly the reference builder's workbook, whatever the roster says."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.forms.issuing import shared_fields
from pipeline.forms.reference import build_form
from pipeline.forms.template import FormTemplate
from pipeline.settings import text_problem
from tests.formfacts import load


def parts(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def test_every_part_is_identical_for_every_example_leader(example_config):
    template = FormTemplate(example_config.instrument, shared_fields(example_config))
    for index, leader in enumerate(example_config.roster):
        fields = dataclasses.replace(
            shared_fields(example_config),
            name=leader.name,
            organisation=leader.organisation,
            role=leader.role if index % 2 else "",
            token=f"token-{index}",
        )
        assert parts(template.render(fields)) == parts(build_form(example_config.instrument, fields))


def test_same_cells_names_properties_validation_and_protection(example_config, tmp_path):
    fields = dataclasses.replace(
        shared_fields(example_config), name="Zoë <O'Brien> & Co", organisation="=1+1", role="", token="t0k"
    )
    fast, reference = tmp_path / "fast.xlsx", tmp_path / "reference.xlsx"
    fast.write_bytes(FormTemplate(example_config.instrument, shared_fields(example_config)).render(fields))
    reference.write_bytes(build_form(example_config.instrument, fields))
    a, b = load(fast), load(reference)
    assert (a.names, a.properties, a.data_sheet, a.sheet_states, a.protected, a.unlocked, a.validations) == (
        b.names,
        b.properties,
        b.data_sheet,
        b.sheet_states,
        b.protected,
        b.unlocked,
        b.validations,
    )
    for sheet_a, sheet_b in zip(a.formulas.worksheets, b.formulas.worksheets, strict=True):
        cells_a = [(c.coordinate, c.value, c.data_type, c.style_id) for row in sheet_a.iter_rows() for c in row]
        cells_b = [(c.coordinate, c.value, c.data_type, c.style_id) for row in sheet_b.iter_rows() for c in row]
        assert cells_a == cells_b


roster_text = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc")),
        min_size=1,
        max_size=120,
    )
    .map(str.strip)
    .filter(lambda s: s and text_problem(s) is None)
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=roster_text, organisation=roster_text, role=st.one_of(st.just(""), roster_text))
def test_fast_equals_reference_for_any_roster_text(example_config, name, organisation, role):
    shared = shared_fields(example_config)
    fields = dataclasses.replace(shared, name=name, organisation=organisation, role=role, token="tok")
    fast = FormTemplate(example_config.instrument, shared).render(fields)
    assert parts(fast) == parts(build_form(example_config.instrument, fields))
