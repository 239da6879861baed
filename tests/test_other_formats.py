"""A form saved as OpenDocument (.ods) or as Excel 97-2003 (.xls) is read, checked and accepted as the
.xlsx it was: by the same checks, behind the same guard. The files are written by real LibreOffice and
real Gnumeric."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import load_config
from pipeline.forms.layout import FormSpec
from pipeline.intake.fast_reader import read_guarded
from pipeline.intake.guard import Guarded, Limits, guard
from pipeline.intake.ods import GuardedOds
from pipeline.intake.reading import Cell
from pipeline.intake.validate import examine
from pipeline.intake.xls import GuardedXls
from pipeline.problems import Code
from pipeline.state import form_by_token, open_state
from tests.conftest import DATA, EXAMPLE_CONFIG
from tests.intake_helpers import LEADER, MIXED, OTHER, drop, filled, forms

SPEC = FormSpec.of(load_config(EXAMPLE_CONFIG).instrument)
KEPT = sorted((DATA / "returns").glob("*.ods")) + sorted((DATA / "returns").glob("*.xls"))
CONTENT = "content.xml"


def read(data: bytes):
    guarded = guard(data)
    assert isinstance(guarded, Guarded), guarded
    return guarded, read_guarded(guarded, SPEC.wanted, SPEC.follow)


@pytest.mark.parametrize("path", KEPT, ids=lambda p: p.name)
def test_each_format_reads_exactly_as_the_xlsx_its_program_saved_from_the_same_form(path):
    """LibreOffice filled one form and saved it three ways; Gnumeric saved one typed form three ways. The
    formula LibreOffice makes of a TRUE (=TRUE()) is seen in each."""
    guarded, other = read(path.read_bytes())
    _, xlsx = read(path.with_suffix(".xlsx").read_bytes())
    assert isinstance(guarded, GuardedOds if path.suffix == ".ods" else GuardedXls)
    assert (other.names, other.sheets) == (xlsx.names, xlsx.sheets) and len(other.names) >= 45
    if path.suffix == ".ods":  # an .xls's document properties are not read: the data sheet has the reference
        assert {k: v for k, v in other.properties.items() if k.startswith("clb_")} == xlsx.properties
    assert other.cells == xlsx.cells and len(other.cells) >= 59
    if path.name.startswith("libreoffice-complete"):
        assert other.named("p3_panicked") == xlsx.named("p3_panicked") == Cell(True, True)


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


def xls_records(data: bytes) -> list[tuple[int, int, int]]:
    """(type, offset in the file, length) of each record of the workbook stream, as xlrd finds it."""
    import struct

    import xlrd

    book = xlrd.open_workbook(file_contents=data, logfile=io.StringIO(), on_demand=True)
    found, at, end = [], book.base, book.base + book.stream_len
    while at + 4 <= end:
        kind, length = struct.unpack_from("<HH", book.mem, at)
        found.append((kind, at, length))
        at += 4 + length
    assert book.mem == data  # the stream lies in the file as it is: offsets in it are offsets in the file
    return found


def changed(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def test_the_guard_refuses_in_an_xls_what_it_refuses_in_an_xlsx():
    import struct

    data = (DATA / "returns" / "libreoffice-complete.xls").read_bytes()
    records = xls_records(data)
    # an Excel 4.0 macro sheet: a sheet's type byte in its BOUNDSHEET record
    _, at, _ = next(r for r in records if r[0] == 0x0085)
    code, message = problem_of_bytes(changed(data, at + 4 + 5, b"\x01"))
    assert code == Code.MACROS and "macro sheet" in message
    # a password: a record of the globals turned into FILEPASS
    _, at, _ = next(r for r in records if r[0] == 0x00E1)  # INTERFACEHDR, harmless to lose
    assert problem_of_bytes(changed(data, at, struct.pack("<H", 0x002F)))[0] == Code.ENCRYPTED
    # a text cell moved far below the form
    _, at, _ = next(r for r in records if r[0] == 0x00FD)  # LABELSST: row, column, …
    code, message = problem_of_bytes(changed(data, at + 4, struct.pack("<H", 60000)))
    assert code == Code.UNSAFE_FILE and "far outside the form" in message and "60001" in message
    # an Office document with no workbook in it (a Word file's container)
    other = data.replace("Workbook".encode("utf-16-le"), "WordDocu".encode("utf-16-le"))
    code, message = problem_of_bytes(other)
    assert code == Code.NOT_A_WORKBOOK and "not a workbook (Word?)" in message
    # a VBA project's stream
    name = "_VBA_PROJECT_CUR".encode("utf-16-le")
    assert problem_of_bytes(data + name)[0] == Code.MACROS


def problem_of_bytes(data: bytes) -> tuple[str, str]:
    found = guard(data)
    assert not isinstance(found, Guarded), "the guard passed a hostile .xls"
    return found.code, found.message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_damage_to_an_xls_is_decided_never_raised(data):
    """Bytes flipped, cut or repeated anywhere in an .xls (its container, its records): examine gives
    problems or answers, never an exception."""
    whole = bytearray((DATA / "returns" / "gnumeric-complete.xls").read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(whole) - 1))
        how = data.draw(st.sampled_from(["flip", "flip", "cut", "repeat"]))
        if how == "flip":
            whole[at] = data.draw(st.integers(0, 255))
        elif how == "cut":
            del whole[at : at + data.draw(st.integers(1, 600))]
        else:
            whole[at:at] = whole[at : at + data.draw(st.integers(1, 600))]
    result = examine(bytes(whole), lambda token: None, SPEC, "2026-Q4", Limits())
    assert result.problems


# ---------------------------------------------------------------- real programs, real commands


@dataclass
class Saved:
    """Four leaders' returns as the programs saved them: (leader, file, the answers it holds)."""

    files: list[tuple[str, Path, dict[int, str]]]


