"""The one boundary for outside text: anything in, something safe and readable out, and reversible."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.text import is_visible, original, shown_safely, visible

TRICKY = ["\\", "x", "u", "U", "\x1b", "\x07", "\n", "\r", "\t", "\x85", "\ufffe", "\uffff", "\u202e", "\udc80"]
texts = st.text(st.one_of(st.characters(), st.sampled_from([*TRICKY, "\udcff", "\U0010ffff", "\u2028"])))


@settings(max_examples=2000)
@given(texts, st.booleans())
def test_visible_is_safe_and_reversible(text, lines):
    shown = visible(text, lines)
    assert is_visible(shown, lines)
    assert original(shown) == text
    if is_visible(text, lines) and "\\" not in text:
        assert shown == text  # clean text passes untouched


@given(texts)
def test_writers_never_escape_twice(text):
    shown = visible(text)
    assert shown_safely(shown) == shown


def test_names_that_are_not_utf8_come_back_as_their_bytes():
    raw = b"r\xe9sum\xe9 \x1b[31m\xff.xlsx"
    shown = visible(os.fsdecode(raw))
    assert shown == "r\\xe9sum\\xe9 \\u001b[31m\\xff.xlsx"
    assert os.fsencode(original(shown)) == raw


def test_a_log_keeps_its_lines_but_not_its_controls():
    assert visible("line one\nline two\x07", lines=True) == "line one\nline two\\u0007"
    assert visible("line one\nline two") == "line one\\u000aline two"
