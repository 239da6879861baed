"""`clb fetch`: returned forms taken from the returns mailbox into inbox/, each attachment exactly once.

For every message in the configured folder, clb asks the server for its size, its evidence headers
(``headers``) and its structure (``structure``), then fetches only the parts that can be forms: each
attachment named like a workbook (.xlsx, .ods, .xls, .xlsm), found however deep (a forwarded message inside a
message included), is saved into ``inbox/mail/`` under a name made from its sha256, and recorded with
the sender, Message-ID, date and the server's Authentication-Results as evidence; then the message is
moved to the processed folder. The order makes a crash at any point safe: a saved attachment is recorded
before its message moves, a recorded one is never saved again (Message-ID + sha256), and one the inbox
already took in is not saved again either.

A message costs only itself. One too large, too deeply nested, with too many parts, or that cannot be
read at all is reported as not taken, with the reason, and moved to the set-aside folder (``clb not
taken``) where the facilitator can open it in their mail program; it never stops the other messages or
the night. Python's email parser never sees a whole message. Only a mailbox that cannot be reached
stops the fetch (and only the fetch: the night goes on with what is in the inbox).

The sender is evidence only: a return is attributed by the reference inside the form, never by who sent
it. Everything else a message holds (text, a PDF, winmail.dat, a zip, an oversized file) is reported,
never saved.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import imaplib
import os
import quopri
import re
import ssl
import time
from dataclasses import dataclass, field

from pipeline.config import Config
from pipeline.contracts import Fetched
from pipeline.failures import checkpoint
from pipeline.files import atomic_write
from pipeline.mail.headers import FIELDS, Evidence, evidence
from pipeline.mail.structure import Malformed, PartInfo, TooComplex, body_structure, joined, number, parts
from pipeline.names import safe_segment
from pipeline.settings import ImapSettings
from pipeline.state import Engine, fetched_keys, received_hashes, record_fetched
from pipeline.text import one_line, visible
from pipeline.workspace import Workspace

USERNAME, PASSWORD = "CLB_IMAP_USERNAME", "CLB_IMAP_PASSWORD"
WORKBOOK = re.compile(r"\.(xlsx|xlsm|xls|ods)$", re.IGNORECASE)  # the intake reads each by its content
FOLDER = "mail"  # under inbox/
BASE64_GROWTH = 1.4  # a part's size as sent, base64 with line breaks, against its bytes


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


class SetAside(Exception):
    """This message is not read further: it goes to the set-aside folder, with the reason."""


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


def fetch_returns(
    space: Workspace, engine: Engine, config: Config, environ: dict[str, str] | None = None
) -> FetchReport:
    """Take every workbook attachment of the folder's messages into inbox/mail/ (every attachment, when a
    roster leader sent it from their own address), once; move each message
    to the processed folder when all of it is taken, or to the set-aside folder when it could not be read.
    Raises FetchError only when the mailbox cannot be used."""
    settings = config.settings.mail.imap
    if settings is None:
        raise FetchError("no returns mailbox is set: add mail: imap: host: … to config/partnership.yaml")
    limit = int(config.settings.intake.max_file_mb * 1024 * 1024)
    report = FetchReport()
    server = connect(settings, environ)
    try:
        _ensure_folder(server, settings.processed_folder)
        _ensure_folder(server, settings.set_aside_folder)
        status, _ = server.select(_quoted(settings.folder))
        if status != "OK":
            raise FetchError(f"the mailbox has no folder {settings.folder!r}")
        status, found = server.uid("SEARCH", "ALL")
        uids = [uid.decode() for uid in found[0].split()] if status == "OK" and found and found[0] else []
        taken = fetched_keys(engine)
        leaders = frozenset(leader.id for leader in config.roster)
        for uid in uids:
            report.messages += 1
            destination = settings.processed_folder
            try:
                settle = config.settings.intake.settle_seconds
                _take(server, uid, space, engine, report, taken, limit, settings, settle, leaders)
            except (imaplib.IMAP4.abort, OSError):
                raise  # the connection itself: the fetch stops, what was taken is kept
            except SetAside as exc:
                report.ignored.append({"message": exc.args[0], "part": "", "why": exc.args[1]})
                destination = settings.set_aside_folder
            except Exception as exc:  # anything one message does to us costs that message only
                why = f"it could not be read ({type(exc).__name__}); it is in the folder '{settings.set_aside_folder}'"
                report.ignored.append({"message": f"message {uid}", "part": "", "why": why})
                destination = settings.set_aside_folder
            checkpoint("fetch-taken")
            _move(server, uid, destination)
        server.expunge()
    except (imaplib.IMAP4.error, OSError) as exc:
        raise FetchError(f"the mail server stopped answering ({one_line(str(exc))}); what was taken is kept") from None
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            server.logout()
    return report


def _fetch(server: imaplib.IMAP4, uid: str, what: str) -> list[object]:
    status, data = server.uid("FETCH", uid, what)
    if status != "OK" or not data or data[0] is None:
        raise SetAside(f"message {uid}", "the mail server could not give it (it may have been deleted meanwhile)")
    return list(data)


def _take(
    server: imaplib.IMAP4,
    uid: str,
    space: Workspace,
    engine: Engine,
    report: FetchReport,
    taken: set[tuple[str, str]],
    limit: int,
    settings: ImapSettings,
    settle: float,
    leaders: frozenset[str] = frozenset(),
) -> None:
    """One message: its size, evidence and structure first, then only the parts that can be forms; and
    from a roster leader's own address (``leaders``) every attachment, so that a scan or a form saved
    wrongly is shown beside them, not lost (the intake decides what each is)."""
    aside = f"it is in the folder '{settings.set_aside_folder}'"
    size = number(_fetch(server, uid, "(RFC822.SIZE)"), b"RFC822.SIZE")
    header = _literal(_fetch(server, uid, f"(BODY.PEEK[HEADER.FIELDS ({' '.join(FIELDS).upper()})])")) or b""
    said = evidence(header)
    label = visible(one_line(f"{said.sender or 'unknown sender'}: {said.subject or '(no subject)'}"))[:200]
    if size is None or size > settings.max_message_mb * 1024 * 1024:
        shown = "unknown" if size is None else f"{size / 1024 / 1024:.1f} MB"
        raise SetAside(
            label, f"too large to hold a return ({shown}; the limit is {settings.max_message_mb:g} MB); {aside}"
        )
    try:
        reply = joined(_fetch(server, uid, "(BODYSTRUCTURE)"))
        found = parts(body_structure(reply))
    except TooComplex as exc:
        raise SetAside(label, f"{exc}, so it cannot be a return and was not read; {aside}") from None
    except Malformed:
        raise SetAside(label, f"the mail server's description of it does not read; {aside}") from None
    message_id = said.message_id or f"<sha256-{hashlib.sha256(header + reply).hexdigest()}>"
    named = [part for part in found if part.filename or part.attachment]
    if not named:
        report.ignored.append({"message": label, "part": "", "why": "no attachment: nothing to take"})
    for part in named:
        name = visible(one_line(part.filename or "(unnamed)"))
        if not WORKBOOK.search(name) and (said.sender or "").casefold() not in leaders:
            report.ignored.append({"message": label, "part": name, "why": f"not a workbook ({part.content_type})"})
            continue
        data = _part_bytes(server, uid, part, limit) if part.size <= limit * BASE64_GROWTH + 4096 else None
        if data is None:
            report.ignored.append({"message": label, "part": name, "why": "too large to be a form"})
            continue
        _save(space, engine, report, taken, said, message_id, name, data, settle)


def _literal(data: list[object]) -> bytes | None:
    """The bytes a FETCH of one item returned (sent as a literal, or as a quoted string)."""
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    with contextlib.suppress(Malformed, TooComplex):
        from pipeline.mail.structure import parse

        for item in parse(joined(data)):
            if isinstance(item, list) and len(item) >= 2 and isinstance(item[-1], bytes):
                return item[-1]
    return None


def _part_bytes(server: imaplib.IMAP4, uid: str, part: PartInfo, limit: int) -> bytes | None:
    """One part's bytes, decoded from its transfer encoding; None when it is larger than ``limit``."""
    sent = _literal(_fetch(server, uid, f"(BODY.PEEK[{part.section}])")) or b""
    try:
        if part.encoding == "base64":
            data = base64.b64decode(sent, validate=False)
        elif part.encoding == "quoted-printable":
            data = quopri.decodestring(sent)
        else:
            data = sent
    except (binascii.Error, ValueError):
        return None
    return data if len(data) <= limit else None


