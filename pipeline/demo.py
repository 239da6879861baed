"""The demo: a fresh workspace holding the example partnership, for ``make demo``."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.files import make_private
from pipeline.init import set_deadline
from pipeline.names import safe_segment
from pipeline.workspace import PRIVATE_UMASK

if TYPE_CHECKING:
    from pipeline.instrument import Instrument
    from pipeline.simulate import Value

DEMO_MARKER = ".clb-demo"


def prepare_demo(
    source_config: Path, target: Path, smtp: str = "", imap: str = "", instrument: Path | None = None
) -> Path:
    """Make ``target`` a new workspace with a copy of ``source_config``. An earlier demo there is
    replaced; any other existing folder is refused, so the demo can never wipe real work. ``smtp``
    (HOST:PORT) points the demo's mail at a local test server; ``instrument`` replaces the instrument
    (with its own suggested practices)."""
    if not (source_config / "partnership.yaml").is_file():
        raise FileNotFoundError(f"{source_config} holds no partnership.yaml; pass --from pointing at a config folder")
    if target.exists():
        if not (target / DEMO_MARKER).exists():
            raise ValueError(f"{target} exists and is not a demo workspace; choose another --workspace or move it away")
        shutil.rmtree(target)
    (target / "config").parent.mkdir(parents=True, exist_ok=True)
    os.umask(PRIVATE_UMASK)
    shutil.copytree(source_config, target / "config")
    make_private(target / "config")
    if instrument is not None:
        shutil.copy2(instrument, target / "config" / "instrument.yaml")
        (target / "config" / "practices.yaml").unlink(missing_ok=True)
    for folder in ("inbox", "outbox", "state"):
        (target / folder).mkdir()
    (target / DEMO_MARKER).write_text("made by clb demo; removed by the next clb demo\n", encoding="utf-8")
    set_deadline(target / "config" / "partnership.yaml", dt.date.today() + dt.timedelta(days=14))
    mail: dict[str, object] = {}
    if imap:
        host, port = host_port(imap, "--imap", "127.0.0.1:1143")
        mail["imap"] = {"host": host, "port": port, "security": "none"}
    if smtp:
        host, port = host_port(smtp, "--smtp", "127.0.0.1:8025")
        mail.update(host=host, port=port, security="none")
    if mail:
        import yaml

        path = target / "config" / "partnership.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["mail"] = {**(data.get("mail") or {}), **mail}
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def host_port(text: str, option: str, example: str) -> tuple[str, int]:
    """HOST:PORT as given to the demo's --smtp and --imap."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{option} {text!r}: give HOST:PORT, e.g. {example}")
    return host, int(port)


def simulate_returns(target: Path) -> int:
    """Put into the demo inbox what a facilitator's inbox really looks like after a week: most leaders'
    forms filled in different tick styles and renamed by mail programs, a few with mistakes, one sent
    twice, one corrected and sent again, a couple of files that are not forms at all, and one still being
    saved. Works for any instrument: the answers are made from its rows and columns. Returns how many
    files were written."""
    import time

    from pipeline.config import load_config
    from pipeline.state import active_forms, open_state

    config = load_config(target / "config")
    issued = sorted(
        active_forms(open_state(target / "state" / "clb.sqlite"), config.settings.round).values(),
        key=lambda record: record.email,
    )
    forms = [(target / record.path).read_bytes() for record in issued]
    if len(forms) < 13:
        raise ValueError(f"the demo needs at least 13 leaders on the roster to show every case; it has {len(forms)}")
    files = _good_returns(config.instrument, forms[:9], [record.name for record in issued[:9]])
    files += _mistakes(config.instrument, forms[9:13], forms[0], files[1][1])
    inbox = target / "inbox"
    moment = time.time() - 3600
    for offset, (name, body) in enumerate(files):
        path = inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        os.utime(path, (moment + offset * 60, moment + offset * 60))
    (inbox / f"~${_stem(config.instrument)} form.xlsx").write_bytes(b"owner file")  # Excel's lock: still saving
    return len(files) + 1


def _stem(instrument: Instrument) -> str:
    return safe_segment(instrument.code)


def demo_choices(instrument: Instrument) -> list[dict[int, str]]:
    """Three leaders' answers, row -> column key: one spread over every column, one leaning towards
    concern, and one wholly in the comfort zone (so the letters show every case)."""
    keys = [tick.key for tick in instrument.ticks]
    numbers = [p.number for p in instrument.perspectives]
    return [
        {n: keys[(n - 1) % len(keys)] for n in numbers},
        {n: keys[min(len(keys) - 1, 1 + (n % 2) * (len(keys) - 2))] for n in numbers},
        {n: keys[0] for n in numbers},
    ]


