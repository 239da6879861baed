"""Round trips through the programs leaders use: the form must come back readable by name, attributable
and intact after real LibreOffice and real Gnumeric have opened, edited and saved it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.forms import layout as L
from pipeline.forms.reference import build_form
from pipeline.simulate import fill
from tests.clients import gnumeric_resave, libreoffice_fill
from tests.clients import scenarios as S
from tests.formfacts import FormFacts, load

CLB_COUNT_COLUMN, CLB_STATUS_COLUMN = 6, 7  # F and G: a contract of CLB0.01's form (layout.count_column)

pytestmark = pytest.mark.clients


def issued(example_config, folder: Path, token: str) -> tuple[Path, FormFacts]:
    path = folder / f"issued-{token}.xlsx"
    path.write_bytes(build_form(example_config.instrument, S.fields(token)))
    return path, load(path)


def assert_survived(saved: FormFacts, original: FormFacts, token: str, version: str) -> None:
    assert {k: v for k, v in saved.names.items() if k in original.names} == original.names
    assert saved.properties["clb_token"] == token
    assert saved.properties["clb_form_version"] == version
    assert saved.data_sheet["token"] == token and saved.data_sheet["form_version"] == version
    assert saved.validations["Self-assessment"][0][:2] == ("C7:E13", "list")
    assert "✓" in saved.validations["Self-assessment"][0][2]
    for sheet in ("How to use", "Self-assessment", "User log", "Effective practices"):
        assert saved.protected[sheet], sheet
        assert saved.unlocked[sheet] == original.unlocked[sheet], sheet


def counts(facts: FormFacts) -> list[int]:
    sheet = facts.values["Self-assessment"]
    return [sheet.cell(row, CLB_COUNT_COLUMN).value for row in range(7, 14)]


@pytest.mark.parametrize(("scenario", "expected"), [(S.COMPLETE, S.COMPLETE_COUNTS), (S.PROBLEMS, S.PROBLEMS_COUNTS)])
def test_libreoffice_fill_and_save(example_config, tmp_path, scenario, expected):
    token = "lo-token-" + str(len(scenario))
    source, original = issued(example_config, tmp_path, token)
    target = tmp_path / "saved-by-libreoffice.xlsx"
    libreoffice_fill(source, target, scenario)
    saved = load(target)

    assert_survived(saved, original, token, L.form_version(example_config.instrument))
    assert saved.sheet_states["Form data"] in {"hidden", "veryHidden"}
    # LibreOffice computed the form's own live status: FALSE is not a mark, two marks are flagged.
    assert counts(saved) == expected
    status = saved.values["Self-assessment"]
    for row, count in zip(range(7, 14), expected, strict=True):
        word = {0: "Not answered yet", 1: "Done"}.get(count, "More than one mark: keep one")
        assert status.cell(row, CLB_STATUS_COLUMN).value == word
    complete = all(c == 1 for c in expected)
    assert status["B4"].value.startswith("Complete" if complete else "Not complete")
    if "log_project" in scenario:
        assert saved.values["User log"]["A5"].value == scenario["log_project"][1]
        # a leader's formula-looking text typed as a string stays a string
        assert saved.formulas["User log"]["B5"].data_type == "s"


def test_gnumeric_open_and_save(example_config, tmp_path):
    token = "gnumeric-token"
    source, original = issued(example_config, tmp_path, token)
    typed = tmp_path / "typed.xlsx"
    typed.write_bytes(fill(source.read_bytes(), example_config.instrument, S.GNUMERIC))
    target = tmp_path / "saved-by-gnumeric.xlsx"
    gnumeric_resave(typed, target)
    saved = load(target)

    assert_survived(saved, original, token, L.form_version(example_config.instrument))
    assert saved.sheet_states["Form data"] == "visible"  # Gnumeric shows hidden sheets: the token survives
    assert counts(saved) == S.GNUMERIC_COUNTS
    sheet = saved.values["Self-assessment"]
    cells = [saved.names[name].split("!")[1] for name in S.GNUMERIC]
    assert [sheet[c].value for c in cells] == list(S.GNUMERIC.values())


def test_kept_fixtures_are_what_the_programs_write():
    """The files kept for intake work were made by these programs from forms of the current layout."""
    folder = Path(__file__).parent / "data" / "returns"
    for name, token in [
        ("libreoffice-complete.xlsx", "fixture-token-complete"),
        ("libreoffice-problems.xlsx", "fixture-token-problems"),
        ("gnumeric-complete.xlsx", "fixture-token-gnumeric"),
    ]:
        facts = load(folder / name)
        assert facts.properties["clb_token"] == token, name
        assert set(facts.names) >= {"p1_comfortable", "p7_panicked", "log_project", "clb_token"}, name
