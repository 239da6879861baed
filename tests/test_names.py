"""File names made from roster text stay one safe, readable path segment."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.forms.names import MAX_SEGMENT, safe_segment


def test_readable_names_stay_readable():
    assert safe_segment("José Álvarez") == "José Álvarez"
    assert safe_segment("Siân Llewellyn") == "Siân Llewellyn"
    assert safe_segment("王小明") == "王小明"
    assert safe_segment("Chief Supt. Mark Ellis") == "Chief Supt. Mark Ellis"
    assert safe_segment("Ana 🚒 Fire") == "Ana 🚒 Fire"


def test_traversal_reserved_and_hostile_names():
    assert safe_segment("../x") == "x"
    assert safe_segment("..") == "unnamed"
    assert safe_segment("CON") == "_CON"
    assert safe_segment("lpt1.txt") == "_lpt1.txt"
    assert safe_segment('a/b\\c:d*e?f"g<h>i|j') == "a-b-c-d-e-f-g-h-i-j"
    assert safe_segment('=HYPERLINK("http://x","y")') == "=HYPERLINK(-http---x-,-y-)"
    assert len(safe_segment("n" * 300)) == MAX_SEGMENT


@given(st.text(max_size=400))
def test_any_text_gives_one_safe_segment(text):
    segment = safe_segment(text)
    assert segment and segment not in {".", ".."}
    assert len(segment) <= MAX_SEGMENT + 1
    assert not any(ch in segment for ch in '/\\<>:"|?*\x00')
    assert not segment.endswith((" ", "."))
    assert segment.split(".")[0].strip().casefold() not in {"con", "prn", "aux", "nul", "com1", "lpt1"}
