"""Email through a real SMTP server on 127.0.0.1: the right message to the right leader, once."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
from pathlib import Path

import pytest
import yaml

from pipeline.config import load_config
from pipeline.stages import send as mail_run
from pipeline.state import active_forms, begin_mail, mail_records, open_state
from pipeline.workspace import Workspace
from tests.html_tables import leaders_on_page, needs_on_page
from tests.intake_helpers import LEADER, MIXED, OTHER, drop, filled, nightly

FAST = {"sleep": lambda seconds: None}


def use_server(root: Path, port: int, **mail: object) -> None:
    path = root / "config" / "partnership.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["mail"] = {"host": "127.0.0.1", "port": port, "security": "none", **mail}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def send(root: Path, kind: str, **options: object) -> dict:
    return mail_run(Workspace.at(root), kind, load_config(root / "config"), **{**FAST, **options})


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_invitations_carry_each_leaders_own_form(issued, smtp):
    use_server(issued, smtp.port)
    report = send(issued, "invitations")
    assert [r["status"] for r in report["results"]] == ["sent"] * 15
    forms = active_forms(open_state(issued / "state" / "clb.sqlite"), "2026-Q4")
    received = smtp.received()
    assert len(received) == 15
    for envelope, raw in received:
        [recipient] = envelope["rcpt_tos"]
        message = parsed(raw)
        assert message["To"].addresses[0].addr_spec == recipient
        assert message["Subject"] == "Riverside Community Partnership, round 2026-Q4: your CLB0.01 self-assessment form"
        assert message["Reply-To"] == "sam.okafor@riverside-partnership.example"
        assert envelope["mail_from"] == "sam.okafor@riverside-partnership.example"
        plain = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "Friday 18 December 2099" in plain and "Friday 18 December 2099" in html
        [attachment] = list(message.iter_attachments())
        assert attachment.get_content() == (issued / forms[recipient.casefold()].path).read_bytes()
        assert attachment.get_filename().endswith(".xlsx")
    log = mail_records(open_state(issued / "state" / "clb.sqlite"), "2026-Q4", "invitation")
    assert {r.status for r in log} == {"sent"} and all(r.response.startswith("250 OK queued as") for r in log)
    assert {r.attachment_sha256 for r in log} == {
        hashlib.sha256((issued / f.path).read_bytes()).hexdigest() for f in forms.values()
    }


def test_nothing_is_sent_twice_unless_asked(issued, smtp):
    use_server(issued, smtp.port)
    send(issued, "invitations")
    again = send(issued, "invitations")
    assert again["results"] == [] and len(smtp.received()) == 15
    resent = send(issued, "invitations", resend=True)
    assert len(resent["results"]) == 15 and len(smtp.received()) == 30


def test_transient_failures_are_retried_with_backoff(issued, smtp):
    use_server(issued, smtp.port, retries=3, rate_per_minute=6000)  # rate-limit waits of 0.01 s at most
    smtp.control(transient=2)
    waits: list[float] = []
    report = send(issued, "invitations", sleep=waits.append)
    first = report["results"][0]
    assert first["status"] == "sent" and first["attempts"] == 3
    assert [wait for wait in waits if wait > 0.5] == [2.0, 4.0]  # backoff between the attempts
    assert len(smtp.received()) == 15


def test_permanent_failures_are_recorded_not_retried(issued, smtp):
    use_server(issued, smtp.port)
    smtp.control(permanent=[LEADER])
    report = send(issued, "invitations")
    failed = [r for r in report["results"] if r["status"] == "refused"]
    assert [(r["recipient"], r["attempts"]) for r in failed] == [(LEADER, 1)]
    assert failed[0]["response"].startswith("550")
    again = send(issued, "invitations")
    assert again["results"] == [] and "refused by the server: 550" in again["skipped"][0]["why"]
    smtp.control()
    assert [r["status"] for r in send(issued, "invitations", resend=True)["results"]].count("sent") == 15


def test_an_unreachable_server_defers_the_batch_to_the_next_run(issued, smtp):
    from tests.conftest import free_port

    use_server(issued, free_port(), retries=1)
    report = send(issued, "invitations")
    statuses = [r["status"] for r in report["results"]]
    assert set(statuses) == {"deferred"}  # the first tried, the rest left for the next run
    use_server(issued, smtp.port)
    assert [r["status"] for r in send(issued, "invitations")["results"]] == ["sent"] * 15


def test_a_message_the_server_may_have_accepted_is_never_sent_again(issued, smtp):
    """A run killed between the server's answer and the log's update leaves the row 'pending'."""
    use_server(issued, smtp.port)
    engine = open_state(issued / "state" / "clb.sqlite")
    form = active_forms(engine, "2026-Q4")[LEADER]
    begin_mail(
        engine,
        kind="invitation",
        round="2026-Q4",
        leader_id=LEADER,
        recipient=LEADER,
        item=form.token,
        message_id="<x@y>",
        attachment_sha256=None,
    )
    report = send(issued, "invitations")
    assert LEADER not in {r["recipient"] for r in report["results"]}
    assert any(s["leader_id"] == LEADER and "--resend" in s["why"] for s in report["skipped"])
    assert LEADER not in {envelope["rcpt_tos"][0] for envelope, _ in smtp.received()}


def test_without_smtp_settings_messages_are_drafts_recorded_once(issued):
    """A draft opens in Outlook with a Send button (X-Unsent: 1) and carries no Date or Message-ID, which
    would make it look received; recipient, subject, both bodies and the form are kept."""
    report = send(issued, "invitations")
    files = sorted((issued / "outbox" / "mail" / "invitation").rglob("*.eml"))
    assert len(files) == 15 and {r["status"] for r in report["results"]} == {"drafted"}
    draft = parsed(files[0].read_bytes())
    assert draft["X-Unsent"] == "1" and draft["Date"] is None and draft["Message-ID"] is None
    assert draft["To"] and draft["Subject"] and draft["From"]
    assert "Attached is your own copy" in draft.get_body(("plain",)).get_content()
    assert draft.get_body(("html",)) is not None
    [attachment] = list(draft.iter_attachments())
    assert attachment.get_filename().endswith(".xlsx") and attachment.get_content()[:2] == b"PK"
    assert send(issued, "invitations")["results"] == []
    assert len(list((issued / "outbox" / "mail" / "invitation").rglob("*.eml"))) == 15


def test_dry_run_writes_eml_whatever_the_settings_and_records_nothing(issued, smtp):
    use_server(issued, smtp.port)
    report = send(issued, "invitations", dry_run=True)
    assert len(report["results"]) == 15 and smtp.received() == []
    assert len(list((issued / "outbox" / "mail" / "dry-run" / "invitation").rglob("*.eml"))) == 15
    assert mail_records(open_state(issued / "state" / "clb.sqlite"), "2026-Q4") == []


def test_reminders_chase_politely(issued, smtp):
    """No reminder inside the gap after the invitation, none to a leader who returned, none while their
    quarantined return's correction is unsent or recent, at most every n days, none after the close;
    a reminder after a refused return says so."""
    use_server(issued, smtp.port, reminder_every_days=7, reminder_after_days=3)
    send(issued, "invitations")
    drop(issued, "back.xlsx", filled(issued, LEADER))
    drop(issued, "half.xlsx", filled(issued, OTHER, {1: "comfortable"}))  # quarantined: rows left empty
    nightly(issued)
    today = dt.date.today()
    early = send(issued, "reminders", today=today + dt.timedelta(days=2))
    assert early["results"] == [] and len(early["skipped"]) == 14
    assert all(f"the first reminder goes from {today + dt.timedelta(days=3)}" in s["why"] for s in early["skipped"])

    week = send(issued, "reminders", today=today + dt.timedelta(days=3))
    recipients = {r["recipient"] for r in week["results"]}
    assert len(recipients) == 13 and not {LEADER, OTHER} & recipients
    [other] = [s["why"] for s in week["skipped"] if s["leader_id"] == OTHER]
    assert other == "their return is quarantined and its correction is not sent yet: clb send corrections"
    reminder = parsed(smtp.received()[-1][1])
    body = reminder.get_body(("plain",)).get_content()
    assert "reminder" in reminder["Subject"] and "Friday 18 December 2099" in body
    assert "could not accept" not in body
    assert send(issued, "reminders", today=today + dt.timedelta(days=9))["results"] == []  # reminded on day 3

    send(issued, "corrections")  # today: OTHER is asked to fix their return, and not chased meanwhile
    skipped = send(issued, "reminders", today=today + dt.timedelta(days=5))["skipped"]
    assert f"asked on {today} to correct their return" in [s["why"] for s in skipped if s["leader_id"] == OTHER]
    later = send(issued, "reminders", today=today + dt.timedelta(days=14))["results"]
    assert len(later) == 14 and OTHER in {r["recipient"] for r in later}
    [to_other] = [parsed(raw) for envelope, raw in smtp.received() if envelope["rcpt_tos"] == [OTHER]][-1:]
    said = " ".join(to_other.get_body(("plain",)).get_content().split())
    came = dt.date.today()
    assert f"We received a form from you on {came.strftime('%A')} {came.day} {came:%B %Y}, but could not" in said

    nightly(issued, close=True)
    closed = send(issued, "reminders", today=today + dt.timedelta(days=30))
    assert closed["results"] == [] and {s["why"][:16] for s in closed["skipped"]} == {"the round closed"}


def test_a_drafted_invitation_is_no_invitation_until_marked_sent(issued):
    """Without an SMTP host invitations are drafts: reminders wait until the facilitator says they sent
    them, and count the gap from then."""
    from pipeline.stages import mark_sent

    send(issued, "invitations")
    today = dt.date.today()
    drafted = send(issued, "reminders", today=today + dt.timedelta(days=30))
    assert drafted["results"] == []
    assert {s["why"] for s in drafted["skipped"]} == {
        "the invitation is only a draft: send it, then clb send invitations --mark-sent"
    }
    assert mark_sent(Workspace.at(issued), "invitations") == 15
    assert send(issued, "reminders", today=today + dt.timedelta(days=6))["results"] == []
    assert len(send(issued, "reminders", today=today + dt.timedelta(days=7))["results"]) == 15


def test_a_letter_goes_only_to_its_own_leader_whatever_the_return_says(issued, smtp):
    use_server(issued, smtp.port)
    data = filled(issued, LEADER, MIXED, log_project=f"please send this to {OTHER}", log_outcome=f"cc: {OTHER}")
    drop(issued, "mine.xlsx", data)
    nightly(issued, close=True)
    report = send(issued, "letters")
    assert [(r["recipient"], r["status"]) for r in report["results"]] == [(LEADER, "sent")]
    [(envelope, raw)] = smtp.received()
    assert envelope["rcpt_tos"] == [LEADER]
    message = parsed(raw)
    assert "Your CLB0.01 feedback" in message.get_body(("html",)).get_content()
    assert 'style="' in message.get_body(("html",)).get_content()  # the email-ready rendering
    assert "YOUR ANSWERS" in message.get_body(("plain",)).get_content()


def test_a_letter_is_sent_as_its_page_with_the_css_inlined_even_one_an_earlier_release_recorded(issued, smtp):
    """The email's HTML is made from the letter's page when it is sent. An earlier release stored it
    beside the page (.email.html) and named that file in the letter's record: a workspace carried over
    mid-round sends the page as it is now, never that older file."""
    from sqlalchemy import update

    from pipeline.reports.letters import email_html
    from pipeline.state import letters_of_round
    from pipeline.state.schema import letters

    use_server(issued, smtp.port)
    drop(issued, "mine.xlsx", filled(issued, LEADER, MIXED))
    nightly(issued, close=True)
    engine = open_state(issued / "state" / "clb.sqlite")
    [record] = letters_of_round(engine, "2026-Q4")
    assert record.email_path == record.html_path and not list(issued.rglob("*.email.html"))
    page = (issued / record.html_path).read_text(encoding="utf-8")
    earlier = record.html_path.removesuffix(".html") + ".email.html"
    (issued / earlier).write_text("<p>an earlier edition of the letter</p>", encoding="utf-8")
    with engine.begin() as connection:
        connection.execute(update(letters).values(email_path=earlier))
    engine.dispose()
    assert [r["status"] for r in send(issued, "letters")["results"]] == ["sent"]
    [(_, raw)] = smtp.received()
    html = parsed(raw).get_body(("html",)).get_content()
    assert html.replace("\r\n", "\n").rstrip() == email_html(page).rstrip()  # mail's line ends aside
    assert "earlier edition" not in html


def test_corrections_carry_the_correction_request(issued, smtp):
    use_server(issued, smtp.port)
    returned = filled(issued, OTHER, {1: "comfortable"})
    drop(issued, "half.xlsx", returned)
    nightly(issued)
    report = send(issued, "corrections")
    assert [(r["recipient"], r["status"]) for r in report["results"]] == [(OTHER, "sent")]
    message = parsed(smtp.received()[0][1])
    body = message.get_body(("plain",)).get_content()
    assert "Perspective 2" in body and "no box is ticked" in body
    [attachment] = list(message.iter_attachments())  # their own return: fix the empty rows, send it back
    assert attachment.get_filename() == "half.xlsx" and attachment.get_content() == returned


def test_a_correction_for_a_replaced_form_attaches_a_fresh_copy_of_the_current_one(issued, smtp):
    """A return on a form that was replaced (or another round's, or altered) cannot be fixed in place:
    the correction attaches the form the leader should use now."""
    from tests.conftest import issue_forms_here

    old = filled(issued, OTHER, {n: "comfortable" for n in range(1, 8)})
    issue_forms_here(issued, reissue=(OTHER,))
    drop(issued, "old.xlsx", old)
    nightly(issued)
    use_server(issued, smtp.port)
    report = send(issued, "corrections")
    assert [(r["recipient"], r["status"]) for r in report["results"]] == [(OTHER, "sent")]
    [attachment] = list(parsed(smtp.received()[0][1]).iter_attachments())
    current = active_forms(open_state(issued / "state" / "clb.sqlite"), "2026-Q4")[OTHER]
    assert attachment.get_content() == (issued / current.path).read_bytes() != old
    assert attachment.get_filename().startswith("CLB0.01 form - ")


def test_rate_limit_spaces_the_messages(issued, smtp):
    use_server(issued, smtp.port, rate_per_minute=60)
    moments = iter(float(n) * 0.1 for n in range(1000))
    waits: list[float] = []
    send(issued, "invitations", sleep=waits.append, clock=lambda: next(moments))
    assert len(waits) == 14 and all(0.85 <= wait <= 1.0 for wait in waits)


def test_credentials_come_only_from_the_environment_and_never_reach_the_log(issued, tmp_path, monkeypatch):
    from tests.conftest import SmtpServer

    server = SmtpServer(tmp_path / "auth", "--auth", "clb:s3cret-pass")
    try:
        use_server(issued, server.port)
        monkeypatch.setenv("CLB_SMTP_USERNAME", "clb")
        monkeypatch.setenv("CLB_SMTP_PASSWORD", "s3cret-pass")
        report = send(issued, "invitations")
        assert {r["status"] for r in report["results"]} == {"sent"}
        assert all(envelope["authenticated"] for envelope, _ in server.received())
        monkeypatch.setenv("CLB_SMTP_PASSWORD", "wrong")
        failed = send(issued, "invitations", resend=True)
        assert failed["results"][0]["status"] == "refused" and "refused the login" in failed["results"][0]["response"]
        assert "wrong" not in str(failed) and "s3cret" not in str(report)
        assert "s3cret" not in (issued / "config" / "partnership.yaml").read_text()
    finally:
        server.stop()


def test_starttls_with_a_private_certificate_authority(issued, tmp_path):
    from tests.conftest import SmtpServer

    cert, key = self_signed(tmp_path)
    server = SmtpServer(tmp_path / "tls", "--cert", str(cert), "--key", str(key))
    try:
        use_server(issued, server.port, security="starttls", ca_file=str(cert))
        report = send(issued, "invitations")
        assert {r["status"] for r in report["results"]} == {"sent"}
        assert all(envelope["tls"] for envelope, _ in server.received())
        use_server(issued, server.port, security="starttls")  # the system's authorities do not know it
        refused = send(issued, "invitations", resend=True)
        assert refused["results"][0]["status"] == "deferred"
    finally:
        server.stop()


def self_signed(folder: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.parametrize("kind", ["invitations", "reminders", "letters", "corrections"])
def test_every_kind_has_help_and_a_flow(kind):
    from pipeline.flows import SEND_FLOWS

    assert SEND_FLOWS[kind].name == f"send-{kind}"


def test_status_shows_each_leaders_progress(issued, smtp):
    from pipeline.mail.status import leader_status, totals

    use_server(issued, smtp.port)
    send(issued, "invitations")
    drop(issued, "back.xlsx", filled(issued, LEADER))
    drop(issued, "broken.xlsx", filled(issued, OTHER, {1: "comfortable"}))
    nightly(issued, close=False)
    send(issued, "corrections")
    today = dt.date.today()
    send(issued, "reminders", today=today + dt.timedelta(days=7))  # a week on: OTHER too, told what they sent
    nightly(issued, close=True)
    send(issued, "letters")
    rows = {
        row.email: row
        for row in leader_status(open_state(issued / "state" / "clb.sqlite"), load_config(issued / "config"))
    }
    assert rows[LEADER].returned == today.isoformat() and rows[LEADER].reminders == 0
    assert (rows[LEADER].letter, rows[LEADER].letter_date) == ("sent", today.isoformat())
    assert rows[OTHER].quarantined == 1 and rows[OTHER].reminders == 1
    assert rows[OTHER].last_reminder == today.isoformat()  # when it went
    assert totals(list(rows.values())) == {
        "leaders": 15,
        "issued": 15,
        "invited": 15,
        "reminded": 14,
        "returned": 1,
        "with quarantined files": 1,
        "letter sent": 1,
        "letter drafted": 0,
    }


def tracker(root: Path) -> dict[str, str]:
    """The facilitator workbook's Response tracker: each leader's detail, by email."""
    import openpyxl

    book = openpyxl.load_workbook(root / "outbox" / "reports" / "2026-Q4" / "comparison-2026-Q4-facilitator.xlsx")
    rows = book["Response tracker"].iter_rows(values_only=True)
    return {str(row[2]): str(row[-1]) for row in rows if row[2] and "@" in str(row[2])}


def test_a_drafted_message_is_never_called_sent_until_the_facilitator_says_so(issued):
    """No SMTP host: letters are drafts. clb status, the round page and the tracker say drafted; the
    facilitator sends them from Outlook and records it with clb send letters --mark-sent."""
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.mail.status import leader_status, totals

    send(issued, "invitations")
    drop(issued, "back.xlsx", filled(issued, LEADER))
    drop(issued, "broken.xlsx", filled(issued, OTHER, {1: "comfortable"}))
    nightly(issued, close=True)
    send(issued, "letters")
    send(issued, "corrections")  # the round page and the tracker say so at once, not after a night

    def rows() -> dict:
        engine = open_state(issued / "state" / "clb.sqlite")
        return {row.email: row for row in leader_status(engine, load_config(issued / "config"))}

    assert (rows()[LEADER].letter, rows()[LEADER].invitation) == ("drafted", "drafted")
    assert totals(list(rows().values()))["letter sent"] == 0
    name = next(leader.name for leader in load_config(issued / "config").roster if leader.id == LEADER)
    people = leaders_on_page(issued)
    assert people[name][4].startswith("drafted on") and "sent on" not in people[name][4]
    unsent = [item for item in needs_on_page(issued) if item.startswith("Corrections not sent")]
    assert unsent == ["Corrections not sent (1)"]
    shown = CliRunner().invoke(app, ["status", "--workspace", str(issued)], env={"COLUMNS": "120"})
    assert "drafted" in shown.output and "sent " not in shown.output, shown.output
    assert tracker(issued)[LEADER].endswith("; letter drafted")
    assert tracker(issued)[OTHER].endswith("correction drafted")
    marked = CliRunner().invoke(app, ["send", "letters", "--mark-sent", "--workspace", str(issued)])
    assert marked.exit_code == 0 and "1 drafted letters recorded as sent" in marked.output
    assert rows()[LEADER].letter == "sent" and rows()[OTHER].letter == ""
    assert leaders_on_page(issued)[name][4].startswith("sent on")  # at once, too
    assert tracker(issued)[LEADER].endswith("; letter sent")
    assert rows()[LEADER].invitation == "drafted"  # only the kind named
    assert send(issued, "letters")["results"] == []  # nothing drafted twice


def test_letters_wait_for_the_close_unless_asked_now_with_a_warning(issued):
    for leader in (LEADER, OTHER):
        drop(issued, f"{leader}.xlsx", filled(issued, leader, MIXED))
    nightly(issued)
    held = send(issued, "letters")
    assert held["results"] == [] and len(held["skipped"]) == 2 and held["warning"] == ""
    assert held["skipped"][0]["why"] == "the round is open: letters go once it closes (clb close), or now with --now"
    early = send(issued, "letters", early=True)
    assert [r["status"] for r in early["results"]] == ["drafted"] * 2
    assert early["warning"].startswith("The round is still open and 13 leaders have not returned a form")
    nightly(issued, close=True)
    final = send(issued, "letters")
    assert final["warning"] == "" and final["skipped"] == []


def test_a_long_name_with_a_comma_stays_one_recipient(workspace, write_roster, smtp):
    """Folding the To: header at 78 characters dropped the quotes round a display name with a comma, so
    mail clients showed a second, bogus recipient. Both the wire and the .eml keep one."""
    from tests.conftest import issue_forms_here

    name = "Professor Elizabeth Alexandra Windsor-Mountbatten, Chief Executive of the Riverside Trust"
    write_roster([["Riverside Council", name, "liz@riverside.example", "Chief Executive"]])
    issue_forms_here(workspace)
    send(workspace, "invitations", dry_run=True)
    [draft] = (workspace / "outbox" / "mail" / "dry-run" / "invitation").rglob("*.eml")
    use_server(workspace, smtp.port)
    send(workspace, "invitations")
    [(envelope, raw)] = smtp.received()
    assert envelope["rcpt_tos"] == ["liz@riverside.example"]
    for data in (draft.read_bytes(), raw):
        addresses = parsed(data)["To"].addresses
        assert [(a.display_name, a.addr_spec) for a in addresses] == [(name, "liz@riverside.example")]


def test_a_version_1_database_is_brought_up_to_date_once(tmp_path):
    """Schema 1 stored the first releases' words for drafts and refusals; opening it translates them once
    (schema 2), and adds the columns this release's tables have gained."""
    import sqlite3

    from pipeline.state import SCHEMA_VERSION, database, mail_records

    path = tmp_path / "clb.sqlite"
    with database(path):
        pass
    raw = sqlite3.connect(path)
    raw.execute("update meta set value = '1' where key = 'schema_version'")
    raw.execute("alter table fetched drop column authentication")
    rows = [("written", "a@x.example"), ("failed", "b@x.example"), ("sent", "c@x.example")]
    for status, leader in rows:
        raw.execute(
            "insert into mail (kind, round, leader_id, recipient, item, message_id, status, attempts, created_at)"
            " values ('invitation', 'R', ?, ?, 't', '<m>', ?, 1, '2026-01-01')",
            (leader, leader, status),
        )
    raw.commit()
    raw.close()
    with database(path) as engine:
        assert [record.status for record in mail_records(engine, "R")] == ["drafted", "refused", "sent"]
        version = engine.connect().exec_driver_sql("select value from meta where key = 'schema_version'").scalar()
        assert int(version) == SCHEMA_VERSION == 2
        columns = [row[1] for row in engine.connect().exec_driver_sql("pragma table_info(fetched)")]
        assert "authentication" in columns
    raw = sqlite3.connect(path)
    assert {row[0] for row in raw.execute("select status from mail")} == {"drafted", "refused", "sent"}


def test_one_current_draft_per_leader_and_kind_named_by_the_leader(issued):
    """A draft sent again replaces the leader's current draft, which moves to superseded/ and is never
    marked sent; --mark-sent --to marks one leader's; clb forget finds drafts by address, not name."""
    from pipeline.privacy.forget import drafts_to
    from pipeline.stages import mark_sent

    config = load_config(issued / "config")
    priya = next(leader for leader in config.roster if leader.email == LEADER)
    folder = issued / "outbox" / "mail" / "invitation"
    send(issued, "invitations")
    current = folder / priya.organisation / f"{priya.name}.eml"
    assert len(list(folder.rglob("*.eml"))) == 15 and current.is_file()
    first = current.read_bytes()
    again = send(issued, "invitations", resend=True)
    assert {r["response"] for r in again["results"] if r["recipient"] == LEADER} == {
        f"drafted as {priya.organisation}/{priya.name}.eml"
    }
    [moved] = (folder / "superseded" / priya.organisation).glob(f"{priya.name} *.eml")
    assert moved.read_bytes() == first and len(list((folder / "superseded").rglob("*.eml"))) == 15
    assert len([p for p in folder.rglob("*.eml") if "superseded" not in p.parts]) == 15
    records = mail_records(open_state(issued / "state" / "clb.sqlite"), "2026-Q4", "invitation")
    assert sorted(r.status for r in records) == ["drafted"] * 15 + ["superseded"] * 15
    old = next(r for r in records if r.leader_id == LEADER and r.status == "superseded")
    assert old.response == f"superseded: drafted as superseded/{priya.organisation}/{moved.name}"

    assert mark_sent(Workspace.at(issued), "invitations", [LEADER.upper()]) == 1
    assert mark_sent(Workspace.at(issued), "invitations") == 14  # the superseded drafts were never sent
    assert drafts_to(issued / "outbox" / "mail", LEADER) == {current, moved}


def test_to_some_leaders_only_and_a_sample_to_the_facilitator_first(issued, smtp):
    """--to (an address, or the pseudonym the flow is given) sends, sends again or marks only those
    leaders'; --test-to sends one sample, addressed and titled as a test, and records nothing."""
    from pipeline.stages import pseudonyms, send_test

    use_server(issued, smtp.port)
    space = Workspace.at(issued)
    one = send(issued, "invitations", to=[LEADER.upper()])
    assert [r["recipient"] for r in one["results"]] == [LEADER] and one["skipped"] == []
    hidden = list(pseudonyms(space, [OTHER]))
    assert hidden != [OTHER] and [r["recipient"] for r in send(issued, "invitations", to=hidden)["results"]] == [OTHER]
    again = send(issued, "invitations", resend=True, to=[OTHER, "nobody@example.org"])
    assert [r["recipient"] for r in again["results"]] == [OTHER]
    assert again["skipped"] == [{"leader_id": "nobody@example.org", "why": "not on the roster"}]
    assert len(send(issued, "invitations")["results"]) == 13

    drop(issued, "back.xlsx", filled(issued, LEADER, MIXED))
    nightly(issued, close=True)
    before = len(mail_records(open_state(issued / "state" / "clb.sqlite"), "2026-Q4"))
    whose, said = send_test(space, "letters", "sam@example.org")
    assert whose == "Priya Raman" and said.startswith("250")
    envelope, raw = smtp.received()[-1]
    sample = parsed(raw)
    assert envelope["rcpt_tos"] == ["sam@example.org"] and "[test: as Priya Raman would get it]" in sample["Subject"]
    assert "YOUR ANSWERS" in sample.get_body(("plain",)).get_content()
    assert len(mail_records(open_state(issued / "state" / "clb.sqlite"), "2026-Q4")) == before  # nothing recorded
    assert send(issued, "letters")["results"][0]["recipient"] == LEADER  # the real one still goes
    with pytest.raises(ValueError, match="is not an email address"):
        send_test(space, "letters", "sam at example")


def test_a_sample_draft_from_the_command_line(issued):
    from typer.testing import CliRunner

    from pipeline.cli import app

    shown = CliRunner().invoke(
        app, ["send", "invitations", "--test-to", "sam@example.org", "--workspace", str(issued)], env={"COLUMNS": "200"}
    )
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())
    assert "Sample of invitations, as Priya Raman would get it, to sam@example.org: drafted as sam@" in said
    [draft] = (issued / "outbox" / "mail" / "test" / "invitation").glob("*.eml")
    assert parsed(draft.read_bytes())["To"].addresses[0].addr_spec == "sam@example.org"
    assert mail_records(open_state(issued / "state" / "clb.sqlite"), "2026-Q4") == []
    from pipeline.privacy.forget import drafts_to

    assert drafts_to(issued / "outbox" / "mail", LEADER) == {draft}  # clb forget finds whose sample it is


