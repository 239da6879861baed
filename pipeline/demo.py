"""The demo: a fresh workspace holding the example partnership, for ``make demo``."""

from __future__ import annotations

import shutil
from pathlib import Path

DEMO_MARKER = ".clb-demo"


def prepare_demo(source_config: Path, target: Path, smtp: str = "", imap: str = "") -> Path:
    """Make ``target`` a new workspace with a copy of ``source_config``. An earlier demo there is
    replaced; any other existing folder is refused, so the demo can never wipe real work. ``smtp``
    (HOST:PORT) points the demo's mail at a local test server."""
    if not (source_config / "partnership.yaml").is_file():
        raise FileNotFoundError(f"{source_config} holds no partnership.yaml; pass --from pointing at a config folder")
    if target.exists():
        if not (target / DEMO_MARKER).exists():
            raise ValueError(f"{target} exists and is not a demo workspace; choose another --workspace or move it away")
        shutil.rmtree(target)
    (target / "config").parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source_config, target / "config")
    for folder in ("inbox", "outbox", "state"):
        (target / folder).mkdir()
    (target / DEMO_MARKER).write_text("made by clb demo; removed by the next clb demo\n", encoding="utf-8")
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
    saved. Returns how many files were written."""
    import os
    import time

    from pipeline.config import load_config
    from pipeline.simulate import answers, fill, repack
    from pipeline.state import active_forms, open_state

    config = load_config(target / "config")
    instrument = config.instrument
    issued = sorted(
        active_forms(open_state(target / "state" / "clb.sqlite"), config.settings.round).values(),
        key=lambda record: record.email,
    )
    forms = [(record, (target / record.path).read_bytes()) for record in issued]
    inbox = target / "inbox"
    (inbox / "from Outlook").mkdir(parents=True, exist_ok=True)
    choices = [
        {
            1: "comfortable",
            2: "stretched",
            3: "stretched",
            4: "panicked",
            5: "comfortable",
            6: "stretched",
            7: "panicked",
        },
        {
            1: "stretched",
            2: "stretched",
            3: "comfortable",
            4: "stretched",
            5: "panicked",
            6: "comfortable",
            7: "stretched",
        },
        {
            1: "comfortable",
            2: "comfortable",
            3: "comfortable",
            4: "comfortable",
            5: "stretched",
            6: "comfortable",
            7: "comfortable",
        },
    ]
    styles: list[object] = ["✓", "x", True, 1, "yes", "✔", "X", "✓", "✓"]
    files: list[tuple[str, bytes]] = []
    log = {
        "log_project": "Blue-light integration board, November 2026",
        "log_outcome": "To see where I need support before the joint estates decision",
        "log_happened": '=HYPERLINK("http://example.org","see my notes")',
    }
    for index, (record, data) in enumerate(forms[:9]):
        values = answers(instrument, choices[index % 3], mark=styles[index])  # type: ignore[arg-type]
        if index == 0:
            values |= log
        name = ["Copy of CLB form.xlsx", "CLB0.01 return.xlsx", "form (1).xlsx"][index % 3]
        files.append(
            (
                f"{index + 1:02d} {name}" if index % 2 else f"from Outlook/{record.name} {name}",
                fill(data, instrument, values),
            )
        )
    # one leader sends the same file twice (the mail program saved it again)
    files.append(("Copy of Copy of CLB form.xlsx", files[1][1]))
    # mistakes: two marks in a row, a row left empty, an unreadable mark
    record, data = forms[9]
    wrong = answers(instrument, choices[0]) | {"p4_comfortable": "✓"}
    files.append(("CLB form - two ticks.xlsx", fill(data, instrument, wrong)))
    record, data = forms[10]
    files.append(
        ("CLB form - half done.xlsx", fill(data, instrument, answers(instrument, {1: "stretched", 2: "stretched"})))
    )
    record, data = forms[11]
    files.append(
        ("CLB form - maybe.xlsx", fill(data, instrument, answers(instrument, choices[1]) | {"p6_panicked": "maybe"}))
    )
    # a leader corrects their answers and sends the form again, later
    record, data = forms[0]
    files.append(("zz second thoughts.xlsx", fill(data, instrument, answers(instrument, choices[1]))))
    # not forms at all
    files.append(("answers.xlsx", b"perspective,answer\n1,comfortable\n2,stretched\n"))
    files.append(("old format.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504))
    record, data = forms[12]
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(fill(data, instrument, answers(instrument, choices[2])))) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    parts["xl/vbaProject.bin"] = b"\x00" * 64
    files.append(("CLB form with macros.xlsm", repack(parts)))

    moment = time.time() - 3600
    for offset, (name, body) in enumerate(files):
        path = inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        os.utime(path, (moment + offset * 60, moment + offset * 60))
    (inbox / "~$CLB form.xlsx").write_bytes(b"owner file")  # Excel's lock file: still being saved
    return len(files) + 1


def mail_returns(target: Path, imap: str, environ: dict[str, str] | None = None) -> int:
    """For `clb demo --imap`: the simulated returns arrive by email instead. Each file of the demo inbox
    (a lock file excepted) becomes a message from its leader, filed into the mailbox with IMAP APPEND, and
    leaves the inbox; the nightly run then fetches them. Returns how many messages were filed."""
    import email.utils
    import imaplib
    import os
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
            mail["Subject"] = f"Re: {config.settings.partnership}: your CLB0.01 form"
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
