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
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    name: str = Field(min_length=1)
    """Your name, as it appears on every form, message and letter."""
    email: str
    """Your address: leaders' replies come to it (and mail leaves from it unless `mail.sender` is set)."""

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

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    accept_partial: bool = False
    """Accept a return whose only problems are unanswered or unreadable rows (false: quarantine it)."""
    settle_seconds: float = Field(default=5.0, ge=0, le=3600)
    """A file changed less than this many seconds ago is still being saved, and waits for the next run."""
    max_file_mb: float = Field(default=5.0, gt=0, le=100)
    """A larger file is refused unopened (`too-large`); a filled form is about 0.02 MB."""


def host_name(value: str, example: str, required: bool) -> str:
    """A mail server's host name as written, trimmed; empty only where the server is optional."""
    if (required and not value.strip()) or any(ch.isspace() for ch in value.strip()) or "/" in value:
        raise ValueError(f"'{value}' is not a host name like {example}")
    return value.strip()


class ImapSettings(BaseModel):
    """Where returns arrive, for `clb fetch`. The username and password are never in a file: only in
    CLB_IMAP_USERNAME and CLB_IMAP_PASSWORD."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    host: str
    """The IMAP server where leaders' returns arrive, e.g. outlook.office365.com."""
    port: int = Field(default=993, ge=1, le=65535)
    """The IMAP server's port."""
    security: Literal["tls", "starttls", "none"] = "tls"
    """tls (implicit, port 993), starttls, or none (a server on this machine only)."""
    ca_file: str = ""
    """A private certificate authority to trust, besides the system's."""
    folder: str = "INBOX"
    """The folder where leaders' returns arrive."""
    processed_folder: str = "clb processed"
    """Where a message goes once its attachments are taken in."""
    set_aside_folder: str = "clb not taken"
    """Where a message goes that could not be read (the run report says why)."""
    max_message_mb: float = Field(default=30, gt=0, le=200)
    """A larger message is set aside unread."""
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    """How long to wait for the server before giving up for this night."""

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

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    host: str = ""
    """Your SMTP server, e.g. smtp.office365.com; empty: messages are saved as .eml files to send yourself."""
    port: int = Field(default=587, ge=1, le=65535)
    """The SMTP server's port."""
    security: Literal["starttls", "tls", "none"] = "starttls"
    """starttls, tls (implicit, usually port 465), or none (a server on this machine only)."""
    ca_file: str = ""
    """A private certificate authority to trust, besides the system's."""
    sender: str = ""
    """The From address; empty: the facilitator's."""
    reply_to: str = ""
    """Where leaders' replies go; empty: the facilitator's address."""
    rate_per_minute: int = Field(default=30, ge=1, le=6000)
    """At most this many messages a minute, as most mail servers ask."""
    retries: int = Field(default=3, ge=0, le=10)
    """How often a message the server turned away for now is tried again before sending stops for the night."""
    timeout_seconds: float = Field(default=20, gt=0, le=300)
    """How long to wait for the server to answer."""
    reminder_after_days: int = Field(default=7, ge=0, le=365)
    """The first reminder goes no sooner than this many days after the invitation was sent (or marked sent)."""
    reminder_every_days: int = Field(default=7, ge=1, le=365)
    """A leader is reminded at most this often."""
    imap: ImapSettings | None = None
    """A mailbox to take returns from, with `clb fetch` and every nightly run (docs/mail.md)."""

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

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    timezone: str = "Europe/London"
    """The time zone the schedules are in."""
    nightly: str = "0 2 * * *"
    """When the nightly intake runs, as cron: minute hour day-of-month month day-of-week."""
    reminders: str = "0 9 * * 1"
    """When reminders are sent, as cron."""

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

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    returns_days: int | None = Field(default=None, ge=0, le=36500)
    """Returned files, leaders' user logs and text quoted from their cells."""
    letters_days: int | None = Field(default=None, ge=0, le=36500)
    """Letters, correction messages, mail drafts and the sent log."""
    answers_days: int | None = Field(default=None, ge=0, le=36500)
    """Each leader's forms and answers; the round's totals are kept."""

    @property
    def configured(self) -> bool:
        return any(days is not None for days in (self.returns_days, self.letters_days, self.answers_days))


class Settings(BaseModel):
    """partnership.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    partnership: str
    """The partnership's name, on every form and letter."""
    facilitator: Facilitator
    """You."""
    round: str
    """The round's id, in folder names and on every form: letters, digits, '-', '_' or '.' (e.g. 2027-Q1)."""
    deadline: dt.date
    """The date leaders are asked to return their form by, written YYYY-MM-DD."""
    close_after_days: int = Field(default=0, ge=0, le=365)
    """The round closes this many days after the deadline (the first nightly run after it, or `clb close`
    sooner): a final intake, the partners' figures published, the letters made final."""
    shareable: Literal["close", "nightly"] = "close"
    """When partners' figures are published: `close`, once, when the round closes, counting every return
    the rules allow; `nightly`, an interim edition whenever enough new returns allow one."""
    min_group_size: int = Field(default=3, ge=2, le=50)
    """Figures that count fewer leaders than this are never shown to partners."""
    form_password: str = ""
    """A password for the form's sheet protection: against accidental edits, not a security measure."""
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    """How returns are taken in."""
    mail: MailSettings = Field(default_factory=MailSettings)
    """How mail is sent (and, with `imap`, fetched)."""
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    """When `clb serve` runs things."""
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    """How long personal data is kept, in days after each round's deadline; empty: kept for good."""

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
