"""Chasing politely: whom a reminder may go to today, and what it says they sent before. Plain rules over
the round's sent log and its returns, read once for all leaders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipeline.settings import MailSettings
from pipeline.state import (
    DONE,
    Engine,
    MailRecord,
    MailStatus,
    correction_requests,
    current_responses,
    held_receipts,
    quarantined_files,
    round_closed,
)
from pipeline.text import deadline_text


@dataclass
class Chase:
    """What reminders are decided from: chase politely. A reminder goes only to a leader invited at least
    ``reminder_after_days`` ago (sent, or marked sent: a draft nobody sent is no invitation), at most every
    ``reminder_every_days``, never after the round's close, and never while a return of theirs waits for
    their word or for a correction we have not sent or sent only lately. It says what they sent before."""

    mail: MailSettings
    log: dict[tuple[str, str, str], MailRecord]  # the round's sent log: (kind, leader, item) -> record
    today: dt.date
    resend: bool
    accepted: set[str]
    closed: str
    held: dict[str, str]  # leader -> when the return awaiting their word came
    quarantined: dict[str, str]  # leader -> when their latest quarantined return came
    corrections: dict[str, list[MailRecord | None]]  # leader -> the mail of each correction request

    @classmethod
    def read(
        cls,
        engine: Engine,
        round_id: str,
        mail: MailSettings,
        log: dict[tuple[str, str, str], MailRecord],
        today: dt.date,
        resend: bool,
    ) -> Chase:
        closed = round_closed(engine, round_id)
        quarantined: dict[str, str] = {}
        for problem in quarantined_files(engine, round_id):
            if problem["leader_id"]:
                quarantined[problem["leader_id"]] = max(
                    quarantined.get(problem["leader_id"], ""), problem["received_at"]
                )
        corrections: dict[str, list[MailRecord | None]] = {}
        for request in correction_requests(engine, round_id):
            done = log.get(("correction", request.leader_id, str(request.id)))
            corrections.setdefault(request.leader_id, []).append(done if done and done.status in DONE else None)
        return cls(
            mail,
            log,
            today,
            resend,
            set(current_responses(engine, round_id)),
            closed.at[:10] if closed else "",
            {held.leader_id: held.received_at for held in held_receipts(engine, round_id)},
            quarantined,
            corrections,
        )

    def _mine(self, leader_id: str, kind: str, status: tuple[str, ...]) -> list[MailRecord]:
        return [
            r
            for r in self.log.values()
            if r.leader_id == leader_id and r.kind == kind and r.status in status and r.sent_at
        ]

    def why_not(self, leader_id: str) -> str:
        """Why this leader is not reminded today, or "" when they are."""
        mail, today, resend = self.mail, self.today, self.resend
        if self.closed:
            return f"the round closed on {self.closed}: no reminders after the close"
        sent = self._mine(leader_id, "invitation", (MailStatus.SENT.value,))
        if not sent:
            if self._mine(leader_id, "invitation", (MailStatus.DRAFTED.value,)):
                return "the invitation is only a draft: send it, then clb send invitations --mark-sent"
            return "not invited yet (clb send invitations)"
        invited = max(dt.date.fromisoformat(r.sent_at[:10]) for r in sent if r.sent_at)
        first = invited + dt.timedelta(days=mail.reminder_after_days)
        if first > today and not resend:
            return f"invited on {invited}: the first reminder goes from {first} (reminder_after_days)"
        if leader_id in self.held:
            return f"a return from them ({self.held[leader_id][:10]}) waits for their word: see clb status"
        asked = self.corrections.get(leader_id, [])  # a quarantined file with no correction waits for none
        if leader_id in self.quarantined and asked:  # (one clb assign placed with them, say)
            if any(record is None for record in asked):
                return "their return is quarantined and its correction is not sent yet: clb send corrections"
            last = max(record.sent_at[:10] for record in asked if record and record.sent_at)
            if dt.date.fromisoformat(last) + dt.timedelta(days=mail.reminder_every_days) > today and not resend:
                return f"asked on {last} to correct their return"
        reminded = self._mine(leader_id, "reminder", DONE)  # a reminder's item is the day it was for
        last_reminder = max((r.item for r in reminded), default=None)
        every = dt.timedelta(days=mail.reminder_every_days)
        if last_reminder and dt.date.fromisoformat(last_reminder[:10]) + every > today and not resend:
            return f"reminded on {last_reminder[:10]}"
        return ""

    def already(self, leader_id: str) -> str:
        """What the reminder says they sent before: a return we could not accept, and our reply."""
        if leader_id not in self.quarantined:
            return ""
        came = deadline_text(dt.date.fromisoformat(self.quarantined[leader_id][:10]))
        asked = [r.sent_at[:10] for r in self.corrections.get(leader_id, []) if r and r.sent_at]
        wrote = f"; we wrote on {deadline_text(dt.date.fromisoformat(max(asked)))} to say what to fix" if asked else ""
        return f"We received a form from you on {came}, but could not accept it{wrote}."
