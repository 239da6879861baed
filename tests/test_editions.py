"""Partners' editions through clb's commands (run in this process: tests/commands.py) and the real
engine: a replaced return or a forgotten leader never shows as a difference between two shareable
editions. The rule itself, against an attacker that enumerates every answer, is in test_suppress.py."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from pipeline.state import open_state
from tests.commands import clb
from tests.conftest import example_workspace
from tests.intake_helpers import drop, filled, forms

pytestmark = pytest.mark.flow


def figures(root: Path) -> dict[tuple[int, str], str]:
    [path] = (root / "outbox" / "reports").rglob("*-shareable.csv")
    return {
        (int(row["perspective"]), row["category"]): row["count"]
        for row in csv.DictReader(io.StringIO(path.read_text()))
    }


def shown(path: Path) -> tuple[bytes, set[str]]:
    """The shareable CSV's figures (every column but the last), and its answered_so_far values: those say
    how many have answered, and change with every return, replacement or erasure."""
    lines = path.read_bytes().splitlines()
    assert lines[0].endswith(b",answered_so_far")
    return b"\n".join(line.rsplit(b",", 1)[0] for line in lines), {
        line.rsplit(b",", 1)[1].decode() for line in lines[1:]
    }


def briefing(root: Path) -> bytes:
    """The briefing, but for the sentence that says how many have answered so far (the CSV's
    answered_so_far): what partners could compare between two editions of it."""
    [path] = (root / "outbox" / "reports").rglob("briefing-*.html")
    page = path.read_bytes()
    assert page.count(b'<p class="whom">') == 1
    return re.sub(rb'<p class="whom">[^<]*</p>', b"", page)


def returns(root: Path, choices: dict[str, str], night: int) -> None:
    for leader, answer in choices.items():
        drop(root, f"night {night} {leader}.xlsx", filled(root, leader, dict.fromkeys(range(1, 8), answer)))


@pytest.fixture
def six(tmp_path, prefect_engine):
    """Night 1: six leaders of the example partnership, two of each answer on every perspective."""
    root = example_workspace(tmp_path / "ws", issue=True)
    settings = root / "config" / "partnership.yaml"  # interim editions: partners compare them night by night
    settings.write_text(settings.read_text(encoding="utf-8") + "shareable: nightly\n", encoding="utf-8")
    leaders = sorted(forms(root))
    first = dict(zip(leaders[:6], ["comfortable"] * 2 + ["stretched"] * 2 + ["panicked"] * 2, strict=True))
    returns(root, first, 1)
    done = clb("nightly", "-w", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {count for (_, category), count in figures(root).items()} == {"2"}
    return root, leaders, first


def test_a_replaced_answer_never_shows_as_a_fall_between_editions(six):
    """Night 2: the first panicked leader replaces their return with comfortable, and five new leaders
    return (two comfortable, three stretched). Before, partners got (5, 5, 1): a count fell, and only a
    replacement makes a count fall. Now they keep the last safe edition, byte for byte."""
    root, leaders, first = six
    [path] = (root / "outbox" / "reports").rglob("*-shareable.csv")
    before, _ = shown(path)
    told = briefing(root)
    replaced = next(leader for leader, answer in first.items() if answer == "panicked")
    second = {replaced: "comfortable"} | dict(zip(leaders[6:11], ["comfortable"] * 2 + ["stretched"] * 3, strict=True))
    returns(root, second, 2)
    done = clb("nightly", "-w", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((root / "outbox" / "runs" / "latest.json").read_text())
    assert len(report["accepted"]) == 6 and sum(1 for item in report["accepted"] if item["supersedes"]) == 1
    assert shown(path) == (before, {"11"})  # partners' figures did not change at all; they count 6 of 11
    assert briefing(root) == told  # nor did the briefing's
    assert report["round"]["responses"] == 11 and report["round"]["shareable_responses"] == 6


def test_a_forgotten_leader_stays_in_the_last_safe_edition(six):
    """clb forget re-published the edition minus exactly that leader, so comparing the two editions gave
    away all seven of their answers. Now partners keep the last safe edition; the leader is nameless in
    it, and gone from everything else."""
    root, leaders, _ = six
    [path] = (root / "outbox" / "reports").rglob("*-shareable.csv")
    before, _ = shown(path)
    told = briefing(root)
    gone = leaders[0]
    done = clb("forget", gone, "--yes", "-w", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert shown(path) == (before, {"5"})  # the same figures; five leaders' answers kept now
    again = clb("nightly", "-w", str(root))
    assert again.returncode == 0 and shown(path) == (before, {"5"})
    assert briefing(root) == told
    engine = open_state(root / "state" / "clb.sqlite")
    members = [json.loads(row[0]) for row in engine.connect().exec_driver_sql("select response_ids from publications")]
    assert members and all(gone not in edition and len(edition) == 6 for edition in members)
    assert all(sum(1 for key in edition if key.startswith("erased:")) == 1 for edition in members)
