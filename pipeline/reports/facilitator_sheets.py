"""The facilitator edition's own sheets: every response, the response tracker, the quarantine, the
user log, and earlier rounds compared. Everything from a return is written as text."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from openpyxl import Workbook

from pipeline.pagefit import split_to_rows
from pipeline.reports.aggregate import tally
from pipeline.reports.charts import (
    figure_widths,
)
from pipeline.reports.data import RoundData
from pipeline.reports.figures import figure_row
from pipeline.reports.org_sheets import figure_table
from pipeline.reports.sheets import table, title


def minute(text: str) -> str:
    """A time as people read it in a table: "2026-11-29 06:00", in UTC."""
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def responses_sheet(workbook: Workbook, data: RoundData, labels: dict[str, str]) -> None:
    sheet = workbook.create_sheet("Responses")
    numbers = [p.number for p in data.instrument.perspectives]
    widths = [22, 24, *[11] * len(numbers), 12, 30, 66]
    top = title(sheet, "Responses: one row per leader (their current accepted return)", [], widths[:9])
    row_title = data.instrument.row_title
    headers = ["Leader", "Organisation", *[f"{row_title} {n}" for n in numbers], "Received (UTC)", "File", "sha256"]
    rows = [
        [
            a.name,
            a.organisation,
            *[labels.get(a.answers.get(n) or "", "") for n in numbers],
            minute(a.received_at),
            a.file,
            a.sha256,
        ]
        for a in sorted(data.answers, key=lambda a: (a.organisation, a.name))
    ]
    table(sheet, top, headers, rows, "Responses", widths, stream=True)


TRACKER_REASONS = 5  # a leader's quarantine reasons shown in the tracker; the Quarantine sheet has them all


def tracker_sheet(workbook: Workbook, data: RoundData) -> None:
    sheet = workbook.create_sheet("Response tracker")
    widths = [22, 24, 30, 11, 12, 50]
    top = title(sheet, "Response tracker: who still needs chasing", [], widths)
    accepted = {a.leader_id: a for a in data.answers}
    reasons: dict[str, list[str]] = defaultdict(list)
    probable = set()  # sent a file from their address that holds no form: the facilitator looks at it
    for item in data.quarantined:
        if item["leader_id"] and item["code"]:
            reasons[item["leader_id"]].append(f"{item['file']}: {item['message']}")
            if item["code"] == "probably-from":
                probable.add(item["leader_id"])
    rows = []
    for leader in sorted(data.roster, key=lambda item: (item.organisation, item.name)):
        form = data.issued.get(leader.id)
        sent = data.mail.get(leader.id, {})
        if leader.id in accepted:
            status, detail = "returned", f"accepted {accepted[leader.id].received_at[:10]}"
            if "letter" in sent:
                detail += f"; letter {sent['letter']}"
            for note in data.senders.get(leader.id, [])[-1:]:  # the latest: who mailed it, when not the leader
                detail += f"\n{note}"
        elif leader.id in reasons:
            found = reasons[leader.id]
            more = len(found) - TRACKER_REASONS
            status = "needs you" if leader.id in probable else "quarantined"
            detail = "\n".join(found[:TRACKER_REASONS]) + (
                f"\n… and {more} more on the Quarantine sheet" if more > 0 else ""
            )
            detail += f"\ncorrection {sent['correction']}" if "correction" in sent else "\ncorrection not sent yet"
        elif form is not None:
            status, detail = "outstanding", "no return yet"
        else:
            status, detail = "not issued", "run clb forms"
        rows.append(
            [leader.name, leader.organisation, leader.email, form.issued_at[:10] if form else "", status, detail]
        )
    table(
        sheet,
        top,
        ["Leader", "Organisation", "Email", "Form issued", "Status", "Details"],
        rows,
        "Tracker",
        widths,
        stream=True,
    )


def quarantine_sheet(workbook: Workbook, data: RoundData) -> None:
    """What a facilitator acts on comes first (file, leader, problem, fix), so that it prints on the first
    page; the cell and the file's fingerprint follow."""
    sheet = workbook.create_sheet("Quarantine")
    widths = [12, 24, 24, 16, 38, 38, 18, 14, 66]
    top = title(sheet, "Quarantine: every file that was not accepted, with each problem", [], widths[:6])
    rows = [
        [
            minute(q["received_at"]),
            q["file"],
            q["leader_id"] or "",
            q["code"] or "",
            q["message"] or "",
            q["fix"] or "",
            q["cell"] or "",
            q["name"] or "",
            q["sha256"],
        ]
        for q in data.quarantined
    ]
    table(
        sheet,
        top,
        ["Received (UTC)", "File", "Leader", "Code", "Problem", "What to do", "Cell", "Name", "sha256"],
        rows,
        "Quarantine",
        widths,
        stream=True,
        repeat_columns=2,
    )