def _save(
    space: Workspace,
    engine: Engine,
    report: FetchReport,
    taken: set[tuple[str, str]],
    said: Evidence,
    message_id: str,
    name: str,
    data: bytes,
    settle: float,
) -> None:
    digest = hashlib.sha256(data).hexdigest()
    key = (message_id, digest)
    workbook = WORKBOOK.search(name)
    stem = safe_segment(re.sub(WORKBOOK, "", name) if workbook else name) or "return"
    suffix = workbook.group(0).lower() if workbook else ""
    relative = f"inbox/{FOLDER}/{digest[:12]} {stem}{suffix}"  # the sender is in the record, not the name
    if key in taken:
        report.already += 1
        return
    known = bool(received_hashes(engine, [digest]))  # taken in before: this message is evidence only (a
    if not known:  # leader sending a held return again from their own address confirms it)
        atomic_write(space.root / relative, data)  # the same name for the same attachment: a rerun rewrites it
        sent = _sent_at(said.date, settle)  # written whole (renamed into place): dated when it was sent, and
        os.utime(space.root / relative, (sent, sent))  # never so recently that the intake waits for it
        checkpoint("fetch-saved")
    record_fetched(
        engine,
        message_id=message_id,
        sha256=digest,
        sender=said.sender,
        sent_date=said.date or None,
        subject=said.subject or None,
        authentication=said.authentication or None,
        file=relative,
    )
    taken.add(key)
    if known:
        report.already += 1
    else:
        report.saved.append({"file": relative, "sender": said.sender, "message_id": message_id, "sha256": digest})


def _sent_at(date: str, settle: float) -> float:
    """When the message says it was sent, as a timestamp, but at least ``settle`` seconds ago (the intake
    leaves younger files for the next run, as still being saved); when it does not say, just that."""
    import email.utils

    latest = time.time() - settle - 1
    try:
        when = email.utils.parsedate_to_datetime(date).timestamp()
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
    """Move the message to ``folder`` (MOVE where the server has it, else copy and delete)."""
    if "MOVE" in server.capabilities:
        status, _ = server.uid("MOVE", uid, _quoted(folder))
        if status == "OK":
            return
    status, _ = server.uid("COPY", uid, _quoted(folder))
    if status == "OK":
        server.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
