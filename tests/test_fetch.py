"""Returns from the mailbox: `clb fetch` against a real IMAP server (Dovecot on 127.0.0.1)."""

from __future__ import annotations

import email.mime.application
import email.mime.message
import email.mime.multipart
import email.mime.text
import email.policy
import os
import signal
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import load_config
from pipeline.mail.fetch import fetch_returns
from pipeline.state import open_state
from pipeline.text import is_visible
from pipeline.workspace import Workspace
from tests.conftest import example_workspace
from tests.imap_server import Dovecot
from tests.intake_helpers import LEADER, OTHER, filled, forms, nightly

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@pytest.fixture
def dovecot():
    server = Dovecot()
    yield server
    server.stop()


def use_mailbox(root: Path, port: int) -> None:
    path = root / "config" / "partnership.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["mail"] = {**(data.get("mail") or {}), "imap": {"host": "127.0.0.1", "port": port, "security": "none"}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def message(
    sender: str, subject: str, files: list[tuple[str, bytes]], message_id: str, text: str = "Here it is."
) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "returns@partnership.example", subject
    mail["Message-ID"], mail["Date"] = message_id, "Sun, 29 Nov 2026 09:00:00 +0000"
    mail.set_content(text)
    for name, data in files:
        kind = XLSX if name.endswith(".xlsx") else ("application", "pdf")
        mail.add_attachment(data, maintype=kind[0], subtype=kind[1], filename=name)
    return bytes(mail)


def forwarded(sender: str, inner: bytes, message_id: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "returns@partnership.example", "Fwd: my CLB form"
    mail["Message-ID"] = message_id
    mail.set_content("Forwarding Tom's form, he is away.")
    inner_message = EmailMessage()
    inner_message.set_content("placeholder")
    from email import message_from_bytes, policy

    mail.add_attachment(message_from_bytes(inner, policy=policy.default))
    return bytes(mail)


def fetch(root: Path, server: Dovecot) -> dict:
    config = load_config(root / "config")
    return fetch_returns(
        Workspace.at(root), open_state(root / "state" / "clb.sqlite"), config, server.environ()
    ).as_dict()


def test_returns_arrive_from_the_mailbox_once_each_attributed_by_their_form(issued, dovecot):
    people = sorted(forms(issued))
    third, fourth = people[2], people[3]
    use_mailbox(issued, dovecot.port)
    normal = message(LEADER, "My form", [("CLB form.xlsx", filled(issued, LEADER))], "<1@council.example>")
    dovecot.append(normal)
    dovecot.append(normal)  # the same message twice (a resend, or two rules filing it)
    tom = message(OTHER, "Tom's form", [("Tom CLB.xlsx", filled(issued, OTHER))], "<2@council.example>")
    dovecot.append(forwarded("pa.to.tom@riverside-council.example", tom, "<3@council.example>"))
    both = [("a.xlsx", filled(issued, third)), ("b.xlsx", filled(issued, fourth))]
    dovecot.append(message("office@riverside.example", "Two forms", both, "<4@riverside.example>"))
    dovecot.append(message(LEADER, "Also my notes", [("notes.pdf", b"%PDF-1.4 not a form")], "<5@council.example>"))
    dovecot.append(message(LEADER, "Question", [], "<6@council.example>", text="When is the deadline?"))

    stranger = "someone@elsewhere.example"  # not on the roster: their PDF is not taken
    dovecot.append(message(stranger, "Notes", [("notes.pdf", b"%PDF-1.4 not a form")], "<7@elsewhere.example>"))

    report = fetch(issued, dovecot)
    assert report["messages"] == 7 and report["already"] == 1
    assert sorted(item["sender"] for item in report["saved"]) == sorted(  # a leader's PDF too: it is placed
        [LEADER, LEADER, "pa.to.tom@riverside-council.example", "office@riverside.example", "office@riverside.example"]
    )
    assert sorted(item["why"] for item in report["ignored"]) == [
        "no attachment: nothing to take",
        "not a workbook (application/pdf)",
    ]
    saved = sorted((issued / "inbox" / "mail").glob("*.xlsx"))
    assert len(saved) == 4 and len(list((issued / "inbox" / "mail").glob("* notes.pdf"))) == 1
    assert dovecot.count("INBOX") == 0 and dovecot.count("clb processed") == 7

    again = fetch(issued, dovecot)  # nothing new
    assert again["messages"] == 0 and again["saved"] == []
    dovecot.append(normal)  # the same message once more, after it was taken in
    first = nightly(issued)
    assert fetch(issued, dovecot)["saved"] == [] and len(list((issued / "inbox").rglob("*.xlsx"))) == 0

    run = nightly(issued)  # the night after: nothing more
    assert run["accepted"] == []
    # the leader's PDF came with her form, which is in: not asked for again, and not placed beside her
    [pdf] = [item for item in first["quarantined"] if item["file"].endswith("notes.pdf")]
    assert pdf["leader_id"] is None and pdf["correction_request"] is None


def test_a_return_sent_by_someone_else_is_accepted_on_its_form_with_a_note(issued, dovecot):
    use_mailbox(issued, dovecot.port)
    tom = message(OTHER, "Tom's form", [("Tom CLB.xlsx", filled(issued, OTHER))], "<2@council.example>")
    dovecot.append(forwarded("pa.to.tom@riverside-council.example", tom, "<3@council.example>"))
    fetch(issued, dovecot)
    report = nightly(issued)
    [accepted] = report["accepted"]
    assert accepted["leader_id"] == OTHER  # the form's reference decides, not the sender
    [note] = accepted["notes"]
    assert note["code"] == "sent-by-another" and "pa.to.tom@riverside-council.example" in note["message"]


def test_a_fetch_killed_between_saving_and_filing_loses_and_repeats_nothing(issued, dovecot):
    use_mailbox(issued, dovecot.port)
    people = sorted(forms(issued))
    for number, leader in enumerate(people[:3]):
        dovecot.append(
            message(leader, "Form", [(f"form {number}.xlsx", filled(issued, leader))], f"<{number}@x.example>")
        )
    for point in ("fetch-saved", "fetch-taken"):
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(issued)],
            env={**os.environ, **dovecot.environ(), "CLB_CRASH_AT": point},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
    fetch(issued, dovecot)
    assert dovecot.count("INBOX") == 0 and dovecot.count("clb processed") == 3
    assert len(list((issued / "inbox" / "mail").glob("*.xlsx"))) == 3
    report = nightly(issued)
    assert len(report["accepted"]) == 3 and report["duplicates"] == []


