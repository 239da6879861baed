"""The outputs in the programs people use: both workbook editions through real LibreOffice, the letters,
the round page and the briefing in real Chromium with axe-core (WCAG 2.2 A and AA), printed to PDF, and
at 200% zoom."""

from __future__ import annotations

import io
import subprocess
import warnings
from pathlib import Path

import openpyxl
import pypdf
import pytest

from tests.browser import Chromium
from tests.clients import require

pytestmark = pytest.mark.clients
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo's workspace after its nightly run: forms, simulated returns, intake, outputs."""
    from pipeline.demo import prepare_demo, simulate_returns
    from pipeline.stages import send
    from pipeline.workspace import Workspace
    from tests.conftest import EXAMPLE_CONFIG, issue_forms_here
    from tests.intake_helpers import nightly

    root = tmp_path_factory.mktemp("demo") / "ws"
    prepare_demo(EXAMPLE_CONFIG, root)
    issue_forms_here(root)
    send(Workspace.at(root), "invitations")  # drafts: the round page has something that needs you
    simulate_returns(root)
    nightly(root, close=True)  # partners' figures published: the briefing has them
    return root


@pytest.fixture(scope="module")
def browser():
    chromium = Chromium()
    yield chromium
    chromium.close()


@pytest.mark.parametrize("edition", ["facilitator", "shareable"])
def test_libreoffice_opens_and_saves_each_edition(demo, tmp_path, edition):
    require("soffice")
    source = demo / "outbox" / "reports" / "2026-Q4" / f"comparison-2026-Q4-{edition}.xlsx"
    profile = tmp_path / "profile"
    result = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(tmp_path / "out"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    saved = tmp_path / "out" / source.name
    assert result.returncode == 0 and saved.exists(), result.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original, resaved = openpyxl.load_workbook(source), openpyxl.load_workbook(saved)
    assert resaved.sheetnames == original.sheetnames

    def values(sheet) -> list[object]:
        found = [c.value for row in sheet.iter_rows(max_row=40) for c in row if c.value not in (None, "")]
        return [round(v, 9) if isinstance(v, float) else v for v in found]

    for title in original.sheetnames:
        assert values(resaved[title]) == values(original[title]), title
    assert len(resaved["Summary"]._charts) == len(original["Summary"]._charts)


def letters(demo: Path) -> list[Path]:
    found = sorted((demo / "outbox" / "letters" / "2026-Q4").rglob("*.html"))
    assert len(found) == 9  # the demo's accepted returns (the round page took the index's place)
    return found


def pages(demo: Path) -> list[Path]:
    """The round page and the briefing."""
    return [demo / "outbox" / "round.html", demo / "outbox" / "reports" / "2026-Q4" / "briefing-2026-Q4.html"]


def test_letters_round_page_and_briefing_have_no_accessibility_violations(demo, browser):
    for page in [*letters(demo), *pages(demo)]:
        browser.open(page)
        violations = browser.axe(WCAG)
        assert violations == [], f"{page.name}: {violations}"
        assert browser.evaluate("document.documentElement.lang") == "en-GB"
        assert browser.evaluate("document.querySelectorAll('th[scope]').length") >= 3
        assert browser.evaluate("document.querySelectorAll('svg[role=img] title').length") == (
            0 if page in letters(demo) else 1 + (page.name == "round.html")
        )  # each chart is an image with a name


def test_letters_round_page_and_briefing_reflow_at_200_percent_zoom(demo, browser):
    """At 200% nothing but a wide data table (which may scroll in its own box: WCAG's exception for data
    tables) makes the page scroll sideways."""
    for page in [*letters(demo)[:4], *pages(demo)]:
        browser.open(page, width=640, height=450)  # a 1280 px window at 200% zoom
        width, visible = browser.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert width <= visible, f"{page.name} scrolls sideways at 200% zoom"


def test_a_letter_prints_on_one_or_two_pages(demo, browser):
    for page in letters(demo):
        browser.open(page)
        pdf = pypdf.PdfReader(io.BytesIO(browser.pdf()))
        assert 1 <= len(pdf.pages) <= 2, f"{page.name} prints on {len(pdf.pages)} pages"
        assert "Your CLB0.01 feedback" in pdf.pages[0].extract_text()


def test_email_rendering_keeps_the_content(demo):
    from pipeline.reports.letters import email_html

    email = email_html(letters(demo)[0].read_text(encoding="utf-8"))  # as the letter is sent
    assert "Step 3: practices to put into play" in email and 'style="' in email
