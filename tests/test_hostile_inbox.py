"""A hostile file or name costs that one file, never the night.

Each defect an attacker found is a named case here, run through the real nightly stages: the run
completes, every input ends accepted, quarantined, duplicate or waiting, every output loads again, and
the next night takes in an ordinary return. A hypothesis test then does the same over generated inboxes.
"""

from __future__ import annotations

import html.parser
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import tests.hostile as H
from pipeline.cli import app
from pipeline.config import load_config
from pipeline.failures import StageFailed, check_workbook
from pipeline.forms.layout import FormSpec
from pipeline.intake import inbox, scan
from pipeline.state import open_state
from pipeline.text import original, visible
from pipeline.workspace import Workspace
from tests.intake_helpers import ALL_COMFORTABLE, LEADER, OTHER, drop, filled, nightly

REPO = Path(__file__).resolve().parents[1]
LEADERS = [LEADER, OTHER, "aisling.byrne@riverside-council.example", "kwame.mensah@riverside-nhs.example"]


@pytest.fixture(scope="module")
def template(tmp_path_factory, example_config) -> Path:
    from tests.conftest import example_workspace

    root = example_workspace(tmp_path_factory.mktemp("hostile") / "ws", issue=True)
    return root


@pytest.fixture
def ws(template, tmp_path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    return root


def raw_drop(root: Path, name: bytes, data: bytes) -> None:
    """Save a file whose name is any bytes (not UTF-8, controls, newlines), settled a month back."""
    path = os.path.join(os.fsencode(root / "inbox"), name)
    with open(path, "wb") as handle:
        handle.write(data)
    os.utime(path, (1_700_000_000, 1_700_000_000))


def outputs_load(root: Path, report: dict) -> None:
    """Every output of the night opens again: both workbooks, every HTML page, the run reports."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in (root / "outbox" / "reports").rglob("*.xlsx"):
            book = openpyxl.load_workbook(path)
            assert book.sheetnames, path
    for path in (root / "outbox").rglob("*.html"):
        parser = html.parser.HTMLParser()
        parser.feed(path.read_text(encoding="utf-8"))
        parser.close()
    for path in (root / "outbox" / "runs").rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    for path in (root / "outbox").rglob("*.txt"):
        text = path.read_text(encoding="utf-8")
        assert not any(ch in text for ch in "\x1b\x07\ufffe\x00"), path
    assert list((root / "outbox" / "reports").rglob("*facilitator.xlsx"))


def decided(report: dict) -> dict[str, str]:
    """File -> its one decision this night."""
    found: dict[str, str] = {}
    for key, decision in (("accepted", "accepted"), ("quarantined", "quarantined"), ("duplicates", "duplicate")):
        for item in report[key]:
            assert item["file"] not in found, item["file"]
            found[item["file"]] = decision
    for item in report["waiting"]:
        assert item["file"] not in found, item["file"]
        found[item["file"]] = "waiting"
    return found


def next_night_takes_a_valid_return(root: Path, leader: str = OTHER) -> None:
    drop(root, "ordinary next night.xlsx", filled(root, leader, ALL_COMFORTABLE))
    report = nightly(root)
    assert [a["file"] for a in report["accepted"]] == ["ordinary next night.xlsx"]
    outputs_load(root, report)


# ---------------------------------------------------------------- 1, 2: names that broke the workbook


def test_control_characters_in_a_part_name_cost_that_file_only(ws):
    drop(ws, "macro.xlsx", H.control_part_name(filled(ws, LEADER)))
    drop(ws, "fine.xlsx", filled(ws, OTHER))
    report = nightly(ws)
    assert decided(report) == {"macro.xlsx": "quarantined", "fine.xlsx": "accepted"}
    [problem] = report["quarantined"][0]["problems"]
    assert problem["code"] == "macros" and "\\u001b]0;owned\\u0007" in problem["message"]
    outputs_load(ws, report)
    book = openpyxl.load_workbook(next((ws / "outbox" / "reports").rglob("*facilitator.xlsx")))
    texts = [c.value for row in book["Quarantine"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any("\\u001b]0;owned\\u0007" in text for text in texts)
    next_night_takes_a_valid_return(ws)
    next_night_takes_a_valid_return(ws, LEADER)  # and again: nothing stuck in the state


def test_a_non_character_in_a_part_name_gives_a_workbook_that_loads(ws):
    drop(ws, "trick.xlsx", H.noncharacter_part_name(filled(ws, LEADER)))
    report = nightly(ws)
    assert decided(report) == {"trick.xlsx": "quarantined"}
    assert "\\ufffe\\uffff" in report["quarantined"][0]["problems"][0]["message"]
    outputs_load(ws, report)
    next_night_takes_a_valid_return(ws)


def test_control_characters_in_an_inbox_file_name(ws):
    raw_drop(ws, b"\x1b[31mred\x07 return.xlsx", filled(ws, LEADER))
    report = nightly(ws)
    assert decided(report) == {"\\u001b[31mred\\u0007 return.xlsx": "accepted"}
    outputs_load(ws, report)
    book = openpyxl.load_workbook(next((ws / "outbox" / "reports").rglob("*facilitator.xlsx")))
    files = [c.value for c in book["Responses"]["A"] if isinstance(c.value, str)]
    assert any("\\u001b[31mred\\u0007" in str(value) for value in files) or any(
        "\\u001b[31mred\\u0007" in str(c.value) for row in book["Responses"].iter_rows() for c in row
    )
    next_night_takes_a_valid_return(ws)


# ---------------------------------------------------------------- 4: one name or file blocked the inbox


def test_a_file_name_that_is_not_utf8_is_readable_and_reversible(ws):
    name = b"r\xe9sum\xe9 \xff.xlsx"
    raw_drop(ws, name, filled(ws, LEADER))
    report = nightly(ws)
    shown = "r\\xe9sum\\xe9 \\xff.xlsx"
    assert decided(report) == {shown: "accepted"}
    assert os.fsencode(original(shown)) == name  # the exact bytes, for evidence
    latest = json.loads((ws / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))
    assert latest["accepted"][0]["file"] == shown
    outputs_load(ws, report)
    next_night_takes_a_valid_return(ws)


def test_a_very_deep_folder_is_walked_without_recursion(ws):
    deep = ws / "inbox"
    folders = []
    for _ in range(1200):
        deep = deep / "d"
        deep.mkdir()
        folders.append(deep)
    path = deep / "deep.xlsx"
    path.write_bytes(filled(ws, LEADER))
    os.utime(path, (1_700_000_000, 1_700_000_000))
    try:
        report = nightly(ws)
        assert len(report["accepted"]) == 1 and report["accepted"][0]["file"].endswith("/d/deep.xlsx")
        next_night_takes_a_valid_return(ws)
    finally:  # pytest's own clean-up would recurse
        for folder in reversed(folders):
            for leftover in folder.iterdir():
                if not leftover.is_dir():
                    leftover.unlink()
            folder.rmdir()


def test_an_over_size_file_still_growing_waits(ws):
    """A program still writing the file (it holds it open) after it was listed and hashed, before it is
    archived: it waits for the next night, back in the inbox at its own name."""
    big = drop(ws, "huge.xlsx", b"PK\x03\x04" + b"\0" * (6 << 20))
    drop(ws, "fine.xlsx", filled(ws, LEADER))
    space, config = Workspace.at(ws), load_config(ws / "config")
    engine = open_state(ws / "state" / "clb.sqlite")
    night = inbox.open_night(space, engine, config, inbox.new_run_id())
    batch = inbox.begin_chunk(space, engine, night, 0)
    with big.open("ab") as writer:  # the writer's handle follows the file into staging
        taken = inbox.take_files(space, batch, night.chunks()[0])
        inbox.examine_batch(space, engine, config, batch, taken, FormSpec.of(config.instrument))
        writer.write(b"\0" * 1024)
    inbox.store_batch(space, config, batch)
    inbox.commit_batch(engine, batch)
    inbox.clear_inbox(space, batch)
    night.reports.append(batch.report)
    report = decided(batch.report)
    assert report == {"huge.xlsx": "waiting", "fine.xlsx": "accepted"}
    assert big.stat().st_size == 4 + (6 << 20) + 1024 and not (ws / "inbox" / "fine.xlsx").exists()
    assert batch.report["waiting"] == [
        {"file": "huge.xlsx", "why": "it changed while this run was reading it", "needs_you": False}
    ]
    assert (
        not list((ws / "state" / "archive").rglob(".tmp-*")) and not (ws / "state" / "staging").exists()
    ) or not any((ws / "state" / "staging").iterdir())


def _without_dac_override() -> None:
    """In the child before exec: drop the capabilities that let root read any file (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH) from the bounding set, so root then runs as a service account would run."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_an_unreadable_file_waits_and_the_rest_are_taken_in(ws):
    """Permissions: the run cannot read one file; the files beside it are taken in, it waits."""
    drop(ws, "fine.xlsx", filled(ws, LEADER))
    locked = drop(ws, "locked.xlsx", filled(ws, OTHER))
    os.chmod(locked, 0)
    code = f"from pathlib import Path\nfrom tests.intake_helpers import nightly\nnightly(Path({str(ws)!r}))\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_without_dac_override if os.geteuid() == 0 else None,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((ws / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))
    assert decided(report) == {"fine.xlsx": "accepted", "locked.xlsx": "waiting"}
    assert report["waiting"][0]["why"] == "it cannot be read (Permission denied)"
    assert locked.exists()


# ---------------------------------------------------------------- 5: the guard's promises, end to end


def test_utf16_without_a_byte_order_mark_is_quarantined_not_accepted(ws):
    drop(ws, "utf16.xlsx", H.utf16_without_bom(filled(ws, LEADER)))
    report = nightly(ws)
    assert decided(report) == {"utf16.xlsx": "quarantined"}
    assert "UTF-16" in report["quarantined"][0]["problems"][0]["message"]


# ---------------------------------------------------------------- 6: forged text


def test_a_newline_in_a_file_name_cannot_forge_lines_in_the_reasons(ws):
    raw_drop(ws, b"x.xlsx\nLeader: Priya Raman (all comfortable)\nRun: forged", b"not a workbook")
    report = nightly(ws)
    [reasons] = (ws / "outbox" / "quarantine").rglob("*.reasons.txt")
    lines = reasons.read_text(encoding="utf-8").splitlines()
    assert sum(line.startswith("Leader:") for line in lines) == 1
    assert sum(line.startswith("Run:") for line in lines) == 1
    assert "x.xlsx\\u000aLeader: Priya Raman" in reasons.read_text(encoding="utf-8")
    outputs_load(ws, report)


def test_escape_sequences_never_reach_the_terminal_or_the_log(ws, caplog, monkeypatch):
    from pipeline.cli import common

    monkeypatch.setattr(common.out, "width", 300)
    name = b"\x1b]0;pwned\x07\x1b[2J return.xlsx"
    raw_drop(ws, name, b"%PDF-1.7 not a form")
    runner = CliRunner()
    checked = runner.invoke(
        app, ["check", os.fsdecode(os.path.join(os.fsencode(ws / "inbox"), name)), "--workspace", str(ws)]
    )
    assert checked.exit_code == 1 and "\x1b" not in checked.output and "\\u001b]0;pwned" in checked.output
    with caplog.at_level("DEBUG"):
        report = nightly(ws)
    assert decided(report) == {"\\u001b]0;pwned\\u0007\\u001b[2J return.xlsx": "quarantined"}
    assert not any("\x1b" in record.getMessage() for record in caplog.records)


# ---------------------------------------------------------------- 8: smaller ones


def test_special_files_and_folders_named_like_workbooks_are_listed(ws):
    folder = ws / "inbox"
    os.mkfifo(folder / "pipe.xlsx")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "socket.xlsx"))
        (folder / "folder.xlsx").mkdir()
        drop(ws, "folder.xlsx/inside.xlsx", filled(ws, LEADER))
        report = nightly(ws)
    found = decided(report)
    assert found == {
        "pipe.xlsx": "waiting",
        "socket.xlsx": "waiting",
        "folder.xlsx/": "waiting",
        "folder.xlsx/inside.xlsx": "accepted",
    }
    why = {item["file"]: item["why"] for item in report["waiting"]}
    assert "not an ordinary file" in why["pipe.xlsx"] and "not an ordinary file" in why["socket.xlsx"]
    assert "folder named like a workbook" in why["folder.xlsx/"]
    assert stat.S_ISFIFO(os.stat(folder / "pipe.xlsx").st_mode)  # left alone


