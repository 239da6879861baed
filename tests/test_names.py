"""File names made from roster text stay one safe, readable path segment."""

from __future__ import annotations

import pytest
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
    assert safe_segment("CONOUT$") == "_CONOUT$" and safe_segment("COM\u00b9.xlsx") == "_COM\u00b9.xlsx"
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


def test_names_that_differ_by_case_or_unicode_normalisation_get_their_own_files():
    """On Windows and macOS 'NHS Trust/Ana' and 'nhs trust/ana' are one file, and so are José written
    composed (NFC) and decomposed (NFD, as macOS types it)."""
    from pipeline.names import unique_stems

    nfc, nfd = "Jos\u00e9 Alvarez", "Jose\u0301 Alvarez"
    people = [("a@x.example", "NHS Trust", "Ana"), ("b@x.example", "nhs trust", "ana")]
    stems = unique_stems([*people, ("c@x.example", "Council", nfc), ("d@x.example", "Council", nfd)])
    assert len({stem.casefold() for stem in stems.values()}) == 4
    assert stems["c@x.example"] != stems["d@x.example"] and all(s == s.strip() for s in stems.values())
    assert stems["d@x.example"].startswith("Council/" + nfc)  # both composed, as every name clb writes


def test_the_longest_path_a_leader_gets_is_found_before_it_is_written(tmp_path):
    """Every file a night writes for a leader (form, letter, correction, quarantined copy, mail drafts)
    is within names.longest_path, so checking it when the forms are made covers the whole round."""
    from pipeline import stages
    from pipeline.config import load_config
    from pipeline.demo import prepare_demo, simulate_returns
    from pipeline.names import longest_path, unique_stems
    from pipeline.workspace import Workspace
    from tests.conftest import EXAMPLE_CONFIG, issue_forms_here
    from tests.intake_helpers import nightly

    root = prepare_demo(EXAMPLE_CONFIG, tmp_path / "ws")
    issue_forms_here(root)
    simulate_returns(root)
    nightly(root)
    config = load_config(root / "config")
    for _ in range(2):  # a second draft moves the first to superseded/, dated
        stages.send(Workspace.at(root), "invitations", resend=True)
    assert list((root / "outbox" / "mail" / "invitation" / "superseded").rglob("*.eml"))
    stems = unique_stems((leader.id, leader.organisation, leader.name) for leader in config.roster)
    checked = 0
    for path in (root / "outbox").rglob("*"):
        for stem in stems.values():
            if path.is_file() and stem in path.relative_to(root).as_posix():
                assert len(str(path)) <= longest_path(str(root), config.settings.round, stem), path
                checked += 1
    assert checked > 4 * len(stems)


def test_forms_are_not_made_where_their_paths_would_be_too_long(workspace, write_roster, monkeypatch):
    """Windows without long paths (simulated: the limit it reports) refuses a path over 259 characters:
    clb forms says so, for whom, and what to do, before writing anything."""
    from typer.testing import CliRunner

    from pipeline import names, stages
    from pipeline.cli import app
    from pipeline.config import load_config
    from pipeline.workspace import Workspace

    long_name = "Professor Elizabeth Alexandra Mary Windsor-Mountbatten of the Riverside Partnership"
    write_roster(
        [
            ["Riverside Council", "Priya Raman", "priya@riverside.example", ""],
            ["Riverside Council", long_name, "liz@riverside.example", ""],
        ]
    )
    space = Workspace.at(workspace)
    config = load_config(space.config)
    stems = names.unique_stems((leader.id, leader.organisation, leader.name) for leader in config.roster)
    fits = names.longest_path(str(space.root), config.settings.round, stems["priya@riverside.example"])
    assert stages.paths_problem(space, config, limit=10_000) is None
    problem = stages.paths_problem(space, config, limit=fits)
    assert problem is not None and problem.startswith("1 leaders' files would have paths longer")
    assert long_name in problem and "LongPathsEnabled" in problem and "Priya" not in problem

    monkeypatch.setattr(names, "path_limit", lambda: fits)
    result = CliRunner().invoke(app, ["forms", "--workspace", str(workspace)])
    assert result.exit_code == 2, result.output
    assert "No forms made" in result.output and long_name in " ".join(result.output.split())
    assert not (workspace / "outbox" / "forms").exists()
    with pytest.raises(stages.PathsTooLong):  # the flow's stage refuses as well (a scheduled or pool run)
        stages.issue_forms(space)
    monkeypatch.setattr(names, "path_limit", lambda: None)  # macOS, Linux, or long paths enabled
    assert stages.issue_forms(space).written == 2
