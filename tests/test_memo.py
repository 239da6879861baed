"""The guard and the reader keep what they worked out from a round's unchanging parts (pipeline/intake/memo.py):
kept under the very bytes, never under what a file says about them, and never shared with a reading."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tests.hostile as H
from pipeline.forms.issuing import shared_fields
from pipeline.forms.reference import build_form
from pipeline.intake.fast_reader import UnreadableWorkbook, read_guarded
from pipeline.intake.guard import Limits, guard
from pipeline.intake.memo import KEEP_AT_MOST, Memo, forget_all
from pipeline.intake.safexml import Guarded
from pipeline.problems import Code, Problem
from pipeline.simulate import answers, fill, repack


@pytest.fixture(scope="module")
def form(example_config) -> bytes:
    fields = dataclasses.replace(shared_fields(example_config), name="Priya", organisation="Council", token="tok")
    return build_form(example_config.instrument, fields)


def test_a_part_forged_to_the_crc_and_size_of_one_that_passed_is_checked_again(form):
    parts = H.parts_of(form)
    theme = parts["xl/theme/theme1.xml"]
    assert isinstance(guard(form), Guarded)  # the theme has passed: its verdict is kept
    assert isinstance(guard(form), Guarded)
    forged = H.same_crc_and_size(theme, b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b SYSTEM "file:///etc/passwd">]>')
    found = guard(repack({**parts, "xl/theme/theme1.xml": forged}))
    assert isinstance(found, Problem)
    assert found.code is Code.UNSAFE_FILE
    assert "document type or entity declaration in xl/theme/theme1.xml" in found.message


def test_a_sheet_checked_before_is_checked_again_under_tighter_limits(form):
    assert isinstance(guard(form), Guarded)
    tight = Limits(max_row=3)
    found = guard(form, tight)
    assert isinstance(found, Problem) and found.code is Code.UNSAFE_FILE
    assert "far outside the form" in found.message


def test_readings_of_the_same_structure_share_nothing(form, example_config):
    from pipeline.forms.layout import FormSpec

    spec = FormSpec.of(example_config.instrument)
    first = read_guarded(guard(form), spec.wanted, spec.follow)  # type: ignore[arg-type]
    names, sheets = dict(first.names), list(first.sheets)
    first.names.clear()
    first.sheets.append("changed")
    second = read_guarded(guard(form), spec.wanted, spec.follow)  # type: ignore[arg-type]
    assert second.names == names and second.sheets == sheets
    assert second.cells == first.cells


def test_the_memo_keeps_a_few_small_keys_least_used_out_first():
    memo: Memo[bytes, int] = Memo(items=3)
    memo.put(b"round", 0, 5)
    for number in range(1, 5):
        assert memo.get(b"round") == 0  # a part of every return stays while each return's own come and go
        memo.put(bytes([number]), number, 1)
    assert len(memo) == 3
    assert memo.get(b"\x01") is None and memo.get(b"\x02") is None and memo.get(b"\x04") == 4
    assert memo.get(b"round") == 0
    memo.put(b"x" * (KEEP_AT_MOST + 1), 9, KEEP_AT_MOST + 1)
    assert memo.get(b"x" * (KEEP_AT_MOST + 1)) is None and len(memo) == 3


SNIPPETS = [b"<!DOCTYPE a>", b'<c r="XFD1048576"><v>1</v></c>', b'<row r="9999"/>', b"\x00", b"\xff", b"<", b"&#88;"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_what_is_kept_never_changes_a_verdict_or_a_reading(form, example_config, data):
    """Any part of a form changed anywhere: guarded and read after the genuine form (its parts kept), then
    again with every memo empty, it gives the same problem, or the same parts and the same reading."""
    from pipeline.forms.layout import FormSpec

    spec = FormSpec.of(example_config.instrument)
    choices = {number: "stretched" for number in range(1, 8)}
    form = fill(form, example_config.instrument, answers(example_config.instrument, choices, mark="ü"))  # a font
    parts = H.parts_of(form)
    name = data.draw(st.sampled_from(sorted(parts)))
    between = [at + 1 for at, byte in enumerate(parts[name]) if byte == ord(">")]  # well-formed, often
    at = data.draw(st.one_of(st.sampled_from(between or [0]), st.integers(0, len(parts[name]))))
    insert = data.draw(st.one_of(st.sampled_from(SNIPPETS), st.binary(max_size=8)))
    mutated = repack({**parts, name: parts[name][:at] + insert + parts[name][at:]})

    def outcome() -> object:
        found = guard(mutated)
        if isinstance(found, Problem):
            return found.code, found.message
        try:
            reading = read_guarded(found, spec.wanted, spec.follow)
        except UnreadableWorkbook as exc:
            return sorted(found.parts.items()), str(exc)
        return sorted(found.parts.items()), reading

    guard(form)
    read_guarded(guard(form), spec.wanted, spec.follow)  # type: ignore[arg-type]
    warm = outcome()
    forget_all()
    assert outcome() == warm
