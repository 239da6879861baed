"""Loading and checking what a facilitator keeps in ``config/``: the instrument, the partnership settings
and the roster.

Facilitators are not programmers, so every check names the file, the row or key, the field and the fix,
and all problems are reported together: fixing a roster one error per run is a miserable afternoon.
Nothing downstream ever sees a config that failed a check.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.instrument import Instrument, load_instrument
from pipeline.resources import shipped_instruments
from pipeline.settings import EMAIL_RE, Settings, text_problem

INSTRUMENT_FILE = "instrument.yaml"


SETTINGS_FILE = "partnership.yaml"


ROSTER_CSV = "roster.csv"


ROSTER_XLSX = "roster.xlsx"


REQUIRED_COLUMNS = ("organisation", "name", "email")


KNOWN_COLUMNS = (*REQUIRED_COLUMNS, "role")


# Headings people write for the roster's fields, as field_of normalises them (lower case, single spaces).
HEADING_ALIASES = {
    **dict.fromkeys(
        ["organization", "organisation name", "organization name", "org", "organisation/agency", "agency"],
        "organisation",
    ),
    **dict.fromkeys(["full name", "leader", "leader name", "participant", "name of leader"], "name"),
    **dict.fromkeys(["e-mail", "email address", "e-mail address", "mail", "email id", "work email"], "email"),
    **dict.fromkeys(["job title", "title", "position", "job role"], "role"),
}


class ConfigCode(StrEnum):
    """Every configuration problem's stable code: tests and scripts read these, people read the message."""

    MISSING_FILE = "missing-file"
    NOT_YAML = "not-yaml"
    NOT_UTF8 = "not-utf8"
    UNKNOWN_SETTING = "unknown-setting"
    MISSING_SETTING = "missing-setting"
    INVALID_SETTING = "invalid-setting"
    TWO_ROSTERS = "two-rosters"
    NO_ROSTER = "no-roster"
    ROSTER_UNREADABLE = "roster-unreadable"
    ROSTER_EMPTY = "roster-empty"
    HEADING_TWICE = "heading-twice"
    HEADING_BLANK = "heading-blank"
    COLUMN_MISSING = "column-missing"
    EMPTY_CELL = "empty-cell"
    BAD_TEXT = "bad-text"
    BAD_EMAIL = "bad-email"
    DUPLICATE_EMAIL = "duplicate-email"
    NO_LEADERS = "no-leaders"


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    where: str
    field: str
    message: str
    code: ConfigCode

    def __str__(self) -> str:
        place = f"{self.file}, {self.where}" if self.where else self.file
        return f"{place}, field '{self.field}': {self.message}" if self.field else f"{place}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; the run cannot continue until a person fixes it."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        head = (
            "The configuration has a problem"
            if len(self.problems) == 1
            else (f"The configuration has {len(self.problems)} problems")
        )
        return head + " (nothing was generated):\n" + "\n".join(f"  - {p}" for p in self.problems)


@dataclass(frozen=True, slots=True)
class Leader:
    """One roster row. ``id`` is the casefolded email: stable across rounds and unique in a roster."""

    organisation: str
    name: str
    email: str
    role: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    row: int = 0

    @property
    def id(self) -> str:
        return self.email.casefold()


@dataclass(frozen=True)
class Config:
    instrument: Instrument
    settings: Settings
    roster: tuple[Leader, ...]
    roster_file: str
    roster_headings: tuple[tuple[str, str], ...] = ()  # (heading as written, field) where they differ
    roster_heading_row: int = 1  # the row holding the headings, as the spreadsheet numbers it
    roster_notes: tuple[str, ...] = ()  # how the roster was read, where a person should know (its encoding)


