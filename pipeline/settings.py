"""The partnership settings (``config/partnership.yaml``) as checked models: every value a facilitator may
write, what it means, and what is wrong with one that cannot be used. The checks that a roster shares
(text that fits on a form, an email address) live here too."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.text import is_visible

MAX_TEXT = 120


EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


ROUND_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?!\.)){0,38}[A-Za-z0-9]$|^[A-Za-z0-9]$")


def text_problem(value: str) -> str | None:
    """Why a piece of roster or settings text cannot go on a form, or None when it can."""
    if not is_visible(value):
        return (
            "contains a control or invisible character (a line break, tab or text-direction mark, perhaps); "
            "type it on one line"
        )
    if len(value) > MAX_TEXT:
        return f"is {len(value)} characters long; at most {MAX_TEXT} fit on the form, please shorten it"
    return None


class Facilitator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    email: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("is empty; write the facilitator's name")
        if problem := text_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not EMAIL_RE.match(value):
            raise ValueError(f"'{value}' is not an email address like name@example.org")
        return value


class IntakeSettings(BaseModel):
    """How the nightly intake treats returns."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    accept_partial: bool = False  # accept a return whose only problems are in some perspective rows
    settle_seconds: float = Field(default=5.0, ge=0, le=3600)  # a file changed more recently is left for later
    max_file_mb: float = Field(default=5.0, gt=0, le=100)


def host_name(value: str, example: str, required: bool) -> str:
    """A mail server's host name as written, trimmed; empty only where the server is optional."""
    if (required and not value.strip()) or any(ch.isspace() for ch in value.strip()) or "/" in value:
        raise ValueError(f"'{value}' is not a host name like {example}")
    return value.strip()


class ImapSettings(BaseModel):
    """Where returns arrive, for `clb fetch`. The username and password are never in a file: only in
    CLB_IMAP_USERNAME and CLB_IMAP_PASSWORD."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    ca_file: str = ""
    folder: str = "INBOX"  # where leaders' returns arrive
    processed_folder: str = "clb processed"  # where a message goes once its attachments are taken
    set_aside_folder: str = "clb not taken"  # where a message goes that could not be read (the reason is reported)
    max_message_mb: float = Field(default=30, gt=0, le=200)  # a larger message is set aside unread
    timeout_seconds: float = Field(default=30, gt=0, le=300)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return host_name(value, "imap.example.org", required=True)

    @field_validator("folder", "processed_folder", "set_aside_folder")
    @classmethod
    def _folder(cls, value: str) -> str:
        if not value.strip() or any(ch in value for ch in '\r\n"'):
            raise ValueError(f"'{value}' is not a mail folder name like INBOX or 'clb processed'")
        return value.strip()


class MailSettings(BaseModel):
    """How mail leaves. No host: messages are written as .eml files for the facilitator to send. The
    username and password are never in a file: only in CLB_SMTP_USERNAME and CLB_SMTP_PASSWORD."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = ""
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    ca_file: str = ""  # a private certificate authority to trust (besides the system's)
    sender: str = ""  # the From address; default: the facilitator's
    reply_to: str = ""  # default: the facilitator's address
    rate_per_minute: int = Field(default=30, ge=1, le=6000)
    retries: int = Field(default=3, ge=0, le=10)
    timeout_seconds: float = Field(default=20, gt=0, le=300)
    reminder_every_days: int = Field(default=7, ge=1, le=365)
    imap: ImapSettings | None = None  # returns fetched from a mailbox by `clb fetch` and the nightly run

    @field_validator("sender", "reply_to")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if value and not EMAIL_RE.match(value):
            raise ValueError(f"'{value}' is not an email address like name@example.org")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return host_name(value, "smtp.example.org", required=False)


class ScheduleSettings(BaseModel):
    """When the scheduled runs happen (used by clb serve)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str = "Europe/London"
    nightly: str = "0 2 * * *"
    reminders: str = "0 9 * * 1"

    @field_validator("nightly", "reminders")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"'{value}' is not a cron expression of five fields, like '0 2 * * *' (02:00 daily)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a time zone like Europe/London") from None
        return value


class RetentionSettings(BaseModel):
    """How long personal data is kept, in days after each round's deadline; None keeps it for good.
    ``clb purge`` applies it, and so does every nightly run once any is set (docs/data.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    returns_days: int | None = Field(default=None, ge=0, le=36500)  # returned files, user logs, cell text
    letters_days: int | None = Field(default=None, ge=0, le=36500)  # letters, corrections, drafts, sent log
    answers_days: int | None = Field(default=None, ge=0, le=36500)  # each leader's answers and forms

    @property
    def configured(self) -> bool:
        return any(days is not None for days in (self.returns_days, self.letters_days, self.answers_days))


class Settings(BaseModel):
    """partnership.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    partnership: str
    facilitator: Facilitator
    round: str
    deadline: dt.date
    min_group_size: int = Field(default=3, ge=2, le=50)
    form_password: str = ""
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @field_validator("partnership")
    @classmethod
    def _partnership(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("is empty; write the partnership's name")
        if problem := text_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("round", mode="before")
    @classmethod
    def _round(cls, value: Any) -> str:
        text = str(value).strip()
        if not ROUND_RE.match(text):
            raise ValueError(
                f"'{text}' cannot be a round id: use letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit, at most 40 characters (e.g. 2026-Q4)"
            )
        return text
