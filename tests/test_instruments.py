"""Any tick-box tool as data: every shipped instrument runs through the same code, and the things that
differ between tools (names, version, columns, wording) come from the instrument file alone."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.config import load_config
from pipeline.forms import layout as L
from pipeline.forms.layout import FormSpec
from pipeline.instrument import Instrument, load_instrument
from pipeline.intake.validate import examine
from pipeline.resources import shipped_instruments
from pipeline.simulate import fill
from pipeline.state import form_by_token, open_state
from tests.conftest import EXAMPLE_CONFIG, INSTRUMENTS, example_workspace, instrument_path
from tests.html_tables import link_targets
from tests.intake_helpers import LEADER, forms

ADDED = {  # the fields an instrument file gained with the second instrument, where each lives
    "top": ("row_noun", "comfort_columns", "practices_title", "practices_heading", "practice_lead", "all_comfortable"),
    "steps": ("heading", "shows", "note"),
    "perspectives": ("practices",),
    "ticks": ("answer",),
}


def _instrument(code: str) -> Instrument:
    return load_instrument(instrument_path(code), shipped_instruments())


def test_an_instrument_file_from_an_earlier_clb_reads_as_the_shipped_tool(tmp_path):
    """A workspace made before these fields existed keeps its form version, wording and letters."""
    data = yaml.safe_load((EXAMPLE_CONFIG / "instrument.yaml").read_text(encoding="utf-8"))
    for key in ADDED["top"]:
        data.pop(key)
    for part in ("steps", "perspectives", "ticks"):
        for item in data[part]:
            for key in ADDED[part]:
                item.pop(key, None)
    old = tmp_path / "instrument.yaml"
    old.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_instrument(old, shipped_instruments()) == _instrument("CLB0.01")
    plain = load_instrument(old)  # with nothing to fill in from, the neutral defaults
    assert (plain.row_noun, plain.ticks[2].words, plain.perspectives[0].practices) == (
        "statement",
        "I would feel a bit panicked",
        [],
    )


def test_the_two_instruments_differ_in_shape():
    clb, isr = _instrument("CLB0.01"), _instrument("ISR0.01")
    shapes = {(len(i.perspectives), len(i.ticks), len(i.user_log), len(i.practices)) for i in (clb, isr)}
    assert shapes == {(7, 3, 4, 7), (5, 4, 3, 5)}
    assert {t.key for t in clb.ticks}.isdisjoint(t.key for t in isr.ticks)


@pytest.mark.parametrize("code", INSTRUMENTS)
def test_the_form_is_made_from_the_instrument(code, tmp_path):
    """Defined names p{n}_{column key} and log_{key}, the version, the columns and the words."""
    instrument = _instrument(code)
    root = example_workspace(tmp_path / "ws", issue=True, instrument=code)
    record = forms(root)[LEADER]
    data = (root / record.path).read_bytes()
    assert record.form_version.startswith(f"{code}-") and record.form_version == L.form_version(instrument)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        book = archive.read("xl/workbook.xml").decode()
    names = {n for n in re.findall(r'<definedName name="([^"]+)"', book) if not n.startswith("_xlnm.")}
    ticks = {f"p{p.number}_{t.key}" for p in instrument.perspectives for t in instrument.ticks}
    logs = {L.log_name(c.key, line) for c in instrument.user_log for line in range(1, L.LOG_LINES + 1)}
    assert names == ticks | logs | {f"clb_{key}" for key in L.DATA_KEYS}
    sheets = re.findall(r'<sheet name="([^"]+)"', book)
    assert sheets == L.sheet_names(instrument)
    from openpyxl import load_workbook

    form = load_workbook(io.BytesIO(data))["Self-assessment"]
    header = [form.cell(L.FORM_HEADER_ROW, c).value for c in range(1, L.status_column(instrument) + 1)]
    assert header[2:-2] == [t.label for t in instrument.ticks] and header[-2:] == ["Marks in row", "Row status"]
    last = L.perspective_row(len(instrument.perspectives))
    assert form.cell(last, 1).value == instrument.perspectives[-1].label
    assert f"of {len(instrument.perspectives)} {instrument.rows_noun} answered" in form["B4"].value


MARKS = st.sampled_from([None, None, None, "✓", "x", "maybe"])


@pytest.fixture(scope="module", params=INSTRUMENTS)
def issued_for(request, tmp_path_factory):
    root = example_workspace(tmp_path_factory.mktemp(request.param) / "ws", issue=True, instrument=request.param)
    config = load_config(root / "config")
    engine = open_state(root / "state" / "clb.sqlite")
    return config.instrument, (root / forms(root)[LEADER].path).read_bytes(), engine


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_mark_rule_on_every_instrument(issued_for, data):
    """Any marks in any boxes: each row answered exactly once is read; two marks, none, or a mark that
    cannot be read give their codes at their cells, in the instrument's words."""
    instrument, form, engine = issued_for
    values = {L.tick_name(p.number, t.key): data.draw(MARKS) for p in instrument.perspectives for t in instrument.ticks}
    result = examine(
        fill(form, instrument, values),  # type: ignore[arg-type]
        lambda token: form_by_token(engine, token),
        FormSpec.of(instrument),
        "2026-Q4",
    )
    expected_codes: list[tuple[str, int]] = []
    for p in instrument.perspectives:
        row = {t.key: values[L.tick_name(p.number, t.key)] for t in instrument.ticks}
        chosen = [key for key, mark in row.items() if mark in ("✓", "x")]
        unreadable = [key for key, mark in row.items() if mark == "maybe"]
        expected_codes += [("unrecognised-mark", p.number)] * len(unreadable)
        if len(chosen) > 1:
            expected_codes.append(("multiple-ticks", p.number))
        elif not chosen and not unreadable:
            expected_codes.append(("missing-tick", p.number))
        assert result.answers[p.number] == (chosen[0] if len(chosen) == 1 and not unreadable else None)
    assert sorted((q.code, q.perspective) for q in result.problems) == sorted(expected_codes)
    for problem in result.problems:
        number = problem.perspective
        statement = instrument.perspectives[number - 1].statement  # type: ignore[operator]
        assert problem.message.startswith(f"{instrument.row_title} {number}: ")
        assert problem.leader_message.startswith(f"{instrument.row_title} {number} (\u201c{statement}\u201d)")  # type: ignore[union-attr]


