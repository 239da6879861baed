"""The CLB0.01 tool as data.

The wording lives in ``config/instrument.yaml`` so that it can be checked against the original by a person
and not hidden in code; this module gives it a shape and a fingerprint. The fingerprint feeds the form
version: a form whose wording differs from what we issued must be recognisable when it comes back.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Overview(_Strict):
    statement: str
    activity: str


class Perspective(_Strict):
    number: int
    statement: str
    activity: str
    overview: Overview

    @property
    def label(self) -> str:
        """The row text exactly as the tool page shows it: "1. We must have common aims ..."."""
        return f"{self.number}. {self.statement}"


class Tick(_Strict):
    key: str = Field(pattern=r"^[a-z]+$")
    label: str
    zone: str


class Practice(_Strict):
    number: int
    text: str


Medium = Literal["workbook", "letter"]


class Step(_Strict):
    """A step of the tool. ``text`` is the seed's wording, made for paper; ``media`` words it for a
    screen where the paper wording points at a page ("on the opposite page")."""

    number: int
    text: str
    media: dict[Medium, str] = Field(default_factory=dict)

    def wording(self, medium: Medium) -> str:
        return self.media.get(medium, self.text)


class LogColumn(_Strict):
    key: str = Field(pattern=r"^[a-z]+$")
    label: str


class Instrument(_Strict):
    code: str
    title: str
    question: str
    introduction: list[str]
    steps: list[Step]
    mentor_advice: str
    perspectives_heading: str
    activity_heading: str
    tick_instruction: str
    perspectives: list[Perspective]
    ticks: list[Tick]
    practices_intro: str
    practices: list[Practice]
    references: list[str]
    user_log_heading: str
    user_log: list[LogColumn]
    copyright: str
    copyright_notice: str

    @field_validator("perspectives")
    @classmethod
    def _seven_numbered(cls, value: list[Perspective]) -> list[Perspective]:
        if [p.number for p in value] != list(range(1, len(value) + 1)):
            raise ValueError("perspectives must be numbered 1, 2, 3 ... in order")
        return value

    @field_validator("ticks")
    @classmethod
    def _three_ticks(cls, value: list[Tick]) -> list[Tick]:
        if len(value) != 3 or len({t.key for t in value}) != 3:
            raise ValueError("there must be exactly three tick columns with different keys")
        return value

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of every word: any change of wording changes it."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_instrument(path: Path) -> Instrument:
    """Read and check the instrument file; errors are turned into ConfigError by ``config``."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return Instrument.model_validate(data)
