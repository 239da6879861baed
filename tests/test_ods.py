"""A form saved as OpenDocument (.ods) is read, checked and accepted as the .xlsx it was: by the same
checks, with the same guard. The files are written by real LibreOffice and real Gnumeric."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import load_config
from pipeline.forms.layout import FormSpec
from pipeline.intake.fast_reader import read_guarded
from pipeline.intake.guard import Guarded, Limits, guard
from pipeline.intake.ods import GuardedOds
from pipeline.intake.validate import examine
from pipeline.problems import Code
from pipeline.state import form_by_token, open_state
from tests.conftest import DATA, EXAMPLE_CONFIG
from tests.intake_helpers import LEADER, MIXED, OTHER, drop, filled, forms

SPEC = FormSpec.of(load_config(EXAMPLE_CONFIG).instrument)
KEPT = sorted((DATA / "returns").glob("*.ods"))
CONTENT = "content.xml"


def read(data: bytes):
    guarded = guard(data)
    assert isinstance(guarded, Guarded), guarded
    return guarded, read_guarded(guarded, SPEC.wanted, SPEC.follow)


@pytest.mark.parametrize("path", KEPT, ids=lambda p: p.name)
def test_an_ods_reads_exactly_as_the_xlsx_its_program_saved_from_the_same_form(path):
    """LibreOffice filled one form and saved it both ways; Gnumeric saved one typed form both ways."""
    guarded, ods = read(path.read_bytes())
    _, xlsx = read(path.with_suffix(".xlsx").read_bytes())
    assert isinstance(guarded, GuardedOds)
    assert (ods.names, ods.sheets) == (xlsx.names, xlsx.sheets) and len(ods.names) >= 45
    assert {k: v for k, v in ods.properties.items() if k.startswith("clb_")} == xlsx.properties
    assert ods.cells == xlsx.cells and len(ods.cells) >= 59


def ods_parts() -> dict[str, bytes]:
    with zipfile.ZipFile(DATA / "returns" / "libreoffice-complete.ods") as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def pack(parts: dict[str, bytes]) -> bytes:
    """An .ods as LibreOffice writes one: the mimetype first and stored, the rest deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in parts.items():
            kind = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, body, compress_type=kind)
    return buffer.getvalue()


def problem_of(parts: dict[str, bytes]) -> tuple[str, str]:
    found = guard(pack(parts))
    assert not isinstance(found, Guarded), "the guard passed a hostile .ods"
    return found.code, found.message


def with_content(change) -> dict[str, bytes]:
    parts = ods_parts()
    parts[CONTENT] = change(parts[CONTENT])
    return parts


def test_the_guard_refuses_what_it_refuses_in_an_xlsx():
    code, message = problem_of({**ods_parts(), "Basic/Standard/Module1.xml": b"<x/>"})
    assert code == Code.MACROS and "Basic/Standard/Module1.xml" in message
    listener = b"<office:event-listeners><script:event-listener/></office:event-listeners></office:spreadsheet>"
    code, _ = problem_of(with_content(lambda body: body.replace(b"</office:spreadsheet>", listener, 1)))
    assert code in (Code.MACROS, Code.NOT_A_WORKBOOK)  # an event bound to a script, or not well-formed
    manifest = ods_parts()["META-INF/manifest.xml"].replace(
        b"</manifest:manifest>", b"<encryption-data/></manifest:manifest>"
    )
    assert problem_of({**ods_parts(), "META-INF/manifest.xml": manifest})[0] == Code.ENCRYPTED
    doctype = b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x [<!ENTITY a "b">]>'
    code, detail = problem_of(with_content(lambda body: doctype + body.split(b"?>", 1)[1]))
    assert code == Code.UNSAFE_FILE and "entity" in detail
    utf16 = with_content(lambda body: body.decode("utf-8").encode("utf-16"))
    assert problem_of(utf16)[0] == Code.UNSAFE_FILE
    text = {**ods_parts(), "mimetype": b"application/vnd.oasis.opendocument.text"}
    code, message = problem_of(text)
    assert code == Code.NOT_A_WORKBOOK and "it is a text document (.odt)" in message


def test_a_filled_cell_far_outside_the_form_is_refused_without_expanding_repeats():
    far = b'<table:table-row table:number-rows-repeated="1048000"><table:table-cell/></table:table-row>'
    far += b'<table:table-row><table:table-cell office:value-type="float" office:value="1"/></table:table-row>'

    def add(body: bytes) -> bytes:
        head, tail = body.split(b"</table:table>", 1)
        return head + far + b"</table:table>" + tail

    code, detail = problem_of(with_content(add))
    assert code == Code.UNSAFE_FILE and "far outside the form (A" in detail
    wide = b'<table:table-row><table:table-cell table:number-columns-repeated="16000" office:value-type="string">'
    wide += b"<text:p>x</text:p></table:table-cell></table:table-row>"
    code, detail = problem_of(with_content(lambda body: body.replace(b"</table:table>", wide + b"</table:table>", 1)))
    assert code == Code.UNSAFE_FILE and "far outside the form" in detail


