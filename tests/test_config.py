"""A bad config stops everything with one message naming the file, row or key, and field."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import SEPARATORS, ConfigCode, ConfigError, ConfigProblem, load_config, split_rows

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
    assert problem.code == ConfigCode.DUPLICATE_EMAIL and "row 2" in problem.message  # the other row, named
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
    write_roster([["Council", "Priya", "p@c.example"]], header="organisation,name,emial")
    [problem] = problems(workspace)
    assert (problem.code, problem.field) == (ConfigCode.COLUMN_MISSING, "email") and "'emial'" in problem.message


def test_common_headings_are_read_and_the_reading_is_reported(workspace, write_roster):
    """A roster from another system keeps its headings: each is read as its field, and the facilitator
    is told which (clb forms prints it)."""
    write_roster(
        [["Council", "Priya Raman", "p@c.example", "Director"]],
        header="Organization,Full name,Email address,Job title",
    )
    config = load_config(workspace / "config")
    assert (config.roster[0].organisation, config.roster[0].name, config.roster[0].email, config.roster[0].role) == (
        "Council",
        "Priya Raman",
        "p@c.example",
        "Director",
    )
    assert dict(config.roster_headings) == {
        "Organization": "organisation",
        "Full name": "name",
        "Email address": "email",
        "Job title": "role",
    }
    for header in ("Organisation name,Name,E-mail,Role", "ORGANISATION:,Leader,E-Mail Address,Title"):
        write_roster([["Council", "Priya", "p@c.example", "x"]], header=header)
        assert load_config(workspace / "config").roster[0].email == "p@c.example", header


def test_two_headings_for_one_field_are_refused(workspace, write_roster):
    write_roster([["Council", "Priya", "p@c.example", "p2@c.example"]], header="organisation,name,email,e-mail")
    [problem] = problems(workspace)
    assert (problem.code, problem.field) == (ConfigCode.HEADING_TWICE, "email")


def test_blank_and_repeated_headings(workspace, write_roster):
    write_roster([["Council", "Priya", "p@c.example", "x", "y"]], header="organisation,name,email,,name")
    found = {(p.code, p.where, p.field) for p in problems(workspace)}
    assert (ConfigCode.HEADING_BLANK, "row 1", "") in found and (ConfigCode.HEADING_TWICE, "row 1", "name") in found


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
    assert [problem.code for problem in problems(workspace)] == [ConfigCode.TWO_ROSTERS]


def test_roster_xlsx_is_read_like_csv(workspace):
    (workspace / "config" / "roster.csv").unlink()
    book = openpyxl.Workbook()
    book.active.append(["organisation", "name", "email", "role"])
    book.active.append(["Council", "Priya", "p@c.example", None])
    book.active.append(["Council", "", "q@c.example", None])
    book.save(workspace / "config" / "roster.xlsx")
    [problem] = problems(workspace)
    assert (problem.file, problem.where, problem.field, problem.code) == (
        "config/roster.xlsx",
        "row 3",
        "name",
        ConfigCode.EMPTY_CELL,
    )


def test_roster_saved_by_excel_with_bom_and_windows_encoding(workspace):
    path = workspace / "config" / "roster.csv"
    path.write_bytes("\ufefforganisation,name,email\r\nCouncil,Siân,s@c.example\r\n".encode())
    assert load_config(workspace / "config").roster[0].name == "Siân"
    path.write_bytes(
        "organisation;name;email\r\nCouncil;Si\xe2n \u2013 \u201cOps\u201d;s@c.example\r\n".encode("cp1252")
    )
    config = load_config(workspace / "config")  # Excel's plain CSV on Windows: its code page, semicolons
    assert config.roster[0].name == "Si\xe2n \u2013 \u201cOps\u201d"
    assert "read as Windows-1252" in config.roster_notes[0] and "CSV UTF-8" in config.roster_notes[0]
    path.write_bytes(b"organisation,name,email\nCouncil,Si\x81n,s@c.example\n")  # neither UTF-8 nor Windows-1252
    [problem] = problems(workspace)
    assert problem.code == ConfigCode.NOT_UTF8 and "CSV UTF-8" in problem.message


# Excel's exports as they come: "CSV UTF-8" where the decimal mark is a comma (semicolons, a byte-order
# mark, CRLF), "Unicode Text" (UTF-16 with a byte-order mark, tabs), and the plain comma file
EXPORTS = {
    "excel-europe": (";", "utf-8-sig"),
    "excel-unicode-text": ("\t", "utf-16"),
    "comma": (",", "utf-8"),
}


@pytest.mark.parametrize("export", EXPORTS)
def test_a_roster_is_read_whatever_separator_and_encoding_its_spreadsheet_chose(workspace, export):
    separator, encoding = EXPORTS[export]
    rows = [["Organisation", "Name", "Email", "Role"], ["Council", "Siân Ó", "s@c.example", "Director; housing"]]
    rows.append(["Trust", "Tomás", "t@t.example", "Chief, nursing"])
    text = "\r\n".join(separator.join(f'"{c}"' if separator in c else c for c in row) for row in rows)
    (workspace / "config" / "roster.csv").write_bytes(text.encode(encoding))
    config = load_config(workspace / "config")
    assert [(leader.name, leader.role, leader.row) for leader in config.roster] == [
        ("Siân Ó", "Director; housing", 2),
        ("Tomás", "Chief, nursing", 3),
    ]


@given(
    rows=st.lists(st.lists(st.text(max_size=12), min_size=4, max_size=4), max_size=6),
    separator=st.sampled_from(SEPARATORS),
)
def test_any_roster_written_with_any_separator_reads_back_as_written(rows, separator):
    written = io.StringIO()
    csv.writer(written, delimiter=separator).writerows([["organisation", "name", "email", "role"], *rows])
    assert split_rows(written.getvalue()) == [["organisation", "name", "email", "role"], *rows]


def test_a_semicolon_roster_with_a_bad_row_is_told_about_the_row_not_the_separator(workspace):
    text = "\ufefforganisation;name;email\r\nCouncil;Priya;not-an-address\r\n"
    (workspace / "config" / "roster.csv").write_bytes(text.encode())
    [problem] = problems(workspace)
    assert (problem.code, problem.where, problem.field) == (ConfigCode.BAD_EMAIL, "row 2", "email")


@pytest.mark.parametrize("above", [[["Partnership roster 2026"]], [["Leaders"], ["as of 1 December"], []]])
def test_headings_below_a_title_are_found_and_rows_keep_their_numbers(workspace, above):
    (workspace / "config" / "roster.csv").unlink()
    book = openpyxl.Workbook()
    for row in above:
        book.active.append(row)
    book.active.append(["Organisation", "Full name", "E-mail address"])
    book.active.append(["Council", "Priya", "p@c.example"])
    book.active.append(["Council", "", "q@c.example"])
    book.save(workspace / "config" / "roster.xlsx")
    [problem] = problems(workspace)
    assert (problem.where, problem.field, problem.code) == (f"row {len(above) + 3}", "name", ConfigCode.EMPTY_CELL)
    book.active.delete_rows(len(above) + 3)
    book.save(workspace / "config" / "roster.xlsx")
    config = load_config(workspace / "config")
    assert [(leader.name, leader.row) for leader in config.roster] == [("Priya", len(above) + 2)]
    assert config.roster_heading_row == len(above) + 1


def test_a_roster_with_no_headings_is_told_so_at_row_1(workspace, write_roster):
    (workspace / "config" / "roster.csv").write_text("Council,Priya,p@c.example\n", encoding="utf-8")
    found = problems(workspace)
    assert {(p.code, p.where) for p in found} == {(ConfigCode.COLUMN_MISSING, "row 1")}
    assert len(found) == 3


@pytest.mark.parametrize("round_id", ["../2026", "2026 Q4", "a..b", "-x", "Q4/2026", "x" * 41, "con\x00"])
def test_unsafe_round_id(workspace, edit_settings, round_id):
    edit_settings(round=round_id)
    [problem] = problems(workspace)
    assert (problem.file, problem.where) == ("config/partnership.yaml", "key 'round'")


def test_settings_problems_name_the_key(workspace, edit_settings):
    edit_settings(min_group_size=1, colour="blue", facilitator={"name": "Sam", "email": "nope"}, deadline=None)
    found = {(p.where, p.code) for p in problems(workspace)}
    assert found == {
        ("key 'min_group_size'", ConfigCode.INVALID_SETTING),
        ("key 'colour'", ConfigCode.UNKNOWN_SETTING),
        ("key 'facilitator.email'", ConfigCode.INVALID_SETTING),
        ("key 'deadline'", ConfigCode.MISSING_SETTING),
    }


def test_broken_yaml_names_the_line(workspace):
    (workspace / "config" / "partnership.yaml").write_text("partnership: [unclosed\nround: x\n", encoding="utf-8")
    [problem] = problems(workspace)
    assert (problem.file, problem.code) == ("config/partnership.yaml", ConfigCode.NOT_YAML)
    assert problem.where.startswith("line ")


def test_missing_files(workspace):
    (workspace / "config" / "roster.csv").unlink()
    (workspace / "config" / "partnership.yaml").unlink()
    found = {(p.file, p.code) for p in problems(workspace)}
    assert found == {("config/partnership.yaml", ConfigCode.MISSING_FILE), ("config/roster.csv", ConfigCode.NO_ROSTER)}


# ---------------------------------------------------------------- config types kept


@pytest.mark.parametrize("written", ["2026.10", "010", "yes", "2026-10-01", "1e3"])
def test_round_is_text_exactly_as_written(workspace, written):
    path = workspace / "config" / "partnership.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(?m)^round:.*$", f"round: {written}", text), encoding="utf-8")
    assert load_config(workspace / "config").settings.round == written


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("2026-02-30", "'2026-02-30' is not a day of the calendar; write a real date as YYYY-MM-DD"),
        ("29/01/2027", "'29/01/2027' is not a date written as YYYY-MM-DD"),
        ("soon", "'soon' is not a date written as YYYY-MM-DD"),
    ],
)
def test_an_impossible_or_misspelt_deadline_is_a_problem_not_a_traceback(workspace, written, words):
    path = workspace / "config" / "partnership.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(?m)^deadline:.*$", f"deadline: {written}", text), encoding="utf-8")
    [problem] = problems(workspace)
    assert (problem.file, problem.where) == ("config/partnership.yaml", "key 'deadline'")
    assert words in problem.message


def test_values_of_the_wrong_type_say_what_is_expected(workspace, edit_settings):
    edit_settings(min_group_size="three", intake={"accept_partial": "maybe", "max_file_mb": "big"})
    found = {p.where: p.message for p in problems(workspace)}
    assert found["key 'min_group_size'"] == "'three' is not a whole number, for example 3"
    assert found["key 'intake.accept_partial'"] == "'maybe' is not true or false"
    assert found["key 'intake.max_file_mb'"] == "'big' is not a number, for example 5 or 2.5"


def test_yes_and_numbers_still_work_where_a_key_wants_them(workspace):
    path = workspace / "config" / "partnership.yaml"
    text = path.read_text(encoding="utf-8").replace("accept_partial: false", "accept_partial: yes")
    text = text.replace("max_file_mb: 5", "max_file_mb: 2.5").replace("min_group_size: 3", "min_group_size: 4")
    path.write_text(text, encoding="utf-8")
    settings = load_config(workspace / "config").settings
    assert settings.intake.accept_partial is True and settings.intake.max_file_mb == 2.5
    assert settings.min_group_size == 4