def test_drafts_replaced_within_one_second_are_numbered_in_their_leaders_folder(tmp_path):
    """Three drafts for one leader in one second (a night's correction, then two more: found by the
    hostile-inbox test): the two replaced go to superseded/<organisation>/, the second numbered, none lost."""
    from email.message import EmailMessage

    from pipeline.mail.transport import EmlTransport

    transport = EmlTransport(tmp_path, {"priya@x.example": "Riverside City Council/Priya Raman"})
    for n in range(3):
        mail = EmailMessage()
        mail["X-CLB-Kind"], mail["Subject"] = "correction", f"draft {n}"
        mail.set_content(f"body {n}")
        transport.send(mail, "facilitator@x.example", "priya@x.example")
    folder = tmp_path / "correction" / "superseded" / "Riverside City Council"
    kept = sorted(folder.glob("Priya Raman *.eml"), key=lambda p: len(p.name))
    assert len(kept) == 2 and kept[1].stem == kept[0].stem + " 2"  # the second numbered beside the first
    subjects = {p.read_text().split("Subject: ")[1].split("\n")[0] for p in kept}
    assert subjects == {"draft 0", "draft 1"}
    assert "draft 2" in (tmp_path / "correction" / "Riverside City Council" / "Priya Raman.eml").read_text()