def test_a_billion_spaces_in_a_log_answer_cost_a_thousand():
    _, reading = read(DATA.joinpath("returns", "libreoffice-complete.ods").read_bytes())
    sheet, cell = reading.names["log_project"]
    assert reading.cell(sheet, cell).value == "Community safety pilot, November 2026"
    bomb = b'Community<text:s text:c="1000000000"/>pilot'
    parts = with_content(lambda body: body.replace(b"Community safety pilot", bomb, 1))
    _, reading = read(pack(parts))
    assert reading.cell(sheet, cell).value == "Community" + " " * 1000 + "pilot, November 2026"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_damage_to_an_ods_is_decided_never_raised(data):
    """Bytes cut, flipped or spliced anywhere in content.xml or the zip: examine gives problems or
    answers, never an exception."""
    parts = ods_parts()
    body = bytearray(parts[CONTENT])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body) - 1))
        how = data.draw(st.sampled_from(["flip", "cut", "splice"]))
        if how == "flip":
            body[at] = data.draw(st.integers(0, 255))
        elif how == "cut":
            del body[at : at + data.draw(st.integers(1, 400))]
        else:
            body[at:at] = data.draw(st.sampled_from([b"<", b"&", b'"', b"<table:table-cell/>", b"\x00", "é".encode()]))
    parts[CONTENT] = bytes(body)
    whole = pack(parts)
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(whole) - 1))
        whole = whole[:at] + bytes([data.draw(st.integers(0, 255))]) + whole[at + 1 :]
    result = examine(whole, lambda token: None, SPEC, "2026-Q4", Limits())
    assert result.problems  # a form nobody issued, or damaged: either way a decided problem


# ---------------------------------------------------------------- real programs, real commands


@pytest.fixture
def saved_as_ods(issued, tmp_path):
    """Priya's issued form filled in real LibreOffice and saved as .ods; Tom's typed form saved as .ods
    by real Gnumeric."""
    from tests.clients import gnumeric_resave, libreoffice_fill

    record = forms(issued)
    priya = tmp_path / "priya.ods"
    fills = {"p1_comfortable": ("string", "✓"), "p2_stretched": ("string", "x"), "p3_panicked": ("formula", "=TRUE()")}
    fills |= {"p4_comfortable": ("value", 1), "p5_stretched": ("string", "X"), "p6_stretched": ("string", "✔")}
    fills |= {"p7_panicked": ("string", "✓"), "log_project": ("string", "Night-time economy, Sept–Nov")}
    libreoffice_fill(issued / record[LEADER].path, priya, fills)
    typed = tmp_path / "tom.xlsx"
    typed.write_bytes(filled(issued, OTHER))
    tom = tmp_path / "tom.ods"
    gnumeric_resave(typed, tom)
    return priya, tom


PRIYA = {
    1: "comfortable",
    2: "stretched",
    3: "panicked",
    4: "comfortable",
    5: "stretched",
    6: "stretched",
    7: "panicked",
}


@pytest.mark.clients
def test_ods_from_libreoffice_and_gnumeric_are_checked_as_their_xlsx(issued, saved_as_ods):
    priya, tom = saved_as_ods
    engine = open_state(issued / "state" / "clb.sqlite")
    spec = FormSpec.of(load_config(issued / "config").instrument)

    def check(data: bytes):
        return examine(data, lambda token: form_by_token(engine, token), spec, "2026-Q4")

    first, second = check(priya.read_bytes()), check(tom.read_bytes())
    assert (first.leader_id, first.problems, first.answers) == (LEADER, [], PRIYA)
    assert first.log[0]["project"] == "Night-time economy, Sept–Nov"
    assert (second.leader_id, second.problems, second.answers) == (OTHER, [], MIXED)
    # the same problem found in the same cell, whichever format: two ticks on a row
    twice = check(filled(issued, OTHER, p1_stretched="✓"))
    typed = priya.with_name("twice.xlsx")
    typed.write_bytes(filled(issued, OTHER, p1_stretched="✓"))
    from tests.clients import gnumeric_resave

    gnumeric_resave(typed, typed.with_suffix(".ods"))
    again = check(typed.with_suffix(".ods").read_bytes())
    assert [(p.code, p.cell) for p in again.problems] == [(p.code, p.cell) for p in twice.problems] != []
    engine.dispose()


@pytest.mark.clients
def test_an_ods_dropped_in_the_inbox_and_one_sent_by_mail_are_accepted_by_clb_nightly(
    issued, saved_as_ods, served_engine
):
    from tests.imap_server import Dovecot
    from tests.test_fetch import message, use_mailbox

    priya, tom = saved_as_ods
    drop(issued, "Priya CLB form.ods", priya.read_bytes())
    server = Dovecot()
    try:
        use_mailbox(issued, server.port)
        server.append(message(OTHER, "My form", [("Tom CLB form.ods", tom.read_bytes())], "<ods@council.example>"))
        clb = str(Path(sys.executable).with_name("clb"))
        done = subprocess.run(
            [clb, "nightly", "-w", str(issued)],
            env={**served_engine, **server.environ()},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        server.stop()
    report = json.loads((issued / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))
    accepted = {item["leader_id"]: item["file"] for item in report["accepted"]}
    assert set(accepted) == {LEADER, OTHER} and report["quarantined"] == []
    assert accepted[OTHER].endswith("Tom CLB form.ods") and "2 accepted" in done.stdout
    answers = {leader: response.answers for leader, response in current(issued).items()}
    assert answers == {LEADER: PRIYA, OTHER: MIXED}


def current(root: Path):
    from pipeline.state import current_responses

    engine = open_state(root / "state" / "clb.sqlite")
    try:
        return current_responses(engine, "2026-Q4")
    finally:
        engine.dispose()