def _good_returns(instrument: Instrument, forms: list[bytes], names: list[str]) -> list[tuple[str, bytes]]:
    """Nine good returns in every tick style a spreadsheet gives, renamed as mail programs rename them;
    the first with a user log (one cell a formula, kept as text)."""
    from pipeline.simulate import answers, fill

    choices = demo_choices(instrument)
    styles: list[Value] = ["✓", "x", True, 1, "yes", "✔", "X", "✓", "✓"]
    log = demo_log(instrument)
    stem = _stem(instrument)
    files = []
    for index, data in enumerate(forms):
        values = answers(instrument, choices[index % 3], mark=styles[index]) | (log if index == 0 else {})
        name = [f"Copy of {stem} form.xlsx", f"{stem} return.xlsx", "form (1).xlsx"][index % 3]
        where = f"{index + 1:02d} {name}" if index % 2 else f"from Outlook/{names[index]} {name}"
        files.append((where, fill(data, instrument, values)))
    return files


def demo_log(instrument: Instrument) -> dict[str, Value]:
    """A user log's first line, in as many of the instrument's log columns as it has (up to three); the
    third is a formula, which intake keeps as its text."""
    from pipeline.forms.layout import log_name

    texts = [
        "Blue-light integration board, November 2026",
        "To see where I need support before the joint estates decision",
        '=HYPERLINK("http://example.org","see my notes")',
    ]
    return {log_name(c.key, 1): text for c, text in zip(instrument.user_log, texts, strict=False)}


def _mistakes(instrument: Instrument, forms: list[bytes], first: bytes, sent_twice: bytes) -> list[tuple[str, bytes]]:
    """A file sent twice, two marks in a row, a form half done, an unreadable mark, second thoughts sent
    later, files that are not forms, and a workbook with macros."""
    import io
    import zipfile

    from pipeline.forms.layout import tick_name
    from pipeline.simulate import answers, fill, repack

    choices = demo_choices(instrument)
    keys = [tick.key for tick in instrument.ticks]
    last = len(instrument.perspectives)
    stem = _stem(instrument)
    row = min(4, last)  # a second mark beside the first in one row
    extra = next(key for key in keys if key != choices[0][row])
    two = answers(instrument, choices[0]) | {tick_name(row, extra): "✓"}
    half = {n: keys[1] for n in (1, 2)}
    maybe = answers(instrument, choices[1]) | {tick_name(min(6, last), keys[-1]): "maybe"}
    with zipfile.ZipFile(io.BytesIO(fill(forms[3], instrument, answers(instrument, choices[2])))) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    parts["xl/vbaProject.bin"] = b"\x00" * 64
    return [
        (f"Copy of Copy of {stem} form.xlsx", sent_twice),  # the mail program saved it again
        (f"{stem} form - two ticks.xlsx", fill(forms[0], instrument, two)),
        (f"{stem} form - half done.xlsx", fill(forms[1], instrument, answers(instrument, half))),
        (f"{stem} form - maybe.xlsx", fill(forms[2], instrument, maybe)),
        # the first leader changes their answers in the file they saved, user log and all
        ("zz second thoughts.xlsx", fill(first, instrument, answers(instrument, choices[1]) | demo_log(instrument))),
        ("answers.xlsx", b"row,answer\n1," + keys[0].encode() + b"\n"),
        ("old format.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504),
        (f"{stem} form with macros.xlsm", repack(parts)),
    ]


def mail_returns(target: Path, imap: str, environ: dict[str, str] | None = None) -> int:
    """For `clb demo --imap`: the simulated returns arrive by email instead. Each file of the demo inbox
    (a lock file excepted) becomes a message from its leader, filed into the mailbox with IMAP APPEND, and
    leaves the inbox; the nightly run then fetches them. Returns how many messages were filed."""
    import email.utils
    import imaplib
    from email.message import EmailMessage

    from pipeline.config import load_config
    from pipeline.intake.check import check_files
    from pipeline.mail.fetch import PASSWORD, USERNAME
    from pipeline.workspace import Workspace

    environ = dict(os.environ if environ is None else environ)
    host, port = host_port(imap, "--imap", "127.0.0.1:1143")
    config = load_config(target / "config")
    files = [p for p in sorted((target / "inbox").rglob("*")) if p.is_file() and not p.name.startswith("~$")]
    owners = {  # each leader mails their own form; a file that is no form comes from the facilitator's colleague
        path: result.leader.rsplit("(", 1)[-1].rstrip(")") if result.leader else config.settings.facilitator.email
        for path, result in zip(files, check_files(Workspace.at(target), config, files), strict=True)
    }
    server = imaplib.IMAP4(host, port)
    server.login(environ.get(USERNAME, ""), environ.get(PASSWORD, ""))
    filed = 0
    try:
        for path in files:
            data = path.read_bytes()
            mail = EmailMessage()
            mail["From"] = owners[path]
            mail["To"] = config.settings.facilitator.email
            mail["Subject"] = f"Re: {config.settings.partnership}: your {config.instrument.code} form"
            mail["Message-ID"] = email.utils.make_msgid(domain="demo.example")
            mail["Date"] = email.utils.formatdate()
            mail.set_content("Here is my form.")
            mail.add_attachment(data, maintype="application", subtype="octet-stream", filename=path.name)
            server.append('"INBOX"', None, None, bytes(mail))
            path.unlink()
            filed += 1
    finally:
        server.logout()
    return filed
