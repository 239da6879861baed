"""File names made from roster text stay one safe, readable path segment."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.names import MAX_SEGMENT, safe_segment


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


# ---------------------------------------------------------------- two leaders, one path

_prefixes = st.sampled_from(["Dr Alexandra Catherine Montgomery-Fitzwilliam " * 2, "A" * 79, "Ana", "ANA", "ana."])
_names = st.builds(lambda head, tail: (head + tail)[:120], _prefixes, st.text(max_size=30))
_emails = st.text("abcxyz./-", min_size=1, max_size=70).map(lambda local: f"{local}@council.example")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["Council", "council", "Council/", "NHS"]), _names), max_size=12), st.data())
def test_no_two_roster_rows_share_a_path(rows, data):
    """Names that share their first 80 characters, differ only in case or in what cleaning removes, or
    equal another's tagged name: every leader still gets a path of their own."""
    from pipeline.config import Leader
    from pipeline.forms.issuing import form_paths

    emails = data.draw(st.lists(_emails, min_size=len(rows), max_size=len(rows), unique_by=str.casefold))
    leaders = [Leader(org, name, email) for (org, name), email in zip(rows, emails, strict=True)]
    if rows and data.draw(st.booleans()):  # a leader literally named like another's tagged name
        first = leaders[0]
        address = "tagged." + first.email  # skipped in the rare case it was drawn too
        if address.casefold() not in {email.casefold() for email in emails}:
            leaders.append(Leader(first.organisation, f"{first.name} ({first.id})", address))
    paths = form_paths("2026-Q4", leaders)
    assert len(paths) == len(leaders)
    assert len({path.casefold() for path in paths.values()}) == len(leaders)
    for path in paths.values():
        assert all(0 < len(part) <= MAX_SEGMENT + 1 for part in path.removesuffix(".xlsx").split("/"))


def test_long_names_sharing_80_characters_get_two_forms(workspace, write_roster):
    """The reported case: the email suffix that told them apart used to be cut off with the name."""
    from tests.conftest import issue_forms_here
    from tests.intake_helpers import forms

    shared = "Professor Elizabeth Alexandra Mary Windsor-Mountbatten of the Riverside Partnership"
    write_roster(
        [
            ["Riverside Council", shared + " Board", "first@riverside.example", ""],
            ["Riverside Council", shared + " Trust", "second@riverside.example", ""],
        ]
    )
    issue_forms_here(workspace)
    issued = forms(workspace)
    paths = {record.path for record in issued.values()}
    assert len(paths) == 2
    for record in issued.values():  # each file on disk carries its own leader's token
        from pipeline.intake.fast_reader import read_guarded
        from pipeline.intake.guard import guard

        reading = read_guarded(guard((workspace / record.path).read_bytes()), {}, ())  # type: ignore[arg-type]
        assert reading.properties["clb_token"] == record.token
