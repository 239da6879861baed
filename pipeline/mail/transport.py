"""Getting a message out: to an SMTP server, or into an .eml file a facilitator can open and send.

Failures are sorted once, here: a 4xx reply, a refused or dropped connection and a timeout are transient
(worth retrying later); a 5xx reply is permanent (retrying will not help).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import os
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from pipeline.files import atomic_write
from pipeline.names import safe_segment
from pipeline.settings import MailSettings

USERNAME, PASSWORD = "CLB_SMTP_USERNAME", "CLB_SMTP_PASSWORD"

# Headers are folded at RFC 5322's 998 characters, not the standard library's 78: folding a display name
# that holds a comma (a long roster name such as "Windsor-Mountbatten, Chief Executive of ...") drops
# its quotes, and the To: header then shows a second, bogus recipient.
WIRE = email.policy.SMTP.clone(max_line_length=998)
FILE = email.policy.default.clone(max_line_length=998)


class TransientMailError(Exception):
    """Try again later."""


class PermanentMailError(Exception):
    """The server refused the message for good."""


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}".strip()


def _raise_for(code: int, text: bytes | str) -> None:
    if 400 <= code < 500:
        raise TransientMailError(_reply(code, text))
    if code >= 500:
        raise PermanentMailError(_reply(code, text))


class SmtpTransport:
    """One connection for a batch, opened when first needed and again after it drops."""

    def __init__(self, settings: MailSettings, environ: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.environ = dict(os.environ if environ is None else environ)
        self.connection: smtplib.SMTP | None = None
        self.last_moved: str | None = None  # a server replaces no draft

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.ca_file:
            context.load_verify_locations(cafile=self.settings.ca_file)
        return context

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        try:
            if settings.security == "tls":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout_seconds, context=self._context()
                )
            else:
                connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
                if settings.security == "starttls":
                    connection.starttls(context=self._context())
            username, password = self.environ.get(USERNAME), self.environ.get(PASSWORD)
            if username:
                self._login(connection, username, password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentMailError(
                f"the server refused the login for {USERNAME}: {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            _raise_for(exc.smtp_code, exc.smtp_error)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientMailError(f"cannot reach {settings.host}:{settings.port} ({exc})") from None
        return connection

    @staticmethod
    def _login(connection: smtplib.SMTP, username: str, password: str) -> None:
        """One mechanism (PLAIN, else LOGIN), so a wrong password is one clear refusal, not a string of tries."""
        connection.ehlo_or_helo_if_needed()
        offered = connection.esmtp_features.get("auth", "").upper().split()
        if not connection.has_extn("auth"):
            raise PermanentMailError("the server offers no login (AUTH), but CLB_SMTP_USERNAME is set")
        connection.user, connection.password = username, password
        mechanism = "PLAIN" if "PLAIN" in offered else "LOGIN"
        method = connection.auth_plain if mechanism == "PLAIN" else connection.auth_login
        code, text = connection.auth(mechanism, method, initial_response_ok=True)
        if code not in (235, 503):
            raise PermanentMailError(f"the server refused the login for {USERNAME}: {_reply(code, text)}")

    def send(self, mail: EmailMessage, sender: str, recipient: str) -> str:
        """Deliver to the server; returns its reply to the message (e.g. "250 OK queued as ...")."""
        if self.connection is None:
            self.connection = self._connect()
        connection = self.connection
        try:
            connection.ehlo_or_helo_if_needed()
            code, text = connection.mail(sender)
            _raise_for(code, text)
            code, text = connection.rcpt(recipient)
            _raise_for(code, text)
            code, text = connection.data(mail.as_bytes(policy=WIRE))  # CRLF line ends
            _raise_for(code, text)
            return _reply(code, text)
        except (TransientMailError, PermanentMailError):
            self._reset()
            raise
        except smtplib.SMTPResponseException as exc:
            self.close()
            _raise_for(exc.smtp_code, exc.smtp_error)
            raise
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransientMailError(f"the connection to {self.settings.host} failed ({exc})") from None

    def _reset(self) -> None:
        try:
            if self.connection is not None:
                self.connection.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.quit()
            self.connection = None


SUPERSEDED = "superseded"  # the folder of each kind's drafts that a newer one replaced
SAMPLE_OF = "X-CLB-Sample-Of"  # a sample sent to the facilitator (clb send --test-to): whose message it is
SAMPLES = "test"  # the folder of outbox/mail/ where samples are drafted


class EmlTransport:
    """Write each message as a draft .eml file: Outlook and Thunderbird open it ready to send. A leader
    has one current draft of each kind, named by their name (``stems``: address -> ``<organisation>/<name>``,
    as their form and letter are); the draft it replaces moves to ``<kind>/superseded/``, dated."""

    def __init__(self, folder: Path, stems: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.stems = stems or {}
        self.last_moved: str | None = None  # where the last send moved the draft it replaced

    def send(self, mail: EmailMessage, sender: str, recipient: str) -> str:
        kind = str(mail["X-CLB-Kind"] or "mail")
        stem = self.stems.get(recipient.casefold()) or safe_segment(recipient)
        path = self.folder / kind / f"{stem}.eml"
        self.last_moved = None
        if path.exists():
            when = dt.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H%M%S")
            moved = self.folder / kind / SUPERSEDED / f"{stem} {when}.eml"
            for n in range(2, 1000):  # two drafts replaced in one second: numbered (the stem holds a folder)
                if not moved.exists():
                    break
                moved = self.folder / kind / SUPERSEDED / f"{stem} {when} {n}.eml"
            moved.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, moved)
            self.last_moved = moved.relative_to(self.folder / kind).as_posix()
        atomic_write(path, draft(mail).as_bytes(policy=FILE))
        return f"drafted as {path.relative_to(self.folder / kind).as_posix()}"

    def close(self) -> None:
        return None


def draft(mail: EmailMessage) -> EmailMessage:
    """``mail`` as a draft: ``X-Unsent: 1`` makes Outlook open it with a Send button, and it carries no Date
    or Message-ID, which would make it look like a message already received (the mail program adds both
    when it sends). Recipient, subject, both bodies and the attachment are kept."""
    copy = email.message_from_bytes(mail.as_bytes(policy=FILE), _class=EmailMessage, policy=FILE)
    assert isinstance(copy, EmailMessage)
    del copy["Date"]
    del copy["Message-ID"]
    copy["X-Unsent"] = "1"
    return copy
