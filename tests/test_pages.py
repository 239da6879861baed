"""The printed page, as people see it: the form, both workbook editions (every sheet) through real
LibreOffice and two letters through real Chromium, turned into PDF and read back with pdfplumber.

On every page: no text printed over other text, nothing cut off at a cell's or the page's edge, and a
print scale of at least 70%. For the example partnership, and for a stress case: the longest names,
organisations, roles and partnership name the configuration allows, long user logs (one longer than a
row can hold, one with a word longer than a column), and fifteen organisations of five leaders.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pipeline.config import load_config
from pipeline.pdf import html_to_pdf
from pipeline.settings import MAX_TEXT
from tests.browser import Chromium, chromium_path
from tests.conftest import EXAMPLE_CONFIG, example_workspace, issue_forms_here, roster_text
from tests.intake_helpers import drop, filled, forms, nightly
from tests.pages import Printed, libreoffice_pdfs, missing, overlaps, read_pdf, scales, workbook_words

pytestmark = pytest.mark.clients
MIN_SCALE = 0.70
SCREEN_LETTER_PT = 12.0  # a letter's body text on screen: 16 px
CHOICES = ["comfortable", "stretched", "panicked"]


def _long(start: str, words: list[str], length: int = MAX_TEXT) -> str:
    """``start`` and then ``words`` in turn, up to exactly ``length`` characters."""
    text, index = start, 0
    while len(text) < length:
        text += " " + words[index % len(words)]
        index += 1
    return text[:length].rstrip() + "x" * (length - len(text[:length].rstrip()))


def _stress_workspace(root: Path) -> Path:
    example_workspace(root)
    settings = yaml.safe_load((root / "config" / "partnership.yaml").read_text(encoding="utf-8"))
    settings["partnership"] = _long("Greater Riverside", ["and", "Upper", "Valley", "Community", "Safety", "Board"])
    settings["facilitator"]["name"] = _long("Dr", ["Alexandra-Josephine", "Montgomery-Fitzwilliam"], 60)
    settings["round"] = "2026-autumn-partnership-review-round-02"  # 40 characters, the most a round id may have
    settings["deadline"] = "2099-09-30"  # a Wednesday in September: the longest weekday and month names
    (root / "config" / "partnership.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    rows = []
    for org in range(15):
        organisation = _long(f"Organisation {org:02d} of the", ["Riverside", "Metropolitan", "Borough", "Council"])
        for person in range(5):
            name = _long(f"Leader {org:02d}-{person}", ["Bartholomew", "Wolstenholme-Featherstonehaugh", "Jr."])
            role = _long("Assistant Director of", ["Strategic", "Commissioning", "and", "Partnerships"])
            rows.append([organisation, name, f"leader.{org:02d}.{person}@organisation-{org:02d}.example", role])
    (root / "config" / "roster.csv").write_text(roster_text(rows), encoding="utf-8")
    issue_forms_here(root)
    prose = (
        "We used the tool at the start of the winter pressures planning cycle, with every partner around "
        "the table, and it helped us to name the tensions about pooled budgets that nobody had voiced. "
    )
    for index, leader in enumerate(sorted(forms(root))):
        choices = {n: CHOICES[(index + n) % 3] for n in range(1, 8)}
        log: dict[str, object] = {}
        if index % 5 == 0:
            log = {f"log_{key}": prose * 2 for key in ("project", "outcome", "happened", "differently")}
        if index == 1:
            log = {"log_happened": prose * 25, "log_outcome": "https://example.org/" + "a" * 160}
        if index == 2:
            log = {f"log_project{'' if line == 1 else f'_{line}'}": prose for line in range(1, 6)}
        if index in (3, 4):
            choices.pop(5)  # quarantined: perspective 5 left empty
        drop(root, f"return {index:02d}.xlsx", filled(root, leader, choices, **log))
    nightly(root, close=True)  # partners' figures published
    return root


def _example_workspace(root: Path, instrument: str = "CLB0.01") -> Path:
    from pipeline.demo import prepare_demo, simulate_returns
    from tests.conftest import instrument_path

    prepare_demo(EXAMPLE_CONFIG, root, instrument=None if instrument == "CLB0.01" else instrument_path(instrument))
    issue_forms_here(root)
    simulate_returns(root)
    nightly(root, close=True)  # partners' figures published
    return root


@pytest.fixture(scope="module", params=["example", "stress", "ISR0.01"])
def printed(request, tmp_path_factory) -> dict[str, tuple[Printed, list[str]]]:
    """Each output's PDF as read back, with the words its cells hold (none for letters): the demo, the
    stress case, and the demo on the second instrument."""
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "stress":
        root = _stress_workspace(folder / "ws")
    else:
        root = _example_workspace(folder / "ws", "CLB0.01" if request.param == "example" else request.param)
    round_id = load_config(root / "config").settings.round
    reports = root / "outbox" / "reports" / round_id
    sources = {
        "form": root / sorted(forms(root).values(), key=lambda f: f.path)[0].path,
        "facilitator": reports / f"comparison-{round_id}-facilitator.xlsx",
        "shareable": reports / f"comparison-{round_id}-shareable.xlsx",
    }
    pdfs = libreoffice_pdfs(list(sources.values()), folder)
    found = {
        name: (read_pdf(pdf), workbook_words(path)) for (name, path), pdf in zip(sources.items(), pdfs, strict=True)
    }
    letters = sorted(
        p for p in (root / "outbox" / "letters").rglob("*.html") if not re.search(r"(\.email|index)\.html$", p.name)
    )
    browser = Chromium()
    try:
        for number, page in enumerate(letters[:2]):
            browser.open(page)
            target = folder / f"letter-{number}.pdf"
            target.write_bytes(browser.pdf())
            found[f"letter {number}"] = (read_pdf(target), [])
        browser.open(root / "outbox" / "round.html")
        (folder / "round.pdf").write_bytes(browser.pdf())
        found["round page"] = (read_pdf(folder / "round.pdf"), [])
    finally:
        browser.close()
    briefing = reports / f"briefing-{round_id}.html"  # its PDF as clb makes it: the browser printing the page
    (folder / "briefing.pdf").write_bytes(html_to_pdf(briefing.read_bytes(), chromium_path()))
    found["briefing"] = (read_pdf(folder / "briefing.pdf"), [])
    return found


OUTPUTS = ["form", "facilitator", "shareable", "letter 0", "letter 1", "round page", "briefing"]
HTML = ("letter", "round page", "briefing")  # printed by Chromium from a page whose text is 16 px on screen
WORKBOOKS = ("form", "facilitator", "shareable")  # every word their cells hold must be on paper


def test_every_output_prints_cleanly(printed):
    """Each output of the case, as a person checks a printout: no text printed over other text; every word
    of every cell on paper (the form and the workbooks); nothing below 70% of its size on screen; the
    briefing on one A4 page. One test per case, so that pytest-xdist builds each case once (a case costs a
    minute of LibreOffice and Chromium); every problem of every output is reported together."""
    problems: list[str] = []
    for output in OUTPUTS:
        pdf, words = printed[output]
        if not pdf.glyphs:
            problems.append(f"{output}: no text on paper")
            continue
        clashes = overlaps(pdf)
        if clashes:
            shown = [f"p{a.page} '{a.text}'@({a.x0:.0f},{a.top:.0f}) over '{b.text}'" for a, b in clashes[:6]]
            problems.append(f"{output}: {len(clashes)} overlapping characters, e.g. {shown}")
        if output in WORKBOOKS:
            lacking = missing(words, pdf) if words else ["(no words read from its cells)"]
            if lacking:
                problems.append(f"{output}: cut off or not printed: {lacking[:10]}")
        nominal = SCREEN_LETTER_PT if output.startswith(HTML) else 11.0
        small = {page: round(scale, 2) for page, scale in scales(pdf, nominal).items() if scale < MIN_SCALE}
        if small:
            problems.append(f"{output}: pages printed below 70%: {small}")
    briefing, _ = printed["briefing"]
    sizes = [(round(width), round(height)) for width, height in briefing.pages]
    if sizes != [(595, 842)]:
        problems.append(f"briefing: printed on {sizes}, not one A4 page")
    assert problems == [], "\n".join(problems)
