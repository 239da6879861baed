"""What the partnership and each leader get: two workbook editions and the letters, after each night."""

from __future__ import annotations

import html
import io
import re
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest

from pipeline.config import load_config
from pipeline.state import active_forms, open_state
from tests.html_tables import leaders_on_page
from tests.intake_helpers import ALL_COMFORTABLE, MIXED, drop, filled, nightly

ROUND = "2026-Q4"


def leaders(root: Path) -> list[str]:
    return sorted(active_forms(open_state(root / "state" / "clb.sqlite"), ROUND))


def shareable(root: Path) -> Path:
    return root / "outbox" / "reports" / ROUND / f"comparison-{ROUND}-shareable.xlsx"


def facilitator(root: Path) -> Path:
    return root / "outbox" / "reports" / ROUND / f"comparison-{ROUND}-facilitator.xlsx"


def book(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(path)


def all_text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


def answer(root: Path, leader_ids: list[str], choices=None) -> None:
    for leader in leader_ids:
        drop(root, f"{leader}.xlsx", filled(root, leader, choices))


ALL = {key: dict.fromkeys(range(1, 8), key) for key in ("comfortable", "stretched", "panicked")}


def varied(root: Path, people: list[str]) -> None:
    """Returns from ``people``, as many comfortable as stretched as a bit panicked on every perspective."""
    for index, leader in enumerate(people):
        answer(root, [leader], list(ALL.values())[index % 3])


def partners_figures(root: Path) -> list[tuple[str, ...]]:
    """What partners' figures show: every figure of the shareable CSV, without the count of those who
    have answered so far (which says how many returns came, not what any of them answered)."""
    import csv

    path = root / "outbox" / "reports" / ROUND / f"comparison-{ROUND}-shareable.csv"
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return [(r["perspective"], r["category"], r["count"], r["withheld"], r["respondents"]) for r in rows]


def test_two_refresh_attack_learns_nothing_about_one_late_leader(issued, edit_settings):
    edit_settings(shareable="nightly")  # interim editions: the attack compares them
    people = leaders(issued)
    varied(issued, people[:6])
    first = nightly(issued)
    published = partners_figures(issued)
    assert any(p.endswith("shareable.xlsx") for p in first["outputs"])
    note = book(shareable(issued))["Summary"]["A2"].value
    assert "counts every leader who has answered it: 6 leaders have answered so far" in note

    answer(issued, people[6:7], ALL_COMFORTABLE)  # one late leader
    nightly(issued)
    assert partners_figures(issued) == published, "a single late return must not change partners' figures"
    summary = book(shareable(issued))["Summary"]
    assert "From 6 of the 7 leaders who have answered so far" in summary["A2"].value  # and they say so
    rows = [line for line in summary.iter_rows(values_only=True) if isinstance(line[0], int)][:7]
    heading = next(line for line in summary.iter_rows(values_only=True) if "Counted" in line)
    assert (heading.index("Counted"), heading.index("Answered so far")) == (5, 9)
    assert [(line[5], line[9]) for line in rows] == [(6, 7)] * 7  # counted, of those who have answered
    assert "All 7 accepted responses" in book(facilitator(issued))["Summary"]["A2"].value

    answer(issued, people[7:10], ALL_COMFORTABLE)  # four changed, but all alike: comparing would pin them
    nightly(issued)
    assert partners_figures(issued) == published

    varied(issued, people[10:15])  # now the nine changed answers are varied enough to be shown together
    nightly(issued)
    assert partners_figures(issued) != published
    assert "counts every leader who has answered it: 15 leaders" in book(shareable(issued))["Summary"]["A2"].value


def test_figures_wait_for_the_close_then_count_every_return_the_rules_allow(issued):
    """The facilitator's round: returns in layers of 6, 4 and 2 over three nights. By default partners
    see nothing until the close, then one edition of all twelve, which no later layer could have
    reached on its own; every figure says whom it counts."""
    people = leaders(issued)
    layers = [people[:6], people[6:10], people[10:12]]
    for layer in layers:
        varied(issued, layer) if layer is layers[0] else answer(issued, layer, ALL_COMFORTABLE)
        report = nightly(issued)
        assert report["round"]["stage"] != "closed" and report["round"]["shareable_responses"] == 0
        assert all(r[2] == "" for r in partners_figures(issued))  # nothing published while the round is open
        note = book(shareable(issued))["Summary"]["A2"].value
        assert note.startswith("Partners' figures are published once, when the round closes"), note
    report = nightly(issued, close=True)
    assert report["round"]["stage"] == "closed" and report["round"]["shareable_responses"] == 12
    figures = partners_figures(issued)
    assert {r[4] for r in figures} == {"12"} and {r[3] for r in figures} == {"false"}, figures
    assert "counts every leader who has answered it: 12 leaders" in book(shareable(issued))["Summary"]["A2"].value
    assert "The round closed on" in report["round"]["stage_text"]


def test_shareable_edition_holds_no_names_emails_or_words(issued, edit_settings):
    people = leaders(issued)
    forms = active_forms(open_state(issued / "state" / "clb.sqlite"), ROUND)
    for index, leader in enumerate(people):
        drop(
            issued,
            f"{index}.xlsx",
            filled(
                issued,
                leader,
                MIXED if index % 2 else ALL_COMFORTABLE,
                log_project=f"secret project of {forms[leader].name}",
            ),
        )
    nightly(issued)
    text = all_text(shareable(issued))
    for record in forms.values():
        assert record.name not in text and record.email not in text
    assert "secret project" not in text
    workbook = book(shareable(issued))
    assert workbook.sheetnames == ["Summary", "About"]  # organisations' own figures are not shared: no sheet
    assert workbook.active.title == "Summary"
    counts = [
        row[column].value
        for title, first in (("Summary", 6),)
        for row in workbook[title].iter_rows(min_row=first)
        if row[0].value is not None
        for column in (2, 3, 4)
    ]
    assert counts and "[c]" in counts  # small counts are withheld
    assert all(value == "[c]" or value == 0 or value >= 3 for value in counts), counts


def test_facilitator_edition_has_every_sheet_and_keeps_text_as_text(issued):
    people = leaders(issued)
    drop(issued, "a.xlsx", filled(issued, people[0], log_project='=HYPERLINK("http://x","click")'))
    drop(issued, "b.xlsx", filled(issued, people[1], {1: "comfortable"}))
    nightly(issued)
    workbook = book(facilitator(issued))
    assert workbook.active.title == "Summary"
    assert workbook.sheetnames == [
        "Summary",
        "By organisation",
        "Organisation matrix",
        "Charts by organisation",
        "Organisation totals",
        "Responses",
        "Response tracker",
        "Quarantine",
        "User log",
        "About",
    ]  # Rounds and Rounds compared: not before a second round
    log = workbook["User log"]
    cell = next(c for row in log.iter_rows() for c in row if c.value == '=HYPERLINK("http://x","click")')
    assert cell.data_type == "s"
    tracker = {row[0].value: row[4].value for row in workbook["Response tracker"].iter_rows(min_row=4) if row[0].value}
    assert list(tracker.values()).count("returned") == 1 and list(tracker.values()).count("quarantined") == 1
    assert list(tracker.values()).count("outstanding") == 13
    quarantine = [row[3].value for row in workbook["Quarantine"].iter_rows(min_row=4) if row[1].value]
    assert quarantine.count("missing-tick") == 6
    summary = workbook["Summary"]
    assert summary._charts and summary.tables and summary.conditional_formatting
    assert summary.freeze_panes == "A6"
    assert summary.page_setup.orientation == "landscape"
    first = [c.value for c in summary[6]][:6]
    assert first[0] == 1 and sum(first[2:5]) == first[5] == 1


def test_letters_are_personal_escaped_and_made_again_only_when_changed(issued, write_roster):
    from tests.conftest import issue_forms_here

    with (issued / "config" / "roster.csv").open("a", encoding="utf-8") as roster:
        roster.write("Council,<script>alert(1)</script> Smith,evil@x.example,\n")
    issue_forms_here(issued)
    drop(issued, "evil.xlsx", filled(issued, "evil@x.example", MIXED, log_project="<b>bold</b>"))
    people = [p for p in leaders(issued) if p != "evil@x.example"]
    answer(issued, people[:3], ALL_COMFORTABLE)
    report = nightly(issued)
    letter_path = next(p for p in report["outputs"] if "alert" in p and p.endswith(".html"))
    page = (issued / letter_path).read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; Smith" in page
    assert "Perspective 3: Trust is necessary" in page  # MIXED: panicked on 3 -> Step 3 suggestions
    assert "Tell stories of successful collaborative leaders." in page
    assert "© 2013 Shared Service Architecture Ltd" in page
    from pipeline.reports.letters import email_html

    email = email_html(page)  # the email's HTML, made from the page when the letter is sent
    assert 'style="' in email and "<style>" not in email.split("@media")[0].split("</head>")[-1]
    assert not list((issued / "outbox" / "letters").rglob("*.email.html"))  # not stored beside each letter
    comfortable = next(
        p for p in report["outputs"] if p.startswith("outbox/letters/") and p.endswith(".html") and "alert" not in p
    )
    assert "Stretch yourself further" in (issued / comfortable).read_text()

    before = {p: (issued / p).stat().st_mtime_ns for p in report["outputs"] if "letters" in p and "index" not in p}
    again = nightly(issued)
    assert [p for p in again["outputs"] if "letters" in p and "index" not in p] == []
    assert all((issued / p).stat().st_mtime_ns == t for p, t in before.items())

    drop(issued, "resubmitted.xlsx", filled(issued, people[0], MIXED))
    third = nightly(issued)
    changed = [p for p in third["outputs"] if "letters" in p and "index" not in p]
    assert len(changed) == 2 and all(
        people[0].split("@")[0].split(".")[0].capitalize() in p for p in changed
    )  # the page and the text

    people_shown = leaders_on_page(issued)  # the round page lists every leader and their letter
    assert len(people_shown) == 16
    assert [row[2] for row in people_shown.values()].count("Outstanding") == 16 - 4
    assert [row[4] for row in people_shown.values()].count("ready, not sent") == 4


def test_letters_speak_of_what_is_above_and_below_not_of_pages(issued):
    from pipeline.config import load_config as load

    instrument = load(issued / "config").instrument
    varied(issued, leaders(issued)[:3])
    report = nightly(issued)
    letters = [p for p in report["outputs"] if "letters" in p and p.endswith((".html", ".txt")) and "index" not in p]
    assert len(letters) == 6  # three leaders: page and text
    for path in letters:
        text = html.unescape(" ".join((issued / path).read_text().split())).lower()
        assert "opposite page" not in text and "on the left" not in text, path
        assert instrument.steps[0].wording("letter").lower() in text, path
        assert "linden's effective practices for leaders (below)" in text, path


def test_partnership_context_only_where_the_shareable_edition_shows_it(issued):
    people = leaders(issued)
    answer(issued, people[:6], MIXED)  # six identical returns: showing them would disclose every answer
    report = nightly(issued)
    pages = [(issued / p).read_text() for p in report["outputs"] if p.endswith(".html") and "index" not in p]
    assert pages and not any("'s figures, " in html.unescape(page) for page in pages)  # nothing quoted

    answer(issued, people[6:9], ALL_COMFORTABLE)  # now perspective 2 reads 6 stretched, 3 comfortable
    report = nightly(issued, close=True)
    letters = [p for p in report["outputs"] if p.endswith(".html") and "index" not in p]
    texts = [html.unescape(" ".join((issued / p).read_text().split())) for p in letters]
    partnership = load_config(issued / "config").settings.partnership
    said = f"Of the 9 leaders in {partnership}'s figures, 6 feel stretched here: you and 5 others."
    assert sum(said in text for text in texts) == 6, texts[0]  # the reader is never one of "the others"
    calm = f"Of the 9 leaders in {partnership}'s figures, 3 feel"
    assert not any(calm in text for text in texts)  # only rows outside the comfort zone have practices


def test_movement_since_the_previous_round(issued, edit_settings):
    from tests.conftest import issue_forms_here

    people = leaders(issued)
    answer(issued, people[:1], ALL_COMFORTABLE)
    nightly(issued)
    edit_settings(round="2027-Q1")
    issue_forms_here(issued)
    forms = active_forms(open_state(issued / "state" / "clb.sqlite"), "2027-Q1")
    from pipeline.config import load_config
    from pipeline.simulate import answers, fill

    config = load_config(issued / "config")
    data = fill((issued / forms[people[0]].path).read_bytes(), config.instrument, answers(config.instrument, MIXED))
    drop(issued, "next round.xlsx", data)
    report = nightly(issued)
    letter = next(p for p in report["outputs"] if p.startswith("outbox/letters/") and p.endswith(".html"))
    page = (issued / letter).read_text()
    assert "Since round 2026-Q4" in page and "Perspective 3: comfortable → a bit panicked" in page
    assert page.index("Your answers") < page.index("Since round") < page.index("Step 1")  # beside the answers
    text = (issued / letter.replace(".html", ".txt")).read_text()
    assert text.index("YOUR ANSWERS") < text.index("SINCE ROUND") < text.index("STEP 1")
    rounds = book(issued / "outbox" / "reports" / "2027-Q1" / "comparison-2027-Q1-facilitator.xlsx")["Rounds"]
    movements = [row[6].value for row in rounds.iter_rows(min_row=5) if row[0].value]
    assert "comfortable → a bit panicked" in movements and "no change" in movements


@pytest.mark.parametrize("edition", ["facilitator", "shareable"])
def test_workbooks_are_written_whole(issued, edition):
    answer(issued, leaders(issued)[:3])
    nightly(issued)
    path = facilitator(issued) if edition == "facilitator" else shareable(issued)
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        assert archive.testzip() is None
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):  # each row once, in order (programs keep the first)
                numbers = [int(n) for n in re.findall(rb'<row r="(\d+)"', archive.read(name))]
                assert numbers == sorted(set(numbers)), name
    assert not list(path.parent.glob(".tmp-*"))