def test_a_file_dated_in_the_future_is_taken_in(ws):
    path = drop(ws, "tomorrow.xlsx", filled(ws, LEADER))
    future = 4_000_000_000
    os.utime(path, (future, future))
    assert decided(nightly(ws)) == {"tomorrow.xlsx": "accepted"}


# ---------------------------------------------------------------- chunks


def test_the_inbox_is_taken_in_chunks_each_a_run(ws, monkeypatch):
    monkeypatch.setattr(scan, "CHUNK_FILES", 2)
    for index, leader in enumerate(LEADERS):
        drop(ws, f"return {index}.xlsx", filled(ws, leader))
    # a duplicate of a file in the first chunk (its very bytes: two fills differ when the seconds turn)
    drop(ws, "again.xlsx", (ws / "inbox" / "return 0.xlsx").read_bytes())
    report = nightly(ws)
    assert len(report["runs"]) == 3 and report["runs"][1] == f"{report['run_id']}-2"
    assert len(report["accepted"]) == 4 and [d["file"] for d in report["duplicates"]] == ["again.xlsx"]
    for run in report["runs"]:
        assert (ws / "outbox" / "runs" / run / "summary.json").is_file()


# ---------------------------------------------------------------- whatever lands in the inbox

_text_names = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x1b", "\x07", "\n", "\r", "\t", "\ufffe", "\uffff", "\u202e", "\x85", "\\", "\U0010ffff"]),
    ),
    min_size=1,
    max_size=40,
).map(lambda text: text.encode("utf-8"))
_byte_names = st.binary(min_size=1, max_size=40)
_names = st.one_of(_text_names, _byte_names).map(lambda name: name.replace(b"/", b"_").replace(b"\0", b"_")[:200])
_part_names = st.text(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from(["\x1b", "\n", "\ufffe", "\x07"])), min_size=1, max_size=30
)