def load_config(config_dir: Path) -> Config:
    """Load and check everything in ``config_dir``; raises ConfigError listing every problem found."""
    problems: list[ConfigProblem] = []
    instrument = _load_model(
        config_dir / INSTRUMENT_FILE, lambda path: load_instrument(path, shipped_instruments()), problems
    )
    settings = _load_model(config_dir / SETTINGS_FILE, _load_settings, problems)
    headings: dict[str, str] = {}
    notes: list[str] = []
    roster, roster_file, heading_row = load_roster(config_dir, problems, headings, notes)
    if problems:
        raise ConfigError(problems)
    assert instrument is not None and settings is not None
    return Config(
        instrument=instrument,
        settings=settings,
        roster=tuple(roster),
        roster_file=roster_file,
        roster_headings=tuple(headings.items()),
        roster_heading_row=heading_row,
        roster_notes=tuple(notes),
    )


class _TextLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML where every value is text as written (only an empty value is null): ``round: 2026.10`` stays
    "2026.10", not the number 2026.1; ``010`` stays "010", not 8; ``yes`` stays "yes", not True; and an
    impossible date is text the settings check can name, not a traceback from the YAML library. The
    settings model then turns text into numbers, switches and dates where a key wants one."""


_TextLoader.yaml_implicit_resolvers = {
    first: [
        (tag, pattern) for tag, pattern in resolvers if tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_settings(path: Path) -> Settings:
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_TextLoader)
    return Settings.model_validate(data)


_EXPECTED = {  # pydantic's error type -> what to write instead, for a facilitator
    "date": "a date written as YYYY-MM-DD, for example 2027-01-29",
    "int": "a whole number, for example 3",
    "float": "a number, for example 5 or 2.5",
    "bool": "true or false",
    "string": "some text",
}


def _expected(error: Any) -> str | None:
    """'<what was found>' is not <what the key wants>, for errors of the wrong type or an impossible value."""
    kind = str(error["type"])
    for prefix, wanted in _EXPECTED.items():
        if kind.startswith(prefix):
            found = error.get("input")
            shown = "an empty value" if found in (None, "") else f"'{found}'"
            if prefix == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(found)):
                return f"{shown} is not a day of the calendar; write a real date as YYYY-MM-DD"
            return f"{shown} is not {wanted}"
    return None


def _load_model(path: Path, loader: Any, problems: list[ConfigProblem]) -> Any:
    label = f"config/{path.name}"
    if not path.is_file():
        problems.append(
            ConfigProblem(label, "", "", "is missing; copy it from the example workspace", ConfigCode.MISSING_FILE)
        )
        return None
    try:
        return loader(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problems.append(
            ConfigProblem(label, where, "", f"is not valid YAML ({getattr(exc, 'problem', exc)})", ConfigCode.NOT_YAML)
        )
    except ValidationError as exc:
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(top level)"
            message, code = str(error["msg"]).removeprefix("Value error, "), ConfigCode.INVALID_SETTING
            if error["type"] == "extra_forbidden":
                message, code = "is not a known setting; check its spelling or remove it", ConfigCode.UNKNOWN_SETTING
            elif error["type"] == "missing":
                message, code = "is required but missing", ConfigCode.MISSING_SETTING
            elif (expected := _expected(error)) is not None:
                message = expected
            problems.append(ConfigProblem(label, f"key '{key}'", "", message, code))
    except UnicodeDecodeError:
        problems.append(ConfigProblem(label, "", "", "is not UTF-8 text; save it as UTF-8", ConfigCode.NOT_UTF8))
    return None


def load_roster(
    config_dir: Path,
    problems: list[ConfigProblem],
    headings: dict[str, str] | None = None,
    notes: list[str] | None = None,
) -> tuple[list[Leader], str, int]:
    """Read roster.csv or roster.xlsx (never both) into leaders, appending problems instead of raising;
    with the file's name and its headings' row. ``headings`` receives each heading that was read as a
    field of another name ("Email address": email)."""
    csv_path, xlsx_path = config_dir / ROSTER_CSV, config_dir / ROSTER_XLSX
    if csv_path.exists() and xlsx_path.exists():
        problems.append(
            ConfigProblem(
                "config/",
                "",
                "",
                "has both roster.csv and roster.xlsx; keep one of them and move the other away",
                ConfigCode.TWO_ROSTERS,
            )
        )
        return [], "", 1
    if xlsx_path.exists():
        label, rows = f"config/{ROSTER_XLSX}", _xlsx_rows(xlsx_path, problems)
    elif csv_path.exists():
        label, rows = f"config/{ROSTER_CSV}", _csv_rows(csv_path, problems, notes if notes is not None else [])
    else:
        problems.append(
            ConfigProblem("config/roster.csv", "", "", "is missing; list the leaders there", ConfigCode.NO_ROSTER)
        )
        return [], "", 1
    if rows is None:
        return [], label, 1
    top = heading_index(rows)
    return parse_roster(rows, label, problems, headings, top), label, top + 1


def _csv_rows(path: Path, problems: list[ConfigProblem], notes: list[str]) -> list[list[str]] | None:
    data = path.read_bytes()
    try:
        # Excel's "Unicode Text" is UTF-16 with a byte-order mark; "CSV UTF-8" starts with one too
        utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        text = data.decode("utf-16") if utf16 else data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:  # Excel's plain "CSV" on Windows is in the system's code page: Windows-1252 in Western Europe
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            problems.append(
                ConfigProblem(
                    f"config/{path.name}",
                    "",
                    "",
                    "is not UTF-8 text; in Excel use 'Save As' and choose 'CSV UTF-8'",
                    ConfigCode.NOT_UTF8,
                )
            )
            return None
        notes.append(
            f"config/{path.name} is not UTF-8, so it was read as Windows-1252 (Excel's plain CSV). If an accented "
            "name looks wrong in clb status, save the roster from Excel as 'CSV UTF-8' instead."
        )
    return split_rows(text)


SEPARATORS = (",", ";", "\t")


def split_rows(text: str) -> list[list[str]]:
    """A CSV roster's rows, split by the separator its spreadsheet used: Excel writes ';' where the
    decimal mark is a comma (most of Europe), and its "Unicode Text" is tab-separated. The separator is
    the one whose split of the top rows names the most roster fields; on a tie (a file of one column, or
    of no known heading) a comma, so that the problems name the columns as a comma splits them."""
    candidates = [[list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep)] for sep in SEPARATORS]
    return max(candidates, key=lambda rows: max(map(_known_fields, rows[:HEADING_ROWS]), default=0))


def _xlsx_rows(path: Path, problems: list[ConfigProblem]) -> list[list[str]] | None:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds; all mean "cannot read this workbook"
        unreadable = f"cannot be read as a workbook ({exc})"
        problems.append(ConfigProblem(f"config/{path.name}", "", "", unreadable, ConfigCode.ROSTER_UNREADABLE))
        return None
    try:
        sheet = workbook.worksheets[0]
        return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


HEADING_ROWS = 10  # how far down a roster's headings are looked for (below a title, a date, a blank row)


def _known_fields(row: list[str]) -> int:
    """How many of the roster's fields a row names, as headings."""
    return len({field_of(cell) for cell in row if cell.strip()} & set(KNOWN_COLUMNS))