LOG_WIDTH = 28  # each user-log column: about five words a line, however long the text


def user_log_sheet(workbook: Workbook, data: RoundData) -> None:
    """What leaders wrote, in columns of a fixed, readable width. A text longer than the tallest row a
    spreadsheet allows goes on in the rows below it, marked as continued, so that nothing is cut off."""
    sheet = workbook.create_sheet("User log")
    columns = data.instrument.user_log
    widths = [20, 20, 7, *[LOG_WIDTH] * len(columns)]
    top = title(sheet, "User log: what leaders wrote (kept as text)", [], widths)
    rows: list[list[Any]] = []
    for a in sorted(data.answers, key=lambda a: (a.organisation, a.name)):
        for line, entry in enumerate(a.log, start=1):
            parts = [split_to_rows(entry.get(c.key, ""), LOG_WIDTH) for c in columns]
            for index in range(max(len(part) for part in parts)):
                rows.append(
                    [
                        a.name,
                        a.organisation,
                        line if index == 0 else f"{line} (cont.)",
                        *[part[index] if index < len(part) else "" for part in parts],
                    ]
                )
    table(
        sheet,
        top,
        ["Leader", "Organisation", "Line", *[c.label for c in columns]],
        rows,
        "UserLog",
        widths,
        stream=True,
    )


def rounds_compared_sheet(workbook: Workbook, data: RoundData) -> None:
    """Every round's totals side by side, per row: counted from the answers, or for a round whose answers
    the retention policy has removed, from the totals kept then."""
    sheet = workbook.create_sheet("Rounds compared")
    instrument, keys = data.instrument, [t.key for t in data.instrument.ticks]
    rounds = [*sorted(data.rounds.items()), (data.round, tally(a.answers for a in data.answers))]
    widths = figure_widths((12, 11), len(keys))
    top = title(
        sheet,
        f"Every round's totals, per {instrument.row_noun}",
        [
            "Counts of leaders per answer in each round (their latest accepted return); earlier rounds stay "
            "here after the retention policy has removed their leaders' answers.",
        ],
        widths,
    )
    rows = [
        figure_row(round_id, p.number, [totals.get((p.number, key), 0) for key in keys])
        for round_id, totals in rounds
        for p in instrument.perspectives
    ]
    figure_table(sheet, top, "Round", data, rows, "RoundsCompared", widths)


def rounds_sheet(workbook: Workbook, data: RoundData, labels: dict[str, str]) -> None:
    sheet = workbook.create_sheet("Rounds")
    widths = [22, 24, 12, 11, 14, 14, 30]
    top = title(
        sheet,
        "Movement since each leader's previous round",
        [
            "Only leaders who answered an earlier round appear here." if data.earlier else "No earlier rounds yet.",
        ],
        widths,
    )
    rows = []
    for a in sorted(data.answers, key=lambda a: (a.organisation, a.name)):
        before = data.earlier.get(a.leader_id)
        if before is None:
            continue
        for p in data.instrument.perspectives:
            then, now = before["answers"].get(p.number), a.answers.get(p.number)
            movement = "no change" if then == now else f"{labels.get(then or '', '-')} → {labels.get(now or '', '-')}"
            rows.append(
                [
                    a.name,
                    a.organisation,
                    before["round"],
                    p.number,
                    labels.get(then or "", ""),
                    labels.get(now or "", ""),
                    movement,
                ]
            )
    table(
        sheet,
        top,
        ["Leader", "Organisation", "Earlier round", data.instrument.row_title, "Then", "Now", "Movement"],
        rows,
        "Rounds",
        widths,
        stream=True,
    )