@st.composite
def inbox_file(draw, forms: dict[str, bytes]) -> tuple[str, bytes, bytes]:
    """(kind, name, content) of one thing in the inbox."""
    kind = draw(st.sampled_from(["valid", "part-name", "bytes", "truncated", "fifo", "folder", "link"]))
    name = draw(_names)
    if name in (b".", b"..") or name.startswith(b".gitkeep"):
        name = b"_" + name
    data = b""
    if kind == "valid":
        data = forms[draw(st.sampled_from(sorted(forms)))]
    elif kind == "part-name":
        parts = H.parts_of(forms[draw(st.sampled_from(sorted(forms)))])
        folder = draw(st.sampled_from(["xl/", "xl/worksheets/", "xl/embeddings/", "", "docProps/"]))
        parts[folder + draw(_part_names)] = draw(st.binary(max_size=64))
        data = H.repack(parts)
    elif kind == "bytes":
        data = draw(st.binary(max_size=2048))
    elif kind == "truncated":
        form = forms[draw(st.sampled_from(sorted(forms)))]
        data = form[: draw(st.integers(0, len(form)))]
    return kind, name, data


def place(root: Path, kind: str, name: bytes, data: bytes) -> bytes | None:
    """Put one generated thing in the inbox; the name it got, or None when the name was taken."""
    path = os.path.join(os.fsencode(root / "inbox"), name)
    if os.path.lexists(path):
        return None
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        os.mkdir(path)
    elif kind == "link":
        os.symlink(b"/etc/passwd", path)
    else:
        with open(path, "wb") as handle:
            handle.write(data)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    return name