def heading_index(rows: list[list[str]]) -> int:
    """The row (from 0) holding the headings: the first of the top rows naming the most roster fields.
    A spreadsheet often has a title above its headings; a row naming no field at all is never taken, so
    that a roster with no heading is reported at row 1, where the headings belong."""
    counts = [_known_fields(row) for row in rows[:HEADING_ROWS]]
    best = max(counts, default=0)
    return counts.index(best) if best else 0


def field_of(heading: str) -> str:
    """The roster field a column heading names: "E-mail address" is email, "Organization" organisation;
    any other heading is kept as it is (casefolded), an extra column."""
    key = re.sub(r"[\s_]+", " ", heading.strip().casefold()).strip(" :*")
    return HEADING_ALIASES.get(key, key)


def parse_roster(
    rows: list[list[str]],
    label: str,
    problems: list[ConfigProblem],
    headings: dict[str, str] | None = None,
    top: int = 0,
) -> list[Leader]:
    """Check the headings (row ``top``, from 0) and every row below them; rows are numbered as a
    spreadsheet shows them. The headings are usually row 1; a title, a date or a blank row above them is
    left out (heading_index)."""
    if not rows:
        empty = "is empty; its first row must be organisation,name,email,role"
        problems.append(ConfigProblem(label, "", "", empty, ConfigCode.ROSTER_EMPTY))
        return []
    at = f"row {top + 1}"
    written = [cell.strip() for cell in rows[top]]
    while written and written[-1] == "":
        written.pop()
    header = [field_of(cell) for cell in written]
    ok = True
    for known in KNOWN_COLUMNS:
        taken = [w for w, h in zip(written, header, strict=True) if h == known]
        if len(taken) > 1:
            both = " and ".join(repr(t) for t in taken)
            same = len({t.casefold() for t in taken}) == 1
            message = "appears twice in the heading" if same else f"{both} both read as '{known}'"
            problems.append(ConfigProblem(label, at, known, f"{message}; keep one", ConfigCode.HEADING_TWICE))
            ok = False
        elif taken and taken[0].casefold() != known and headings is not None:
            headings[taken[0]] = known
    for index, name in enumerate(header):
        if not name:
            problems.append(
                ConfigProblem(
                    label,
                    at,
                    "",
                    f"column {index + 1} has no heading; name it or delete it",
                    ConfigCode.HEADING_BLANK,
                )
            )
            ok = False
        elif header.count(name) > 1 and header.index(name) == index and name not in KNOWN_COLUMNS:
            problems.append(
                ConfigProblem(label, at, name, "appears twice in the heading; keep one", ConfigCode.HEADING_TWICE)
            )
            ok = False
    for required in REQUIRED_COLUMNS:
        if required not in header:
            near = difflib.get_close_matches(required, [h for h in header if h not in KNOWN_COLUMNS], n=1)
            names = [alias for alias, known in HEADING_ALIASES.items() if known == required][:2]
            hint = (
                f" (is '{near[0]}' meant to be '{required}'? rename it)"
                if near
                else f" (a heading such as '{required}', '{names[0]}' or '{names[1]}' is read as {required})"
            )
            missing = f"the column '{required}' is missing{hint}"
            problems.append(ConfigProblem(label, at, required, missing, ConfigCode.COLUMN_MISSING))
            ok = False
    if not ok:
        return []

    leaders: list[Leader] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(rows[top + 1 :], start=top + 2):
        cells = [cell.strip() for cell in raw] + [""] * max(0, len(header) - len(raw))
        if not any(cells):
            continue
        record = dict(zip(header, cells, strict=False))
        row_ok = True

        def bad(column: str, message: str, code: ConfigCode, number: int = number) -> None:
            nonlocal row_ok
            problems.append(ConfigProblem(label, f"row {number}", column, message, code))
            row_ok = False

        for column in ("organisation", "name"):
            if not record[column]:
                needs = f"is empty; every leader needs a{'n' if column[0] == 'o' else ''} {column}"
                bad(column, needs, ConfigCode.EMPTY_CELL)
        for column in header:
            if (problem := text_problem(record[column])) is not None and column != "email":
                bad(column, problem, ConfigCode.BAD_TEXT)
        email = record["email"]
        if not EMAIL_RE.match(email):
            shown = f"'{email}' is not an email address like name@example.org" if email else "is empty"
            bad("email", shown, ConfigCode.BAD_EMAIL)
        elif email.casefold() in seen:
            twice = f"{email} is already used by row {seen[email.casefold()]}; each leader needs their own"
            bad("email", twice, ConfigCode.DUPLICATE_EMAIL)
        else:
            seen[email.casefold()] = number
        if row_ok:
            extra = {k: v for k, v in record.items() if k not in KNOWN_COLUMNS}
            leaders.append(
                Leader(
                    organisation=unicodedata.normalize("NFC", record["organisation"]),
                    name=unicodedata.normalize("NFC", record["name"]),
                    email=email,
                    role=record.get("role", ""),
                    extra=extra,
                    row=number,
                )
            )
    if not leaders and not problems:
        none = "lists no leaders; add one row per leader under the heading"
        problems.append(ConfigProblem(label, "", "", none, ConfigCode.NO_LEADERS))
    return leaders
