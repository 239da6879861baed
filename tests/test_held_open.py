"""A workbook left open in Excel costs nothing. On Windows a file another program holds open cannot be
replaced (a sharing violation: PermissionError) nor removed; here that is simulated at os.replace and
os.unlink for the files a test says are open, as Windows refuses them."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from pipeline.files import beside, write_output
from pipeline.reports.build import report_paths
from tests.conftest import example_workspace
from tests.intake_helpers import LEADER, OTHER, drop, filled, nightly

SHARING_VIOLATION = "The process cannot access the file because it is being used by another process"


class Excel:
    """The files a facilitator has open: replacing or removing one fails as it does on Windows."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open: set[Path] = set()
        replace, unlink = os.replace, os.unlink

        def held_replace(source, target, *args, **kwargs):
            if Path(target).resolve() in self.open:
                raise PermissionError(errno.EACCES, SHARING_VIOLATION, str(target))
            return replace(source, target, *args, **kwargs)

        def held_unlink(path, *args, **kwargs):
            if Path(path).resolve() in self.open:
                raise PermissionError(errno.EACCES, SHARING_VIOLATION, str(path))
            return unlink(path, *args, **kwargs)

        monkeypatch.setattr(os, "replace", held_replace)
        monkeypatch.setattr(os, "unlink", held_unlink)

    def opens(self, *paths: Path) -> None:
        self.open |= {path.resolve() for path in paths}

    def closes_all(self) -> None:
        self.open.clear()


def test_a_held_file_gets_its_new_edition_beside_it_and_the_next_write_tidies(tmp_path, monkeypatch):
    excel = Excel(monkeypatch)
    book = tmp_path / "comparison.xlsx"
    book.write_bytes(b"old")
    excel.opens(book)
    assert write_output(book, b"new") == beside(book) == tmp_path / "comparison (new).xlsx"
    excel.opens(beside(book))  # the facilitator opened the new one as well
    assert write_output(book, b"newer") == tmp_path / "comparison (new 2).xlsx"
    assert (book.read_bytes(), beside(book).read_bytes(), beside(book, 2).read_bytes()) == (b"old", b"new", b"newer")
    assert not list(tmp_path.glob(".tmp-*")), "a temporary file was left behind"
    excel.open = {beside(book).resolve()}  # the old one closed; the first new one still open
    assert write_output(book, b"newest") is None
    assert book.read_bytes() == b"newest"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comparison (new).xlsx", "comparison.xlsx"]
    excel.closes_all()
    assert write_output(book, b"last") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comparison.xlsx"]


def test_a_folder_clb_may_not_write_to_is_not_taken_for_a_held_file(tmp_path, monkeypatch):
    excel = Excel(monkeypatch)
    missing = tmp_path / "figures.csv"
    excel.opens(missing)  # refused although no such file exists: not a file held open
    with pytest.raises(PermissionError):
        write_output(missing, b"x")
    assert list(tmp_path.iterdir()) == []


def test_the_night_goes_on_says_which_file_was_open_and_the_next_night_puts_it_in_place(tmp_path, monkeypatch):
    root = example_workspace(tmp_path / "riverside", issue=True)
    drop(root, "a.xlsx", filled(root, LEADER))
    nightly(root)
    paths = {kind: root / path for kind, path in report_paths(json_round(root)).items()}
    before = {kind: path.read_bytes() for kind, path in paths.items()}
    excel = Excel(monkeypatch)
    excel.opens(paths["facilitator"], paths["figures"])

    drop(root, "b.xlsx", filled(root, OTHER))
    report = nightly(root)
    assert len(report["accepted"]) == 1
    facilitator, figures = (paths[kind].relative_to(root).as_posix() for kind in ("facilitator", "figures"))
    new = beside(paths["facilitator"]).relative_to(root).as_posix()
    held = [
        {"file": facilitator, "written_to": new},
        {"file": figures, "written_to": beside(paths["figures"]).relative_to(root).as_posix()},
    ]
    assert report["held"] == held  # the shareable workbook was not open: replaced as usual
    assert new in report["outputs"] and facilitator not in report["outputs"]
    assert paths["shareable"].read_bytes() != before["shareable"]
    assert paths["figures"].read_bytes() == before["figures"] != beside(paths["figures"]).read_bytes()
    assert paths["facilitator"].read_bytes() == before["facilitator"]  # what Excel shows is untouched
    assert responses(root / new) == 2 and responses(paths["facilitator"]) == 1
    saved = json.loads((root / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))
    assert saved["held"] == report["held"]

    report = nightly(root)  # still open: the new editions stay beside them, and are said again
    assert report["held"] == held
    excel.closes_all()
    report = nightly(root)  # nothing new, but an edition waits beside its file: put in place
    assert "held" not in report and facilitator in report["outputs"]
    assert responses(paths["facilitator"]) == 2
    assert not beside(paths["facilitator"]).exists() and not beside(paths["figures"]).exists()
    assert nightly(root)["outputs"] == []  # and then a night with nothing new writes nothing


def json_round(root: Path) -> str:
    return json.loads((root / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))["round"]["round"]


def responses(path: Path) -> int:
    """The returns a facilitator workbook counts (its response tracker's 'returned' rows)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return sum(1 for row in book["Response tracker"].iter_rows(values_only=True) if "returned" in row)
    finally:
        book.close()


def test_a_leader_forgotten_while_a_workbook_showing_them_is_open_is_removed_from_it_once_it_closes(
    tmp_path, monkeypatch
):
    """clb forget cannot rewrite a workbook open in Excel: it says the file is left (the erasure stays on
    the to-do list), and the same command run once the workbook is closed finishes the job."""
    from pipeline import stages
    from pipeline.demo import prepare_demo, simulate_returns
    from pipeline.workspace import Workspace
    from tests.bytesearch import search
    from tests.conftest import EXAMPLE_CONFIG, issue_forms_here

    leader = "aisling.byrne@riverside-council.example"
    root = prepare_demo(EXAMPLE_CONFIG, tmp_path / "ws")
    issue_forms_here(root)
    simulate_returns(root)
    nightly(root)
    facilitator = root / report_paths(json_round(root))["facilitator"]
    words = [leader, "Aisling Byrne"]

    def naming() -> set[str]:
        """The files that still name the leader (a workbook's parts count as the workbook)."""
        found = search(root, words, skip=("config",))
        return {Path(where.split("!")[0]).relative_to(root).as_posix() for where, _ in found}

    shown = facilitator.relative_to(root).as_posix()
    assert shown in naming()
    excel = Excel(monkeypatch)
    excel.opens(facilitator)

    first = stages.forget(Workspace.at(root), leader)
    assert first.left == [shown]
    assert naming() == {shown, "state/clb.sqlite"}  # and the state's to-do, which names them until done
    assert beside(facilitator).exists()  # the edition without them, beside the open one

    excel.closes_all()
    second = stages.forget(Workspace.at(root), leader)
    assert second.left == [] and naming() == set()
    assert facilitator.exists() and not beside(facilitator).exists()