@pytest.fixture(scope="module")
def forms(template) -> dict[str, bytes]:
    return {leader: filled(template, leader) for leader in LEADERS[:2]}


def test_any_inbox_night_completes_and_every_input_is_decided(template, forms, tmp_path_factory):
    """Any inbox (names, bytes, special files): every input decided, the inbox left as it should be,
    every output loads, and the next night takes an ordinary return. Real LibreOffice then opens and saves
    every night's workbooks, all in one start (a start per night would cost a minute)."""
    books: list[Path] = []

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def night(data):
        root = tmp_path_factory.mktemp("night") / "ws"
        shutil.copytree(template, root)
        things = data.draw(st.lists(inbox_file(forms), min_size=1, max_size=6))
        placed = {}
        for kind, name, content in things:
            got = place(root, kind, name, content)
            if got is not None:
                placed[got] = kind
        report = nightly(root)
        expected: dict[str, str] = {}
        stays = set()
        for name, kind in placed.items():
            shown = visible(os.fsdecode(name))
            if kind in ("fifo", "link"):
                expected[shown], _ = "waiting", stays.add(name)
            elif kind == "folder":
                stays.add(name)
                if shown.casefold().endswith(scan.WORKBOOK_SUFFIXES):
                    expected[shown + "/"] = "waiting"
            elif scan.temporary_name(shown):
                expected[shown], _ = "waiting", stays.add(name)
            else:
                expected[shown] = "decided"
        found = decided(report)
        assert set(found) == set(expected)
        for shown, decision in found.items():
            assert decision == expected[shown] or (expected[shown] == "decided" and decision != "waiting"), shown
        remaining = {entry for entry in os.listdir(os.fsencode(root / "inbox")) if entry != b".gitkeep"}
        assert remaining == stays
        outputs_load(root, report)
        books.extend(sorted((root / "outbox" / "reports").rglob("*.xlsx")))
        next_night_takes_a_valid_return(root, "aisling.byrne@riverside-council.example")

    night()
    libreoffice_loads(books, tmp_path_factory.mktemp("lo"))


