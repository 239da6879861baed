"""A tick-box self-assessment tool as data: CLB0.01, or any other of the same kind.

The wording lives in a YAML file (``config/instrument.yaml``) so that it can be checked against the
original by a person and not hidden in code; this module gives it a shape and a fingerprint. Everything
that differs from one tool to the next is here: how many statements and answer columns, what they are
called, which answers call for practices, the user log's columns, and the words the letters use. The
code only counts and lays out. The fingerprint feeds the form version: a form whose wording differs from
what we issued must be recognisable when it comes back.

A file written before a field existed is read with that field taken from the shipped copy of the same
tool (same ``code``), so a workspace made by an earlier clb keeps working unchanged (``upgrade``).
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, ten times faster, where built

MAX_TICKS = 5  # the colour scheme has five answers, calm to concern (pipeline.colours)
NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)


def number_word(count: int) -> str:
    """7 -> "seven", as a sentence says a small number."""
    return NUMBER_WORDS[count] if 0 <= count < len(NUMBER_WORDS) else str(count)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Overview(_Strict):
    statement: str
    activity: str


class Perspective(_Strict):
    """One row of the tool page: a statement, the activity it asks for, and the practices (by number)
    suggested to a leader whose answer here is outside their comfort zone, most useful first."""

    number: int
    statement: str
    activity: str
    overview: Overview | None = None
    practices: list[int] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """The row text exactly as the tool page shows it: "1. We must have common aims ..."."""
        return f"{self.number}. {self.statement}"


class Tick(_Strict):
    """An answer column. ``label`` heads the column; ``answer`` is the answer as it reads in a sentence
    ("you would feel a bit panicked"); ``zone`` names the answers of this column in Step 1."""

    key: str = Field(pattern=r"^[a-z]+$")
    label: str
    zone: str
    answer: str = ""

    @property
    def words(self) -> str:
        return self.answer or self.label


class Practice(_Strict):
    number: int
    text: str


Medium = Literal["workbook", "letter"]


class Step(_Strict):
    """A step of the tool. ``text`` is the seed's wording, made for paper; ``media`` words it for a
    screen where the paper wording points at a page ("on the opposite page"). In the letter a step is
    headed "Step N: ``heading``", followed by what it ``shows`` of the leader's answers (their answers
    grouped by column, or the practices for the answers outside their comfort zone) and ``note``."""

    number: int
    text: str
    media: dict[Medium, str] = Field(default_factory=dict)
    heading: str = ""
    shows: Literal["", "zones", "practices"] = ""
    note: str = ""

    def wording(self, medium: Medium) -> str:
        return self.media.get(medium, self.text)


class LogColumn(_Strict):
    key: str = Field(pattern=r"^[a-z]+$")
    label: str


PRACTICE_LEAD_FIELDS = frozenset({"answer", "activity", "statement"})


class Instrument(_Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$")
    title: str
    question: str
    introduction: list[str]
    steps: list[Step]
    mentor_advice: str = ""
    perspectives_heading: str
    activity_heading: str
    tick_instruction: str
    row_noun: str = Field(default="statement", pattern=r"^[a-z][a-z -]*$")  # "perspective": Perspective 4
    perspectives: list[Perspective]
    ticks: list[Tick]
    comfort_columns: int = Field(default=1, ge=1)  # the first N columns are the comfort zone: no practices
    practices_title: str = ""
    practices_intro: str = ""
    practices_heading: str = "Practice"
    practice_lead: str = "Practices to put into play here:"  # may use {answer}, {activity}, {statement}
    practices: list[Practice] = Field(default_factory=list)
    all_comfortable: str = ""  # the letter's Step with practices, when every answer is in the comfort zone
    references: list[str] = Field(default_factory=list)
    user_log_heading: str
    user_log: list[LogColumn]
    copyright: str
    copyright_notice: str

    @field_validator("perspectives")
    @classmethod
    def _numbered(cls, value: list[Perspective]) -> list[Perspective]:
        if not value or [p.number for p in value] != list(range(1, len(value) + 1)):
            raise ValueError("perspectives must be numbered 1, 2, 3 ... in order")
        return value

    @field_validator("ticks")
    @classmethod
    def _ticks(cls, value: list[Tick]) -> list[Tick]:
        if not 2 <= len(value) <= MAX_TICKS or len({t.key for t in value}) != len(value):
            raise ValueError(f"there must be 2 to {MAX_TICKS} tick columns, each with its own key")
        return value

    @field_validator("user_log")
    @classmethod
    def _log(cls, value: list[LogColumn]) -> list[LogColumn]:
        if not 1 <= len(value) <= 6 or len({c.key for c in value}) != len(value):
            raise ValueError("the user log needs 1 to 6 columns, each with its own key")
        return value

    @field_validator("practice_lead")
    @classmethod
    def _lead(cls, value: str) -> str:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if not fields <= PRACTICE_LEAD_FIELDS:
            raise ValueError(f"practice_lead may only use {{answer}}, {{activity}} and {{statement}}, not {fields}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        if self.comfort_columns >= len(self.ticks):
            raise ValueError("comfort_columns must leave at least one column outside the comfort zone")
        numbers = {p.number for p in self.practices}
        for perspective in self.perspectives:
            unknown = [n for n in perspective.practices if n not in numbers]
            if unknown:
                raise ValueError(
                    f"perspective {perspective.number} suggests practice {unknown[0]}, which is not listed"
                )
        return self

    # ------------------------------------------------------------ words made from the data

    @property
    def rows_noun(self) -> str:
        return self.row_noun + "s"

    @property
    def row_title(self) -> str:
        """ "Perspective", as a heading or the start of a sentence says it."""
        return self.row_noun[:1].upper() + self.row_noun[1:]

    def count_words(self) -> str:
        """ "the seven perspectives" as a sentence says it."""
        count = len(self.perspectives)
        return f"{number_word(count)} {self.rows_noun if count != 1 else self.row_noun}"

    def answers_or(self, ticks: Iterable[Tick] | None = None) -> str:
        """ "comfortable, stretched or a bit panicked"."""
        words = [t.words for t in (self.ticks if ticks is None else ticks)]
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]

    @property
    def concern_keys(self) -> tuple[str, ...]:
        """The answers outside the comfort zone: the ones the practices are suggested for."""
        return tuple(t.key for t in self.ticks[self.comfort_columns :])

    @property
    def comfort_keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.ticks[: self.comfort_columns])

    def message_words(self) -> dict[str, str]:
        """What the invitation, reminder and correction templates say about the tool."""
        return {"tool": self.code, "tool_title": self.title, "rows": self.count_words(), "answers": self.answers_or()}

    def short_labels(self) -> dict[str, str]:
        return {t.key: t.words for t in self.ticks}

    def step_showing(self, what: Literal["zones", "practices"]) -> Step | None:
        return next((step for step in self.steps if step.shows == what), None)

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of every word: any change of wording changes it."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_instrument(path: Path, shipped: Iterable[Path] = ()) -> Instrument:
    """Read and check the instrument file; errors are turned into ConfigError by ``config``. ``shipped``:
    the instrument files that came with clb, for ``upgrade``."""
    data = _read(path)
    return Instrument.model_validate(upgrade(data, shipped))


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=SafeLoader)


def upgrade(data: Any, shipped: Iterable[Path]) -> Any:
    """A file from an earlier clb, with the fields added since taken from the shipped copy of the same
    tool. Only fields the file does not have at all are filled in; nothing it says is changed."""
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        return data
    for path in shipped:
        try:
            original = _read(path)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(original, dict) and original.get("code") == data["code"]:
            return _fill(data, original)
    return data


def _fill(data: Any, original: Any) -> Any:
    """``data`` with the keys only ``original`` has; lists of rows are matched by position when their
    lengths agree (the same tool's steps, perspectives and ticks)."""
    if isinstance(data, dict) and isinstance(original, dict):
        merged = dict(data)
        for key, value in original.items():
            merged[key] = _fill(data[key], value) if key in data else value
        return merged
    if isinstance(data, list) and isinstance(original, list) and len(data) == len(original):
        return [_fill(mine, theirs) for mine, theirs in zip(data, original, strict=True)]
    return data