@pytest.fixture
def saved(issued, tmp_path) -> Saved:
    """Priya's issued form filled in real LibreOffice and saved as .ods, and a third leader's as .xls; Tom's
    and a fourth leader's typed forms saved by real Gnumeric as .ods and .xls."""
    from tests.clients import gnumeric_resave, libreoffice_fill

    record = forms(issued)
    third, fourth = sorted(set(record) - {LEADER, OTHER})[:2]
    fills = {"p1_comfortable": ("string", "✓"), "p2_stretched": ("string", "x"), "p3_panicked": ("formula", "=TRUE()")}
    fills |= {"p4_comfortable": ("value", 1), "p5_stretched": ("string", "X"), "p6_stretched": ("string", "✔")}
    fills |= {"p7_panicked": ("string", "✓"), "log_project": ("string", "Night-time economy, Sept–Nov")}
    files = []
    for leader, name in ((LEADER, "priya.ods"), (third, "third.xls")):
        libreoffice_fill(issued / record[leader].path, tmp_path / name, fills)
        files.append((leader, tmp_path / name, PRIYA))
    for leader, name in ((OTHER, "tom.ods"), (fourth, "fourth.xls")):
        typed = tmp_path / f"{name}.xlsx"
        typed.write_bytes(filled(issued, leader))
        gnumeric_resave(typed, tmp_path / name)
        files.append((leader, tmp_path / name, MIXED))
    return Saved(files)


PRIYA = {1: "comfortable", 2: "stretched", 3: "panicked", 4: "comfortable", 5: "stretched", 6: "stretched"}
PRIYA[7] = "panicked"


@pytest.mark.clients
def test_ods_and_xls_from_libreoffice_and_gnumeric_are_checked_as_their_xlsx(issued, saved):
    engine = open_state(issued / "state" / "clb.sqlite")
    spec = FormSpec.of(load_config(issued / "config").instrument)

    def check(data: bytes):
        return examine(data, lambda token: form_by_token(engine, token), spec, "2026-Q4")

    for leader, path, answers in saved.files:
        result = check(path.read_bytes())
        assert (result.leader_id, result.problems, result.answers) == (leader, [], answers), path.name
        if answers is PRIYA:  # typed in LibreOffice
            assert result.log[0]["project"] == "Night-time economy, Sept–Nov"
    # the same problem found in the same cell, whichever format: two ticks on a row
    from tests.clients import gnumeric_resave

    twice = check(filled(issued, OTHER, p1_stretched="✓"))
    typed = saved.files[0][1].with_name("twice.xlsx")
    typed.write_bytes(filled(issued, OTHER, p1_stretched="✓"))
    for suffix in (".ods", ".xls"):
        gnumeric_resave(typed, typed.with_suffix(suffix))
        again = check(typed.with_suffix(suffix).read_bytes())
        assert [(p.code, p.cell) for p in again.problems] == [(p.code, p.cell) for p in twice.problems] != []
    engine.dispose()