def libreoffice_loads(found: list[Path], scratch: Path) -> None:
    """Every workbook opens in real LibreOffice and is saved again with the same sheets."""
    from tests.clients import require

    require("soffice")
    books = []
    for number, book in enumerate(found):  # each night's editions have the same names: one folder, unique names
        books.append(scratch / "in" / f"{number:03d}-{book.name}")
        books[-1].parent.mkdir(exist_ok=True)
        shutil.copyfile(book, books[-1])
    result = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(scratch / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(scratch),
            *map(str, books),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert books
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for book in books:
            resaved = openpyxl.load_workbook(scratch / book.name)
            assert resaved.sheetnames == openpyxl.load_workbook(book).sheetnames


# ---------------------------------------------------------------- a failure that is no file's


def test_a_run_that_fails_for_no_files_sake_names_what_it_was_doing(ws):
    (ws / "templates").mkdir()
    (ws / "templates" / "letter.html.j2").write_text("{{ no_such_value.here }}", encoding="utf-8")
    drop(ws, "fine.xlsx", filled(ws, LEADER))
    with pytest.raises(StageFailed) as failure:
        nightly(ws)
    assert str(failure.value).startswith("while writing the letter outbox/letters/2026-Q4/Riverside City Council/")
    assert "UndefinedError" in str(failure.value)
    (ws / "templates" / "letter.html.j2").unlink()  # the facilitator mends the template: the next night runs
    assert nightly(ws)["outputs"]


def test_a_workbook_that_would_not_open_is_never_published_in_silence():
    from pipeline.forms.zipwrite import deflate, write_zip

    broken = write_zip([deflate("xl/worksheets/sheet1.xml", b"<worksheet><c>\xef\xbf\xbe</c></worksheet>")])
    with pytest.raises(StageFailed) as failure:
        check_workbook(broken, "report.xlsx")
    assert str(failure.value).startswith("report.xlsx would not open: xl/worksheets/sheet1.xml is not well-formed")
