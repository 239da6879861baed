"""`clb fetch`: returned forms taken from the returns mailbox into inbox/, each attachment exactly once.

For every message in the configured folder: each attachment named like a workbook (.xlsx, .xls, .xlsm),
found however deep (a forwarded message inside a message included), is saved into
``inbox/mail/`` under a name made from the message and its sha256, and recorded with the sender,
Message-ID and date as evidence; then the message is moved to the processed folder. The order makes a
crash at any point safe: a saved attachment is recorded before its message moves, a recorded one is never
saved again (Message-ID + sha256), and one the inbox already took in is not saved again either.

The sender is evidence only: a return is attributed by the reference inside the form, never by who sent
it. Everything else a message holds (text, a PDF, winmail.dat, a zip, an oversized file) is reported,
never saved, and never stops the other messages.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import hashlib
import imaplib
import os
import re
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

from sqlalchemy import Engine

from pipeline.config import Config, ImapSettings
from pipeline.contracts import Fetched
from pipeline.failures import checkpoint
from pipeline.files import atomic_write
from pipeline.forms.names import safe_segment
from pipeline.state import fetched_keys, received_hashes, record_fetched
from pipeline.text import one_line, visible
from pipeline.workspace import Workspace

USERNAME, PASSWORD = "CLB_IMAP_USERNAME", "CLB_IMAP_PASSWORD"
WORKBOOK = re.compile(r"\.(xlsx|xlsm|xls)$", re.IGNORECASE)
FOLDER = "mail"  # under inbox/


class FetchError(Exception):
    """The mailbox cannot be reached or read: the run says why; nothing was lost."""


@dataclass
class FetchReport:
    messages: int = 0
    saved: list[dict[str, str]] = field(default_factory=list)  # file, sender, message_id, sha256
    already: int = 0  # attachments taken before (a rerun, or the same message twice)
    ignored: list[dict[str, str]] = field(default_factory=list)  # message, part, why

    def as_dict(self) -> Fetched:
        return {"messages": self.messages, "saved": self.saved, "already": self.already, "ignored": self.ignored}


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    data: bytes | None  # None: not a workbook, or too large to take


def connect(settings: ImapSettings, environ: dict[str, str] | None = None) -> imaplib.IMAP4:
    environ = dict(os.environ if environ is None else environ)
    context = ssl.create_default_context()
    if settings.ca_file:
        context.load_verify_locations(cafile=settings.ca_file)
    try:
        if settings.security == "tls":
            server: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                settings.host, settings.port, ssl_context=context, timeout=settings.timeout_seconds
            )
        else:
            server = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout_seconds)
            if settings.security == "starttls":
                server.starttls(ssl_context=context)
        username = environ.get(USERNAME, "")
        if not username:
            raise FetchError(f"set {USERNAME} and {PASSWORD} to the returns mailbox's login")
        server.login(username, environ.get(PASSWORD, ""))
    except imaplib.IMAP4.error as exc:
        raise FetchError(f"the mail server refused the login for {USERNAME} ({exc})") from None
    except OSError as exc:
        raise FetchError(f"cannot reach {settings.host}:{settings.port} ({exc})") from None
    return server


def attachments(message: EmailMessage, limit: int) -> Iterator[Part]:
    """Every attachment of ``message``, those of forwarded messages inside it included."""
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        name = part.get_filename()
        if not name and part.get_content_disposition() != "attachment":
            continue  # the message's own text
        name = visible(one_line(name or "(unnamed)"))
        if not WORKBOOK.search(name):
            yield Part(name, part.get_content_type(), None)
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or len(data) > limit:
            yield Part(name, part.get_content_type(), None)
            continue
        yield Part(name, part.get_content_type(), data)


def fetch_returns(
    space: Workspace, engine: Engine, config: Config, environ: dict[str, str] | None = None
) -> FetchReport:
    """Take every workbook attachment of the folder's messages into inbox/mail/, once; move each message
    to the processed folder when all of it is taken. Raises FetchError when the mailbox cannot be used."""
    settings = config.settings.mail.imap
    if settings is None:
        raise FetchError("no returns mailbox is set: add mail: imap: host: … to config/partnership.yaml")
    limit = int(config.settings.intake.max_file_mb * 1024 * 1024)
    report = FetchReport()
    server = connect(settings, environ)
    try:
        _ensure_folder(server, settings.processed_folder)
        status, _ = server.select(_quoted(settings.folder))
        if status != "OK":
            raise FetchError(f"the mailbox has no folder {settings.folder!r}")
        status, found = server.uid("SEARCH", "ALL")
        uids = [uid.decode() for uid in found[0].split()] if status == "OK" and found and found[0] else []
        taken = fetched_keys(engine)
        for uid in uids:
            status, data = server.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in data if isinstance(item, tuple)), None) if status == "OK" else None
            if not isinstance(raw, bytes):
                report.ignored.append(
                    {"message": f"message {uid}", "part": "", "why": "could not be read from the server"}
                )
                continue
            report.messages += 1
            _take(space, engine, report, taken, raw, limit, config.settings.intake.settle_seconds)
            checkpoint("fetch-taken")
            _move(server, uid, settings.processed_folder)
        server.expunge()
    except (imaplib.IMAP4.error, OSError) as exc:
        raise FetchError(f"the mail server stopped answering ({exc}); what was taken is kept") from None
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            server.logout()
    return report


def _take(
    space: Workspace,
    engine: Engine,
    report: FetchReport,
    taken: set[tuple[str, str]],
    raw: bytes,
    limit: int,
    settle: float,
) -> None:
    message = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    message_id = str(message.get("Message-ID") or "").strip() or f"<sha256-{hashlib.sha256(raw).hexdigest()}>"
    sender = email.utils.parseaddr(str(message.get("From") or ""))[1].lower()
    label = visible(one_line(f"{sender or 'unknown sender'}: {message.get('Subject') or '(no subject)'}"))[:200]
    parts = list(attachments(message, limit))
    if not parts:
        report.ignored.append({"message": label, "part": "", "why": "no attachment: nothing to take"})
    for part in parts:
        if part.data is None:
            why = (
                "too large to be a form" if WORKBOOK.search(part.filename) else f"not a workbook ({part.content_type})"
            )
            report.ignored.append({"message": label, "part": part.filename, "why": why})
            continue
        digest = hashlib.sha256(part.data).hexdigest()
        key = (message_id, digest)
        if key in taken or received_hashes(engine, [digest]):
            report.already += 1
            continue
        stem = safe_segment(re.sub(WORKBOOK, "", part.filename)) or "return"
        suffix = WORKBOOK.search(part.filename).group(0).lower()  # type: ignore[union-attr]
        relative = f"inbox/{FOLDER}/{digest[:12]} {stem}{suffix}"  # the sender is in the record, not the name
        atomic_write(space.root / relative, part.data)  # the same name for the same attachment: a rerun rewrites it
        sent = _sent_at(message, settle)  # written whole (renamed into place): dated when it was sent, and
        os.utime(space.root / relative, (sent, sent))  # never so recently that the intake waits for it
        checkpoint("fetch-saved")
        record_fetched(
            engine,
            message_id=message_id,
            sha256=digest,
            sender=sender,
            sent_date=str(message.get("Date") or "")[:100] or None,
            subject=visible(one_line(str(message.get("Subject") or "")))[:300] or None,
            file=relative,
        )
        taken.add(key)
        report.saved.append({"file": relative, "sender": sender, "message_id": message_id, "sha256": digest})


def _sent_at(message: EmailMessage, settle: float) -> float:
    """When the message says it was sent, as a timestamp, but at least ``settle`` seconds ago (the intake
    leaves younger files for the next run, as still being saved); when it does not say, just that."""
    latest = time.time() - settle - 1
    try:
        when = email.utils.parsedate_to_datetime(str(message.get("Date") or "")).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return latest
    return min(when, latest)


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ensure_folder(server: imaplib.IMAP4, folder: str) -> None:
    status, _ = server.select(_quoted(folder), readonly=True)
    if status != "OK":
        server.create(_quoted(folder))


def _move(server: imaplib.IMAP4, uid: str, folder: str) -> None:
    """Move the message to the processed folder (MOVE where the server has it, else copy and delete)."""
    if "MOVE" in server.capabilities:
        status, _ = server.uid("MOVE", uid, _quoted(folder))
        if status == "OK":
            return
    status, _ = server.uid("COPY", uid, _quoted(folder))
    if status == "OK":
        server.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