def test_the_tidy_csv_shows_exactly_the_shareable_workbooks_figures(issued):
    """The public contract for partners' own tools: one row per figure, empty where withheld."""
    import csv

    from pipeline.reports.suppress import HIDDEN

    people = leaders(issued)
    choices = [MIXED, ALL_COMFORTABLE, {**MIXED, 1: "stretched"}, {**ALL_COMFORTABLE, 2: "panicked"}]
    for index, leader in enumerate(people[:12]):
        answer(issued, [leader], choices[index % len(choices)])
    report = nightly(issued, close=True)
    path = issued / "outbox" / "reports" / ROUND / f"comparison-{ROUND}-shareable.csv"
    assert f"outbox/reports/{ROUND}/comparison-{ROUND}-shareable.csv" in report["outputs"]
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    columns = ["group", "perspective", "category", "count", "withheld", "respondents", "answered_so_far"]
    assert list(rows[0]) == columns and {row["answered_so_far"] for row in rows} == {"12"}
    keys = ["comfortable", "stretched", "panicked"]
    from_csv = {(r["group"], int(r["perspective"]), r["category"]): r for r in rows}
    workbook = book(shareable(issued))
    shown = {}
    for line in workbook["Summary"].iter_rows(min_row=6, values_only=True):
        if isinstance(line[0], int):
            for offset, key in enumerate(keys):
                shown[("Partnership", line[0], key)] = (line[2 + offset], line[5])
    assert set(from_csv) == set(shown)
    for figure, (value, answered) in shown.items():
        row = from_csv[figure]
        assert row["withheld"] == ("true" if value == HIDDEN else "false")
        assert row["count"] == ("" if value == HIDDEN else str(value))
        assert row["respondents"] == ("" if value == HIDDEN else str(answered))
    withheld = report["round"]["shareable_withheld"]
    assert withheld == {"withheld": sum(r["withheld"] == "true" for r in rows), "figures": len(rows)}
    about = {r[0]: r[1] for r in workbook["About"].iter_rows(min_row=4, values_only=True) if r[0]}
    assert about["Figures withheld"].startswith(f"{withheld['withheld']} of {withheld['figures']} figures")


