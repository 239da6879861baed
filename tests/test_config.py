"""A bad config stops everything with one message naming the file, row or key, and field."""

from __future__ import annotations

import openpyxl
import pytest

from pipeline.config import ConfigError, ConfigProblem, load_config

GOOD = ["Riverside City Council", "Priya Raman", "priya@council.example", "Director"]


def problems(workspace) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load_config(workspace / "config")
    return caught.value.problems


def test_example_partnership_loads(example_config):
    assert example_config.settings.round == "2026-Q4"
    assert example_config.settings.min_group_size == 3
    assert len(example_config.roster) == 15
    assert len({leader.organisation for leader in example_config.roster}) == 6
    assert example_config.roster[0].row == 2


def test_duplicate_email_names_both_rows(workspace, write_roster):
    write_roster([GOOD, ["Police", "Mark Ellis", "PRIYA@council.example", ""]])
    [problem] = problems(workspace)
    assert (problem.file, problem.where, problem.field) == ("config/roster.csv", "row 3", "email")
    assert "already used by row 2" in problem.message
    assert str(problem).startswith("config/roster.csv, row 3, field 'email':")


def test_every_bad_row_is_reported_at_once(workspace, write_roster):
    write_roster(
        [
            GOOD,
            ["Police", "", "mark@police.example", ""],
            ["Fire", "Gareth", "gareth@", ""],
            ["", "Louise", "louise@fire.example", ""],
            ["Fire", "N" * 300, "n@fire.example", ""],
            ["Fire", "Tab\there", "t@fire.example", ""],
        ]
    )
    found = {(p.where, p.field) for p in problems(workspace)}
    assert found == {
        ("row 3", "name"),
        ("row 4", "email"),
        ("row 5", "organisation"),
        ("row 6", "name"),
        ("row 7", "name"),
    }


def test_missing_column_suggests_the_near_miss(workspace, write_roster):
    write_roster([["Council", "Priya", "p@c.example"]], header="organisation,name,e-mail")
    [problem] = problems(workspace)
    assert problem.field == "email" and "'e-mail'" in problem.message


def test_blank_and_repeated_headings(workspace, write_roster):
    write_roster([["Council", "Priya", "p@c.example", "x", "y"]], header="organisation,name,email,,name")
    messages = {(p.where, p.field, p.message.split(";")[0]) for p in problems(workspace)}
    assert ("row 1", "", "column 4 has no heading") in messages
    assert any(field == "name" and "twice" in message for _, field, message in messages)


def test_extra_columns_are_kept_and_role_is_optional(workspace, write_roster, example_config):
    write_roster([["Council", "Priya", "p@c.example", "North"]], header="Organisation,Name,Email,Area")
    config = load_config(workspace / "config")
    assert config.roster[0].extra == {"area": "North"} and config.roster[0].role == ""


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x","y")', "Ana 🚒", "王小明", "../x", "CON"])
def test_odd_but_harmless_text_is_accepted(workspace, write_roster, name):
    write_roster([[name, name, "a@b.example", ""]])
    assert load_config(workspace / "config").roster[0].name == name


def test_both_roster_files_is_an_error(workspace):
    book = openpyxl.Workbook()
    book.active.append(["organisation", "name", "email"])
    book.save(workspace / "config" / "roster.xlsx")
    [problem] = problems(workspace)
    assert "both roster.csv and roster.xlsx" in problem.message


def test_roster_xlsx_is_read_like_csv(workspace):
    (workspace / "config" / "roster.csv").unlink()
    book = openpyxl.Workbook()
    book.active.append(["organisation", "name", "email", "role"])
    book.active.append(["Council", "Priya", "p@c.example", None])
    book.active.append(["Council", "", "q@c.example", None])
    book.save(workspace / "config" / "roster.xlsx")
    [problem] = problems(workspace)
    assert (problem.file, problem.where, problem.field) == ("config/roster.xlsx", "row 3", "name")


def test_roster_saved_by_excel_with_bom_and_windows_encoding(workspace):
    path = workspace / "config" / "roster.csv"
    path.write_bytes("\ufefforganisation,name,email\r\nCouncil,Siân,s@c.example\r\n".encode())
    assert load_config(workspace / "config").roster[0].name == "Siân"
    path.write_bytes("organisation,name,email\nCouncil,Si\xe2n,s@c.example\n".encode("cp1252"))
    [problem] = problems(workspace)
    assert "CSV UTF-8" in problem.message


@pytest.mark.parametrize("round_id", ["../2026", "2026 Q4", "a..b", "-x", "Q4/2026", "x" * 41, "con\x00"])
def test_unsafe_round_id(workspace, edit_settings, round_id):
    edit_settings(round=round_id)
    [problem] = problems(workspace)
    assert (problem.file, problem.where) == ("config/partnership.yaml", "key 'round'")


def test_settings_problems_name_the_key(workspace, edit_settings):
    edit_settings(min_group_size=1, colour="blue", facilitator={"name": "Sam", "email": "nope"}, deadline=None)
    found = {p.where for p in problems(workspace)}
    assert found == {"key 'min_group_size'", "key 'colour'", "key 'facilitator.email'", "key 'deadline'"}


def test_broken_yaml_names_the_line(workspace):
    (workspace / "config" / "partnership.yaml").write_text("partnership: [unclosed\nround: x\n", encoding="utf-8")
    [problem] = problems(workspace)
    assert problem.file == "config/partnership.yaml" and problem.where.startswith("line ")


def test_missing_files(workspace):
    (workspace / "config" / "roster.csv").unlink()
    (workspace / "config" / "partnership.yaml").unlink()
    assert {p.file for p in problems(workspace)} == {"config/partnership.yaml", "config/roster.csv"}