@pytest.mark.clients
def test_ods_and_xls_dropped_in_the_inbox_or_sent_by_mail_are_accepted_by_clb_nightly(issued, saved, prefect_engine):
    from tests.commands import clb
    from tests.imap_server import Dovecot
    from tests.test_fetch import message, use_mailbox

    (priya, priya_ods, _), (third, third_xls, _), (tom, tom_ods, _), (fourth, fourth_xls, _) = saved.files
    fifth = sorted(set(forms(issued)) - {priya, third, tom, fourth})[0]
    drop(issued, "Priya CLB form.ods", priya_ods.read_bytes())
    drop(issued, "CLB form (old Excel).xls", fourth_xls.read_bytes())
    server = Dovecot()
    try:
        use_mailbox(issued, server.port)
        server.append(message(tom, "My form", [("Tom CLB form.ods", tom_ods.read_bytes())], "<ods@council.example>"))
        pa = "pa.to.the.director@riverside.example"  # sends it for them: accepted on its form, with a note
        server.append(message(pa, "Form", [("CLB.xls", third_xls.read_bytes())], "<xls@council.example>"))
        # a scan from a leader who has not returned the form: placed beside them, a reply drafted
        server.append(message(fifth, "Scan", [("scan0001.pdf", b"%PDF-1.4 a scan")], "<pdf@council.example>"))
        # and a question with nothing to take: shown on screen and in the run report
        server.append(message(tom, "Deadline?", [], "<q@council.example>", text="When is the deadline?"))
        done = clb("nightly", "-w", str(issued), env=server.environ())
        assert done.returncode == 1, done.stdout + done.stderr  # the scan needs the facilitator
    finally:
        server.stop()
    report = json.loads((issued / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))
    accepted = {item["leader_id"]: item["file"] for item in report["accepted"]}
    assert set(accepted) == {priya, third, tom, fourth}
    [scan] = report["quarantined"]
    assert scan["leader_id"] == fifth and scan["file"].endswith("scan0001.pdf")
    assert [p["code"] for p in scan["problems"]] == ["not-a-workbook", "probably-from"]
    reply = (issued / scan["correction_request"].replace(".html", ".txt")).read_text(encoding="utf-8")
    assert "The file you sent us is not the form (it is a PDF document)" in reply
    assert accepted[tom].endswith("Tom CLB form.ods") and accepted[third].endswith("CLB.xls")
    said = " ".join(done.stdout.split())
    assert "4 accepted" in said
    assert f"Not taken from {tom}: Deadline?: no attachment: nothing to take" in said
    assert f"It came by email from {pa}, not from the leader's own address" in said  # a PA sent it
    assert len(report["fetched"]["ignored"]) == 1 and len(report["fetched"]["saved"]) == 3
    shown = clb("status", "-w", str(issued))
    [row] = [line for line in shown.stdout.splitlines() if "needs you" in line]
    assert "needs you: sent a file that is not the form (a reply is drafted)" in row
    assert forms(issued)[fifth].name in row
    answers = {leader: response.answers for leader, response in current(issued).items()}
    assert answers == {leader: expected for leader, _, expected in saved.files}


def current(root: Path):
    from pipeline.state import current_responses

    engine = open_state(root / "state" / "clb.sqlite")
    try:
        return current_responses(engine, "2026-Q4")
    finally:
        engine.dispose()


def test_a_return_sent_back_for_fixing_keeps_the_format_it_came_in():
    from pipeline.mail.sending import returned_name

    kept = DATA / "returns"
    assert returned_name("Priya.ods", (kept / "libreoffice-complete.ods").read_bytes()) == "Priya.ods"
    assert returned_name("Priya.xls", (kept / "libreoffice-complete.xls").read_bytes()) == "Priya.xls"
    assert returned_name("Priya", (kept / "libreoffice-complete.ods").read_bytes()) == "Priya.ods"
    assert returned_name("Priya.xlsx", (kept / "libreoffice-complete.ods").read_bytes()) == "Priya.xlsx.ods"
    assert returned_name("Form.XLSX", (kept / "libreoffice-complete.xlsx").read_bytes()) == "Form.XLSX"
