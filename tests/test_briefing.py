"""The partnership briefing: one page for partners from the shareable figures alone. It names no one, shows
exactly the CSV's counts (withheld where it withholds), counts the practices from them, shows movement
only where both rounds were published, and is printed to one A4 page by the real browser."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from pathlib import Path

import pypdf
import pytest

from pipeline.config import load_config
from tests.conftest import issue_forms_here
from tests.html_tables import read_page, table
from tests.intake_helpers import drop, filled, forms, nightly

ROUND = "2026-Q4"
ANSWERS = ("comfortable", "stretched", "panicked")


def briefing(root: Path, round_id: str = ROUND) -> Path:
    return root / "outbox" / "reports" / round_id / f"briefing-{round_id}.html"


def csv_counts(root: Path, round_id: str = ROUND) -> dict[int, list[str]]:
    """Per perspective, the CSV's counts in the answers' order ('' where withheld)."""
    path = root / "outbox" / "reports" / round_id / f"comparison-{round_id}-shareable.csv"
    found: dict[int, list[str]] = {}
    for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
        found.setdefault(int(row["perspective"]), []).append(row["count"])
    return found


def returns(root: Path, people: list[str], shift: int = 0, night: str = "n") -> None:
    for index, leader in enumerate(people):
        choices = {number: ANSWERS[(index * number + shift) % 3] for number in range(1, 8)}
        drop(root, f"{night} {index}.xlsx", filled(root, leader, choices, log_project=f"secret plan {index}"))


def test_nothing_before_the_close_then_the_csv_counts_and_no_one_named(issued):
    people = sorted(forms(issued))
    returns(issued, people[:12])
    nightly(issued)
    rows = table(briefing(issued), "Leaders per answer")
    assert all(row[1] == "not published yet" for row in rows[1:])  # figures wait for the close

    nightly(issued, close=True)
    page = briefing(issued).read_text(encoding="utf-8")
    roster = load_config(issued / "config").roster
    for leader in roster:
        assert leader.name not in page and leader.email not in page and leader.organisation not in page
    assert "secret plan" not in page
    counts = csv_counts(issued)
    rows = {int(row[0].split(".")[0]): row[1:] for row in table(briefing(issued), "Leaders per answer")[1:]}
    for number, shown in rows.items():
        if "" in counts[number]:
            assert shown == ["withheld"]
        else:
            assert shown[:3] == counts[number] and shown[3] == str(sum(map(int, counts[number])))
    described = read_page(briefing(issued)).text  # the chart says the same in words, for screen readers
    assert any(f"1. {load_config(issued / 'config').instrument.perspectives[0].statement}: " in t for t in described)


def test_the_practices_are_counted_from_the_published_counts(issued):
    from pipeline.reports.letters import load_practices

    people = sorted(forms(issued))
    returns(issued, people[:12])
    nightly(issued, close=True)
    config = load_config(issued / "config")
    practices = load_practices(issued / "config" / "practices.yaml", config.instrument)
    counts = csv_counts(issued)
    expected: dict[int, int] = {}
    for number, values in counts.items():
        if "" not in values:
            outside = sum(map(int, values[1:]))  # stretched and a bit panicked: outside the comfort zone
            for practice in practices[number]:
                expected[practice] = expected.get(practice, 0) + outside
    text = " ".join(read_page(briefing(issued)).text)
    top = sorted(expected, key=lambda n: (-expected[n], n))[:3]
    words = {p.number: p.text for p in config.instrument.practices}
    for number in top:
        assert re.search(re.escape(words[number]) + r" \(suggested for [^)]*where " + str(expected[number]), text)


def test_movement_only_where_both_rounds_were_published(issued, edit_settings):
    people = sorted(forms(issued))
    returns(issued, people[:12])
    nightly(issued, close=True)
    before = csv_counts(issued)
    edit_settings(round="2027-Q1", deadline="2099-03-31")
    issue_forms_here(issued)
    returns(issued, people[:12], shift=1, night="second")
    nightly(issued, close=True)
    now = csv_counts(issued, "2027-Q1")
    rows = table(briefing(issued, "2027-Q1"), "Leaders comfortable, then and now")
    shown = {int(row[0].split(".")[0]): row[1:] for row in rows[1:]}
    published_both = {n for n in now if "" not in now[n] and "" not in before[n]}
    assert set(shown) == published_both and shown
    for number, (then, current, change) in shown.items():
        was, total_then = int(before[number][0]), sum(map(int, before[number]))
        is_, total_now = int(now[number][0]), sum(map(int, now[number]))
        assert then.startswith(f"{was} of {total_then}") and current.startswith(f"{is_} of {total_now}")
        points = round(100 * is_ / total_now) - round(100 * was / total_then)
        assert change == f"{'+' if points > 0 else ''}{points} points"


@pytest.mark.clients
def test_the_pdf_is_the_page_printed_by_the_browser_on_one_a4_page(issued, monkeypatch):
    from tests.browser import chromium_path

    monkeypatch.setenv("CLB_BROWSER", chromium_path())
    people = sorted(forms(issued))
    returns(issued, people[:12])
    nightly(issued)  # before the close nothing is published: a page of "not published yet", no PDF
    pdf_path = briefing(issued).with_suffix(".pdf")
    assert briefing(issued).exists() and not pdf_path.exists()
    report = nightly(issued, close=True)
    assert f"outbox/reports/{ROUND}/briefing-{ROUND}.pdf" in report["outputs"]
    pdf = pypdf.PdfReader(pdf_path)
    assert len(pdf.pages) == 1 and [round(v) for v in pdf.pages[0].mediabox[2:]] == [595, 842]
    text = unicodedata.normalize("NFKC", pdf.pages[0].extract_text())  # the ligature "ﬁ" as "fi"
    assert "briefing, round 2026-Q4" in text
    assert not any(leader.name in text for leader in load_config(issued / "config").roster)
    made = pdf_path.stat().st_mtime_ns
    assert "briefing" not in " ".join(nightly(issued)["outputs"])  # nothing new: neither is made again
    assert pdf_path.stat().st_mtime_ns == made