def test_withheld_figures_sit_right_aligned_like_numbers(issued):
    from pipeline.reports.suppress import HIDDEN

    people = leaders(issued)
    answer(issued, people[:1], MIXED)  # one leader stretched or panicked where eight are comfortable
    answer(issued, people[1:9], ALL_COMFORTABLE)
    nightly(issued)
    workbook = book(shareable(issued))
    cells = [c for row in workbook["Summary"].iter_rows() for c in row]
    hidden = [c for c in cells if c.value == HIDDEN]
    assert hidden and all(c.alignment.horizontal == "right" for c in hidden)


def test_charts_read_top_down_in_calm_to_concern_colours(issued):
    """Every chart of both editions: perspective (or organisation) 1 at the top; comfortable, stretched,
    a bit panicked in that order, each in its colour of the one scheme; both axes titled with what they
    show; each segment labelled with its count (not zeros), so colour is never the only cue."""
    from xml.etree import ElementTree

    from pipeline.colours import scheme

    varied(issued, leaders(issued)[:6])
    nightly(issued, close=True)
    c, a = (
        "{http://schemas.openxmlformats.org/drawingml/2006/chart}",
        "{http://schemas.openxmlformats.org/drawingml/2006/main}",
    )
    seen = {}
    for path in (facilitator(issued), shareable(issued)):
        with zipfile.ZipFile(path) as archive:
            charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
            seen[path.name] = len(charts)
            for name in charts:
                chart = ElementTree.fromstring(archive.read(name))
                where = f"{path.name} {name}"
                assert chart.find(f".//{c}catAx/{c}scaling/{c}orientation").get("val") == "maxMin", where  # type: ignore[union-attr]
                series = chart.findall(f".//{c}ser")
                colours = [s.find(f"{c}spPr/{a}solidFill/{a}srgbClr").get("val") for s in series]  # type: ignore[union-attr]
                assert colours == list(scheme(3).colours), where
                names = [s.find(f"{c}tx/{c}v").text.lower() for s in series]  # type: ignore[union-attr]
                assert [n.split(" (")[0] for n in names] == ["comfortable", "stretched", "a bit panicked"], where
                columns = [
                    s.find(f"{c}val//{c}f").text.split("!")[1].split(":")[0].strip("$").rstrip("0123456789$")
                    for s in series
                ]  # type: ignore[union-attr]
                assert columns == sorted(columns) and len(set(columns)) == 3, where  # the table's columns, in order
                title = "".join(t.text or "" for t in chart.find(f"{c}chart/{c}title").iter(f"{a}t"))  # type: ignore[union-attr]
                if title != "All seven perspectives together, per organisation":  # bars named by number only
                    words = "".join(t.text or "" for t in chart.findall(f".//{c}catAx/{c}title//{a}t"))
                    assert words == "Perspective", where
                assert "share" in "".join(t.text or "" for t in chart.findall(f".//{c}valAx/{c}title//{a}t")).lower()
                for s in series:
                    assert s.find(f"{c}dLbls/{c}showVal").get("val") == "1", where  # type: ignore[union-attr]
    assert seen["comparison-2026-Q4-shareable.xlsx"] == 1
    organisations = len(
        {row.organisation for row in load_config(issued / "config").roster if row.id in leaders(issued)[:6]}
    )
    assert seen["comparison-2026-Q4-facilitator.xlsx"] == 2 + organisations  # summary, totals, one each


