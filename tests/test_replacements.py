"""Whoever holds a leader's form cannot change their answers silently, through clb's commands (run in
this process: tests/commands.py), the real engine and a real Dovecot: a return that would replace a
leader's accepted one is held when it came from another address, or from theirs with the mail server
finding it forged; the leader is asked; it is accepted when they send it again themselves or the
facilitator says so (clb accept); and every replacement is news to its owner (a notice at their roster
address)."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from pipeline.state import current_responses, open_state
from tests.commands import clb
from tests.imap_server import Dovecot
from tests.intake_helpers import ALL_COMFORTABLE, LEADER, OTHER, filled
from tests.test_fetch import message, use_mailbox

pytestmark = pytest.mark.flow
PANICKED = dict.fromkeys(range(1, 8), "panicked")


@pytest.fixture
def mailbox(issued):
    server = Dovecot()
    use_mailbox(issued, server.port)
    yield server
    server.stop()


def night(root: Path, server: Dovecot) -> dict:
    done = clb("nightly", "-w", str(root), env=server.environ())
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return json.loads((root / "outbox" / "runs" / "latest.json").read_text())


def answers_now(root: Path) -> dict[int, str | None]:
    return current_responses(open_state(root / "state" / "clb.sqlite"), "2026-Q4")[LEADER].answers


def notices(root: Path) -> list[email.message.EmailMessage]:
    folder = root / "outbox" / "mail" / "notice"
    found = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(folder.rglob("*.eml"))
    ]
    return found  # type: ignore[return-value]


def test_a_replacement_from_another_address_is_held_until_its_leader_sends_it(issued, prefect_engine, mailbox):
    first = message(
        LEADER, "My form", [("CLB form.xlsx", filled(issued, LEADER, ALL_COMFORTABLE))], "<1@council.example>"
    )
    mailbox.append(first)
    report = night(issued, mailbox)
    assert [item["leader_id"] for item in report["accepted"]] == [LEADER]

    theirs = filled(issued, LEADER, PANICKED)  # Tom mails Priya's form with other answers
    mailbox.append(message(OTHER, "Priya's form", [("Priya CLB.xlsx", theirs)], "<2@council.example>"))
    report = night(issued, mailbox)
    [held] = report["quarantined"]
    assert held["leader_id"] == LEADER and [p["code"] for p in held["problems"]] == ["held-for-confirmation"]
    assert OTHER in held["problems"][0]["message"] and held["correction_request"]
    assert set(answers_now(issued).values()) == {"comfortable"}  # her answers stand
    correction = (issued / held["correction_request"]).read_text()
    assert "not from your own address" in correction and "send it to us again" in correction

    mailbox.append(message(LEADER, "Yes, mine", [("Priya CLB.xlsx", theirs)], "<3@council.example>"))
    report = night(issued, mailbox)
    [confirmed] = report["accepted"]
    assert confirmed["leader_id"] == LEADER and confirmed["notes"][0]["code"] == "held-for-confirmation"
    assert "sent it again from their own address" in confirmed["notes"][0]["message"]
    assert set(answers_now(issued).values()) == {"panicked"}
    [notice] = notices(issued)
    assert notice["To"].addresses[0].addr_spec == LEADER and "replaced" in notice["Subject"]
    text = notice.get_body(("plain",)).get_content()
    assert f"from {OTHER}, not from your own address" in text and "comfortable -> a bit panicked" in text
    assert "If it was not, please tell" in text


def test_a_forged_sender_is_held_and_the_facilitator_can_accept_it(issued, prefect_engine, mailbox):
    mailbox.append(message(LEADER, "My form", [("CLB form.xlsx", filled(issued, LEADER, ALL_COMFORTABLE))], "<1@x>"))
    night(issued, mailbox)
    forged = message(LEADER, "Updated", [("CLB form.xlsx", filled(issued, LEADER, PANICKED))], "<2@x>")
    results = b"Authentication-Results: mx.partnership.example; spf=fail smtp.mailfrom=council.example; dmarc=fail\r\n"
    mailbox.append(results + forged)
    report = night(issued, mailbox)
    [held] = report["quarantined"]
    assert "could not verify" in held["problems"][0]["message"]
    engine = open_state(issued / "state" / "clb.sqlite")
    evidence = engine.connect().exec_driver_sql("select authentication from fetched order by id").scalars().all()
    assert evidence[-1] == "spf=fail dmarc=fail"
    assert set(answers_now(issued).values()) == {"comfortable"}

    [copy] = [p for p in (issued / "outbox" / "quarantine").rglob("*.xlsx")]
    done = clb("accept", str(copy), "-w", str(issued))
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(answers_now(issued).values()) == {"panicked"}
    audit = [json.loads(line) for line in (issued / "state" / "audit.log").read_text().splitlines()]
    assert audit[-1]["action"] == "accept" and audit[-1]["details"]["sha256"] == held["sha256"]
    again = clb("accept", str(copy), "-w", str(issued))
    assert again.returncode == 2 and "not a return held for confirmation" in again.stderr
    night(issued, mailbox)
    [notice] = notices(issued)
    assert notice["To"].addresses[0].addr_spec == LEADER


def test_a_replacement_from_the_leaders_own_address_is_accepted_and_they_are_told(issued, prefect_engine, mailbox):
    mailbox.append(message(LEADER, "My form", [("CLB form.xlsx", filled(issued, LEADER, ALL_COMFORTABLE))], "<1@x>"))
    night(issued, mailbox)
    mailbox.append(message(LEADER, "Changed", [("CLB form.xlsx", filled(issued, LEADER, PANICKED))], "<2@x>"))
    report = night(issued, mailbox)
    [accepted] = report["accepted"]
    assert accepted["supersedes"] and report["notices"]["results"][0]["status"] == "drafted"
    [notice] = notices(issued)
    assert "It came by email from your own address." in notice.get_body(("plain",)).get_content()
    night(issued, mailbox)
    assert len(notices(issued)) == 1  # told once
