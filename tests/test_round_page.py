"""The facilitator's round page (outbox/round.html): its figures are clb status's and the workbooks', what
needs the facilitator is listed with the file to open, every link opens a file of the round (relative, so
the folder can move), nothing a roster or a leader supplied becomes markup, and it is theirs alone."""

from __future__ import annotations

import shutil
import stat
import warnings
from collections import Counter
from pathlib import Path

import openpyxl
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline import stages
from pipeline.cli import app
from pipeline.workspace import Workspace
from tests.html_tables import by_first_cell, leaders_on_page, link_targets, needs_on_page, round_page, table
from tests.intake_helpers import ALL_COMFORTABLE, MIXED, drop, filled, forms, nightly

ROUND = "2026-Q4"


def book(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(path)


def a_round_night(root: Path) -> list[str]:
    """Invitations drafted; five good returns (one from a leader named with markup), one quarantined, one
    file that is no form; the night."""
    with (root / "config" / "roster.csv").open("a", encoding="utf-8") as roster:
        roster.write("Council,<script>alert(1)</script> Smith,evil@x.example,\n")
    stages.issue_forms(Workspace.at(root))
    stages.send(Workspace.at(root), "invitations")
    people = sorted(forms(root))
    good = ["evil@x.example", *[p for p in people if p != "evil@x.example"][:4]]
    for index, leader in enumerate(good):
        drop(root, f"good {index}.xlsx", filled(root, leader, MIXED if index % 2 else ALL_COMFORTABLE))
    drop(root, "half #1?.xlsx", filled(root, people[-1], {1: "comfortable"}))  # quarantined: six ticks missing
    drop(root, "answers.xlsx", b"name,answer\nme,comfortable\n")  # no form, no sender: unplaced
    nightly(root)
    return good


def test_the_page_says_what_clb_status_and_the_workbooks_say(issued):
    good = a_round_night(issued)
    page = round_page(issued)
    assert stat.S_IMODE(page.stat().st_mode) & 0o077 == 0  # it names leaders: the owner's alone

    status = stages.status(Workspace.at(issued))
    assert status is not None
    standing = by_first_cell(table(page, "Leaders by organisation"))
    whole = dict(zip(standing["Organisation"], standing["All organisations"], strict=True))
    assert whole["Leaders"] == str(status.totals["leaders"]) == "16"
    assert whole["Forms issued"] == str(status.totals["issued"])
    assert whole["Accepted"] == str(status.totals["returned"]) == str(len(good))
    assert (whole["Returned"], whole["Quarantined"], whole["Waiting"], whole["Outstanding"]) == ("6", "1", "0", "10")
    said = " ".join(" ".join(row) for row in [[whole["Leaders"]]])
    assert said and f"leaders {status.totals['leaders']}, issued {status.totals['issued']}" in page.read_text()

    facilitator = book(issued / "outbox" / "reports" / ROUND / f"comparison-{ROUND}-facilitator.xlsx")
    tracker = [row for row in facilitator["Response tracker"].iter_rows(min_row=4, values_only=True) if row[0]]
    by_org = Counter((row[1], row[4]) for row in tracker)
    for organisation, row in standing.items():
        if organisation in ("Organisation", "All organisations"):
            continue
        counts = dict(zip(standing["Organisation"], row, strict=True))
        assert counts["Accepted"] == str(by_org[(organisation, "returned")]), organisation
        assert counts["Outstanding"] == str(by_org[(organisation, "outstanding")]), organisation
        assert counts["Quarantined"] == str(by_org[(organisation, "quarantined")]), organisation

    figures = table(page, "Leaders per answer, per perspective: yours beside partners'")
    summary = facilitator["Summary"]
    expected = {
        row[0]: [str(value) for value in row[2:5]]
        for row in summary.iter_rows(min_row=6, values_only=True)
        if isinstance(row[0], int)
    }
    for row in figures[2:]:
        number = int(row[0].split(".")[0])
        assert row[1:4] == expected[number]
        assert row[4] == "not published yet"  # partners' figures wait for the close

    people = leaders_on_page(issued)
    assert len(people) == 16 and [row[2] for row in people.values()].count("Outstanding") == 10
    assert all(row[3].startswith("drafted on") for row in people.values())  # as clb status: never "sent"
    needs = needs_on_page(issued)
    assert "Files we could not place (1)" in needs and "Corrections not sent (1)" in needs
    assert "Leaders to chase (10)" in needs and "Drafts not sent yet (1)" in needs  # one kind: invitations


def test_every_link_opens_a_file_of_the_round_and_the_folder_can_move(issued, tmp_path):
    a_round_night(issued)
    targets = link_targets(round_page(issued))
    assert len(targets) >= 16 + 16 + 5 + 5  # forms, invitation drafts, returns, letters at least
    assert all(target.exists() for target in targets), [t for t in targets if not t.exists()]
    inside = issued.resolve()
    assert all(target.is_relative_to(inside) for target in targets)
    quarantined = [t for t in targets if "quarantine" in t.parts and t.name.endswith("half #1-.xlsx")]
    assert quarantined and quarantined[0].read_bytes()[:2] == b"PK"  # "#" percent-encoded: the file itself
    moved = tmp_path / "elsewhere" / "riverside"
    shutil.copytree(issued, moved)
    assert all(target.exists() for target in link_targets(round_page(moved)))


def test_nothing_from_a_roster_or_a_return_becomes_markup(issued):
    a_round_night(issued)
    text = round_page(issued).read_text(encoding="utf-8")
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; Smith" in text


def test_every_send_and_mark_sent_makes_the_page_again(issued):
    a_round_night(issued)
    before = round_page(issued).read_bytes()
    marked = CliRunner().invoke(app, ["send", "invitations", "--mark-sent", "--workspace", str(issued)])
    assert marked.exit_code == 0, marked.output
    assert round_page(issued).read_bytes() != before
    people = leaders_on_page(issued)
    assert all(row[3].startswith("sent on") for row in people.values())
    assert not any(item.startswith("Drafts not sent yet") for item in needs_on_page(issued))
    again = round_page(issued).stat().st_mtime_ns
    nightly(issued)  # nothing new: the page is not written again
    assert round_page(issued).stat().st_mtime_ns == again


def test_clb_open_names_the_page_or_says_how_it_is_made(issued):
    shown = CliRunner().invoke(app, ["open", "--print", "--workspace", str(issued)])
    assert shown.exit_code == 2 and "no round page yet" in " ".join(shown.output.split())
    a_round_night(issued)
    shown = CliRunner().invoke(app, ["open", "--print", "--workspace", str(issued)])
    assert shown.exit_code == 0 and "round.html" in shown.output


NAMES = st.text(st.characters(blacklist_characters="/\x00"), min_size=1, max_size=12).filter(
    lambda name: name not in (".", "..")  # a folder's own entries, never a file's name
)


@example(["\udcff name"])  # a POSIX name that is not UTF-8: its byte kept as a surrogate
@example(["\ud800"])  # a Windows name with a lone surrogate
@example(["..x", ".hidden", "a."])  # names that only begin or end with dots are names like any other
@given(st.lists(NAMES, min_size=1, max_size=4))
def test_any_file_name_links_to_itself(segments):
    """A link is the path itself, percent-encoded: whatever a name holds ('#', '?', '%', spaces, accents),
    the browser opens that file and no other, and no quote or angle bracket reaches the markup raw."""
    from urllib.parse import quote_from_bytes, unquote_to_bytes, urljoin

    from pipeline.reports.round_page import PAGE, href

    def raw(text: str) -> bytes:
        try:
            return text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return text.encode("utf-8", "surrogatepass")

    path = "/".join(segments)
    link = href(path)
    assert not set(link) & set("\"'<> #?")
    assert unquote_to_bytes(link.removeprefix("../")) == raw(path)  # the name's own bytes, every one
    assert urljoin("http://x/" + PAGE, link) == "http://x/" + link.removeprefix("../")  # below the workspace
    assert link.removeprefix("../") == quote_from_bytes(raw(path), safe="/")