def test_a_user_log_longer_than_a_row_goes_on_in_the_rows_below_whole(issued):
    from pipeline.pagefit import MAX_ROW_HEIGHT

    story = " ".join(f"word{n}" for n in range(700))  # about 5,000 characters: more than one row can show
    drop(issued, "long.xlsx", filled(issued, leaders(issued)[0], log_happened=story, log_project="Winter 2026"))
    nightly(issued)
    sheet = book(facilitator(issued))["User log"]
    header = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "Leader")
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=header + 1) if row[0].value]
    assert [row[2] for row in rows][:2] == [1, "1 (cont.)"] and len(rows) >= 3
    assert " ".join(row[5] for row in rows) == story  # "What actually happened?", whole and in order
    assert rows[0][3] == "Winter 2026" and all(row[3] in ("", None) for row in rows[1:])
    heights = [sheet.row_dimensions[header + 1 + i].height for i in range(len(rows))]
    assert all(h and h <= MAX_ROW_HEIGHT for h in heights)


def test_the_organisation_matrix_counts_each_answer_and_tints_the_most_common(issued):
    from pipeline.colours import scheme

    varied(issued, leaders(issued)[:6])
    nightly(issued)
    workbook = book(facilitator(issued))
    by_org = workbook["By organisation"]
    top = next(r for r in range(1, 10) if by_org.cell(r, 1).value == "Organisation")
    expected = {
        (row[0].value, row[1].value): [row[i].value for i in (2, 3, 4)]
        for row in by_org.iter_rows(min_row=top + 1)
        if row[0].value
    }
    matrix = workbook["Organisation matrix"]
    top = next(r for r in range(1, 10) if matrix.cell(r, 1).value == "Organisation")
    assert [matrix.cell(top, c).value for c in range(2, 9)] == [f"Perspective {n}" for n in range(1, 8)]
    seen = 0
    for row in matrix.iter_rows(min_row=top + 1):
        if not row[0].value:
            continue
        for number, cell in enumerate(row[1:8], start=1):
            counts = expected.get((row[0].value, number))
            if counts is None:
                assert cell.value in ("", None)
                continue
            seen += 1
            assert cell.value == " / ".join(map(str, counts))
            assert cell.fill.fgColor.rgb[-6:] == scheme(3).tints[counts.index(max(counts))]
    assert seen == len(expected) and [r[0] for r in sorted(expected)] == [
        r[0] for r in expected
    ]  # sorted by organisation


def test_a_chart_on_a_page_of_its_own_has_no_heading_row_over_it(issued):
    """A chart moved below a table that is whole on the page before starts its page itself: the table's
    heading row is not repeated above it (it printed as an empty band of headings)."""
    varied(issued, leaders(issued)[:12])
    nightly(issued)
    moved = 0
    for path in (facilitator(issued), shareable(issued)):
        for sheet in book(path).worksheets:
            breaks = {item.id for item in sheet.row_breaks.brk}
            for chart in sheet._charts:
                if chart.anchor._from.row in breaks:  # the page turns right above the chart
                    moved += 1
                    table_rows = max(
                        row for row in range(1, chart.anchor._from.row + 1) if sheet.cell(row=row, column=1).value
                    )
                    if not any(b < table_rows for b in breaks):
                        assert sheet.print_title_rows is None, f"{path.name} {sheet.title}"
    assert moved  # the facilitator's Summary: its table and notes leave no room for the chart below