CHILD = """
import sys
from pathlib import Path
from pipeline.config import load_config
from pipeline.mail.fetch import fetch_returns
from pipeline.state import open_state
from pipeline.workspace import Workspace
root = Path(sys.argv[1])
fetch_returns(Workspace.at(root), open_state(root / "state" / "clb.sqlite"), load_config(root / "config"))
"""


def test_clb_fetch_says_what_it_took_and_what_it_left(issued, dovecot):
    from typer.testing import CliRunner

    from pipeline.cli import app

    use_mailbox(issued, dovecot.port)
    dovecot.append(message(LEADER, "My form", [("CLB form.xlsx", filled(issued, LEADER))], "<1@council.example>"))
    dovecot.append(message("x@elsewhere.example", "Notes", [("notes.pdf", b"%PDF-1.4")], "<2@elsewhere.example>"))
    result = CliRunner().invoke(app, ["fetch", "--workspace", str(issued)], env={**dovecot.environ(), "COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert (
        LEADER in said
        and "Not taken from x@elsewhere.example: Notes: notes.pdf: not a workbook (application/pdf)" in said
    )
    assert "2 messages, 1 files saved into inbox/" in said
    refused = CliRunner().invoke(
        app, ["fetch", "--workspace", str(issued)], env={"CLB_IMAP_USERNAME": "returns", "CLB_IMAP_PASSWORD": "wrong"}
    )
    assert refused.exit_code == 4 and "refused the login" in refused.output and "wrong" not in refused.output


def test_odd_attachments_are_reported_never_taken_and_never_stop_the_others(issued, dovecot):
    use_mailbox(issued, dovecot.port)
    settings = issued / "config" / "partnership.yaml"
    data = yaml.safe_load(settings.read_text(encoding="utf-8"))
    data["intake"] = {**(data.get("intake") or {}), "max_file_mb": 1}
    settings.write_text(yaml.safe_dump(data), encoding="utf-8")
    odd = EmailMessage()
    helper = "it.helpdesk@elsewhere.example"  # not on the roster: only what is named like a workbook is taken
    odd["From"], odd["Subject"], odd["Message-ID"] = helper, "Odd", "<odd@x.example>"
    odd.set_content("See attached.")
    odd.add_attachment(b"\x78\x9f\x3e\x22" * 100, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    odd.add_attachment(b"PK\x03\x04 zipped", maintype="application", subtype="zip", filename="forms.zip")
    odd.add_attachment(
        b"PK" + b"\0" * (2 * 1024 * 1024), maintype="application", subtype="octet-stream", filename="huge.xlsx"
    )
    odd.add_attachment(filled(issued, LEADER), maintype=XLSX[0], subtype=XLSX[1], filename="real.xlsx")
    dovecot.append(bytes(odd))
    report = fetch(issued, dovecot)
    assert [item["sender"] for item in report["saved"]] == [helper]
    assert sorted((item["part"], item["why"]) for item in report["ignored"]) == [
        ("forms.zip", "not a workbook (application/zip)"),
        ("huge.xlsx", "too large to be a form"),
        ("winmail.dat", "not a workbook (application/ms-tnef)"),
    ]
    assert len(nightly(issued)["accepted"]) == 1


def test_a_draft_round_trips_through_a_real_mail_store(issued, dovecot):
    """An .eml draft filed in a Drafts folder with IMAP APPEND, as a mail program keeps drafts, comes back
    as the same draft: X-Unsent, recipient, subject, both bodies and the form, byte for byte."""
    import email
    import email.policy

    from pipeline.stages import send as mail_run

    mail_run(Workspace.at(issued), "invitations", load_config(issued / "config"))
    path = sorted((issued / "outbox" / "mail" / "invitation").rglob("*.eml"))[0]
    client = dovecot.client()
    try:
        client.create('"Drafts"')
        client.append('"Drafts"', r"(\Draft)", None, path.read_bytes())
        client.select('"Drafts"')
        status, data = client.fetch("1", "(FLAGS BODY.PEEK[])")
    finally:
        client.logout()
    flags, raw = data[0][0], data[0][1]
    assert status == "OK" and b"\\Draft" in flags
    back = email.message_from_bytes(raw, policy=email.policy.default)
    original = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert back["X-Unsent"] == "1" and back["Date"] is None and back["Message-ID"] is None
    assert (back["To"], back["Subject"]) == (original["To"], original["Subject"])
    for kind in ("plain", "html"):  # a mail store keeps lines with CRLF ends
        assert back.get_body((kind,)).get_content().replace("\r\n", "\n") == original.get_body((kind,)).get_content()
    [mine] = list(back.iter_attachments())
    assert mine.get_content() == next(original.iter_attachments()).get_content()


def test_the_tracker_names_who_mailed_a_return_for_its_leader(issued, dovecot):
    import openpyxl

    use_mailbox(issued, dovecot.port)
    tom = message(OTHER, "Tom's form", [("Tom CLB.xlsx", filled(issued, OTHER))], "<2@council.example>")
    dovecot.append(forwarded("pa.to.tom@riverside-council.example", tom, "<3@council.example>"))
    fetch(issued, dovecot)
    nightly(issued)
    path = issued / "outbox" / "reports" / "2026-Q4" / "comparison-2026-Q4-facilitator.xlsx"
    tracker = openpyxl.load_workbook(path)["Response tracker"]
    [row] = [r for r in tracker.iter_rows(values_only=True) if r[2] == OTHER]
    assert row[4] == "returned" and "pa.to.tom@riverside-council.example" in row[5]


# ---------------------------------------------------------------- one message costs that message


def poisons() -> dict[str, bytes]:
    """Messages that stopped every fetch (and every night after) before, each a few bytes to a megabyte."""
    chain = b"Subject: z\r\n\r\nend\r\n"
    for _ in range(1000):
        chain = b"Content-Type: message/rfc822\r\n\r\n" + chain
    params = b"".join(b";\r\n a%d=b" % i for i in range(90_000))
    parts = b"".join(b"--b\r\n\r\n" for _ in range(40_000))
    return {
        "crlf": b"From: =?utf-8?q?=0d=0a?= <a@b.example>\r\nSubject: crlf\r\n\r\nhi\r\n",
        "comments": b"From: " + b"(" * 900 + b")" * 900 + b" a@b.example\r\nSubject: comments\r\n\r\nhi\r\n",
        "chain": b"From: a@b.example\r\nSubject: deep\r\n" + chain,
        "params": b"From: a@b.example\r\nSubject: params\r\nContent-Type: text/plain" + params + b"\r\n\r\nhi\r\n",
        "parts": b'From: a@b.example\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + parts
        + b"--b--\r\n",
    }


def test_poisoned_messages_cost_only_themselves_through_clb_fetch(issued, dovecot):
    """Each poison beside a real return: `clb fetch` (the installed command) takes the return, reports
    each poison as not taken with its reason, moves the unreadable ones to 'clb not taken', and the next
    fetch has nothing left to choke on."""
    use_mailbox(issued, dovecot.port)
    for raw in poisons().values():
        dovecot.append(raw)
    dovecot.append(message(LEADER, "My form", [("CLB form.xlsx", filled(issued, LEADER))], "<1@council.example>"))
    clb = str(Path(sys.executable).with_name("clb"))
    env = {**os.environ, **dovecot.environ(), "COLUMNS": "200"}
    done = subprocess.run([clb, "fetch", "-w", str(issued)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert "6 messages, 1 files saved into inbox/" in said
    assert said.count("Not taken") == 5
    assert "deep: it is nested more than 24 deep, so it cannot be a return" in said
    assert "parts: its structure is too large to be a return" in said
    assert said.count("no attachment: nothing to take") == 3  # the From fields read, the parameters ignored
    assert dovecot.count("INBOX") == 0
    assert dovecot.count("clb processed") == 4 and dovecot.count("clb not taken") == 2
    again = subprocess.run([clb, "fetch", "-w", str(issued)], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "0 messages" in again.stdout
    assert len(nightly(issued)["accepted"]) == 1


def test_a_message_over_the_size_limit_is_set_aside_unread(issued, dovecot):
    use_mailbox(issued, dovecot.port)
    settings = issued / "config" / "partnership.yaml"
    data = yaml.safe_load(settings.read_text(encoding="utf-8"))
    data["mail"]["imap"]["max_message_mb"] = 0.5
    settings.write_text(yaml.safe_dump(data), encoding="utf-8")
    big = b"x" * (700 * 1024)
    dovecot.append(message(LEADER, "Big", [("CLB form.xlsx", big)], "<big@council.example>"))
    report = fetch(issued, dovecot)
    [ignored] = report["ignored"]
    assert ignored["why"].startswith("too large to hold a return (0.9 MB; the limit is 0.5 MB)")  # base64
    assert report["saved"] == [] and dovecot.count("clb not taken") == 1


@pytest.fixture(scope="module")
def shared_dovecot():
    server = Dovecot()
    yield server
    server.stop()


HEADER_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@st.composite
def messages(draw) -> bytes:
    """A message as a hostile sender might write it: any header values (encoded words with controls
    included), nesting through multiparts and forwarded messages, odd encodings and names."""
    mail = EmailMessage(policy=email.policy.compat32)
    raw_from = draw(st.sampled_from(["=?utf-8?q?=0d=0a?= <a@b.example>", "(((x))) a@b.example", "", "no address"]))
    mail["From"] = draw(
        st.one_of(st.just(raw_from), HEADER_TEXT.map(lambda t: t.replace("\n", " ").replace("\r", " ")))
    )
    mail["Subject"] = draw(HEADER_TEXT).replace("\n", " ").replace("\r", " ")
    kind = draw(st.sampled_from(["mixed", "alternative", "related"]))
    body = email.mime.multipart.MIMEMultipart(kind, boundary="clb-0")  # fixed: the email package uses random
    body.attach(email.mime.text.MIMEText(draw(HEADER_TEXT)))
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.one_of(HEADER_TEXT, st.sampled_from(["form.xlsx", "a.xls", "b.XLSM", "c.pdf", ""])))
        part = email.mime.application.MIMEApplication(draw(st.binary(max_size=300)))
        if name:
            part.add_header("Content-Disposition", "attachment", filename=name.replace("\n", " "))
        body.attach(part)
    for level in range(draw(st.integers(0, 3))):  # forwarded, nested
        wrapper = email.mime.message.MIMEMessage(body)
        body = email.mime.multipart.MIMEMultipart("mixed", boundary=f"clb-{level + 1}")
        body.attach(wrapper)
    for key, value in body.items():
        mail[key] = value
    mail.set_payload(body.get_payload())
    return mail.as_bytes()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(messages(), min_size=1, max_size=3))
def test_any_message_is_taken_or_set_aside_never_raised(tmp_path_factory, shared_dovecot, batch):
    root = example_workspace(tmp_path_factory.mktemp("ws") / "ws", issue=True)
    use_mailbox(root, shared_dovecot.port)
    for raw in batch:
        shared_dovecot.append(raw)
    report = fetch(root, shared_dovecot)  # never raises for what a message holds
    assert report["messages"] == len(batch)
    assert shared_dovecot.count("INBOX") == 0
    for item in report["saved"]:
        assert (root / item["file"]).is_file() and "\n" not in item["sender"] and "\r" not in item["sender"]
    for item in report["ignored"]:
        assert is_visible(item["message"]) and is_visible(item["part"]) and is_visible(item["why"])