@pytest.mark.flow
@pytest.mark.parametrize("code", INSTRUMENTS)
def test_the_demo_runs_end_to_end_on_every_instrument(prefect_engine, tmp_path, monkeypatch, code):
    """clb demo --instrument: forms, invitations, every kind of return, the nightly run, both
    comparison editions with their charts and suppression, letters and mail, on the real engine."""
    from pipeline.cli import app

    instrument = _instrument(code)
    root = tmp_path / "demo"
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    result = CliRunner().invoke(app, ["demo", "--workspace", str(root), "--instrument", code])
    assert result.exit_code == 0, result.output
    assert load_config(root / "config").instrument == instrument
    nights = [json.loads(p.read_text(encoding="utf-8")) for p in (root / "outbox" / "runs").glob("*/summary.json")]
    [report] = [night for night in nights if night["accepted"]]  # then the close, with nothing new
    latest = json.loads((root / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))
    assert len(nights) == 2 and latest["round"]["stage"] == "closed" and not latest["accepted"]
    counts = {key: len(report[key]) for key in ("accepted", "quarantined", "duplicates", "waiting")}
    assert counts == {"accepted": 10, "quarantined": 6, "duplicates": 1, "waiting": 1}
    found = {p["code"] for q in report["quarantined"] for p in q["problems"]}
    assert found == {"multiple-ticks", "missing-tick", "unrecognised-mark", "not-a-workbook", "macros"}
    row_lines = [p["message"] for q in report["quarantined"] for p in q["problems"] if p["code"] == "missing-tick"]
    assert row_lines and all(line.startswith(instrument.row_title + " ") for line in row_lines)

    reports = root / "outbox" / "reports" / "2026-Q4"
    for edition in ("facilitator", "shareable"):
        with zipfile.ZipFile(reports / f"comparison-2026-Q4-{edition}.xlsx") as archive:
            charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
            text = b"".join(archive.read(n) for n in archive.namelist() if n.startswith("xl/")).decode()
        assert charts, edition
        assert all(t.label in text or t.words.capitalize() in text for t in instrument.ticks), edition
    roster = [leader.name for leader in load_config(root / "config").roster]
    with zipfile.ZipFile(reports / "comparison-2026-Q4-shareable.xlsx") as archive:
        shared = b"".join(archive.read(n) for n in archive.namelist()).decode("utf-8", "replace")
    assert not [name for name in roster if name in shared]  # the shareable edition names no leader
    figures = (reports / "comparison-2026-Q4-shareable.csv").read_text(encoding="utf-8").splitlines()
    assert len(figures) == 1 + len(instrument.perspectives) * len(instrument.ticks)
    briefing = (reports / "briefing-2026-Q4.html").read_text(encoding="utf-8")  # the partners' one page
    assert not [name for name in roster if name in briefing] and f"Tool {instrument.code}" in briefing
    page = root / "outbox" / "round.html"  # the facilitator's: every link opens a file of the round
    targets = link_targets(page)
    assert len(targets) > 15 * 2 and all(target.exists() for target in targets)
    assert all(name in page.read_text(encoding="utf-8").replace("&#39;", "'") for name in roster)

    letters = sorted(p for p in (root / "outbox" / "letters" / "2026-Q4").rglob("*.txt"))
    assert len(letters) == 9
    bodies = [p.read_text(encoding="utf-8") for p in letters]
    assert sum(instrument.all_comfortable in body for body in bodies) >= 1  # the leader wholly at ease
    concern = instrument.practice_lead.split("{")[0]
    assert sum(concern in body for body in bodies) >= 1
    for body in bodies:
        assert f"Tool {instrument.code}" in body and "STEP 1" in body
    mail = root / "outbox" / "mail"
    assert [len(list((mail / kind).rglob("*.eml"))) for kind in ("invitation", "correction", "letter")] == [15, 3, 9]
    import email
    from email import policy

    for path in (mail / "invitation").rglob("*.eml"):  # some names are encoded (José): read them as mail
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert f"your {code} self-assessment form" in str(message["Subject"])
        (attachment,) = list(message.iter_attachments())  # type: ignore[attr-defined]
        assert attachment.get_filename().startswith(f"{code} form - ")


def test_clb_init_takes_another_instrument(tmp_path):
    from pipeline.cli import app

    made = CliRunner().invoke(app, ["init", str(tmp_path / "isr"), "--instrument", "isr0.01"])
    assert made.exit_code == 0, made.output
    config = load_config(tmp_path / "isr" / "config")
    assert config.instrument.code == "ISR0.01" and not (tmp_path / "isr" / "config" / "practices.yaml").exists()
    wrong = CliRunner().invoke(app, ["init", str(tmp_path / "other"), "--instrument", "XYZ9"])
    assert wrong.exit_code != 0 and "CLB0.01" in wrong.output and "ISR0.01" in wrong.output
    assert not (tmp_path / "other").exists()
    broken = tmp_path / "broken.yaml"
    broken.write_text(Path(instrument_path("ISR0.01")).read_text(encoding="utf-8").replace("row_noun", "rows"))
    refused = CliRunner().invoke(app, ["init", str(tmp_path / "third"), "--instrument", str(broken)])
    assert refused.exit_code != 0 and "cannot be used as an instrument" in refused.output
