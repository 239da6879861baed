"""A run killed with SIGKILL at any stage, then run again, ends exactly where an uninterrupted run ends:
same decisions, same responses, same quarantine and correction files, nothing lost or counted twice."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import tests.hostile as H
from tests.intake_helpers import ALL_COMFORTABLE, LEADER, OTHER, drop, filled, nightly
from tests.outcome import snapshot

POINTS = ["after-begin", "after-staging", "after-archive", "after-outputs", "after-commit", "mid-removal"]


def populate(root: Path) -> None:
    valid = filled(root, LEADER)
    drop(root, "valid.xlsx", valid)
    drop(root, "again.xlsx", valid)
    drop(root, "later.xlsx", filled(root, LEADER, ALL_COMFORTABLE))
    drop(root, "two ticks.xlsx", filled(root, OTHER, p1_stretched="✓"))
    drop(root, "sub/notes.csv", H.csv_renamed())


def run_in_child(root: Path, point: str | None) -> int:
    code = f"from pathlib import Path\nfrom tests.intake_helpers import nightly\nnightly(Path({str(root)!r}))\n"
    env = {**__import__("os").environ, "CLB_CRASH_AT": point or ""}
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=Path(__file__).parents[1], timeout=120).returncode


@pytest.fixture(scope="module")
def template(tmp_path_factory, example_config) -> Path:
    """One issued workspace with returns in its inbox; every test works on a copy of it."""
    from tests.conftest import example_workspace

    root = example_workspace(tmp_path_factory.mktemp("crash") / "ws", issue=True)
    populate(root)
    return root


@pytest.fixture(scope="module")
def expected(template, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("reference") / "ws"
    shutil.copytree(template, root)
    nightly(root)
    nightly(root)  # an uninterrupted run followed by an ordinary empty one
    return snapshot(root)


@pytest.mark.parametrize("point", POINTS)
def test_killed_run_then_rerun_matches_an_uninterrupted_run(template, expected, tmp_path, point):
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    assert run_in_child(root, point) == -signal.SIGKILL
    held = [p for p in (root / "inbox").rglob("*") if p.is_file()]
    held += [p for p in (root / "state" / "staging").rglob("*") if p.is_file() and p.name != "manifest.json"]
    if point in ("after-begin", "after-staging", "after-archive", "after-outputs", "after-commit"):
        assert len(held) == 5, "a file the killed run had not finished with must be in the inbox or its staging"
    nightly(root)
    got = snapshot(root)
    summaries = got.pop("summaries")
    assert got == {k: v for k, v in expected.items() if k != "summaries"}
    assert summaries >= 1
    assert expected["inbox"] == [] and len(expected["received"]) == 5


def test_a_killed_run_leaves_no_unreported_outputs(template, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    assert run_in_child(root, "after-outputs") == -signal.SIGKILL
    dead = [p.name for p in (root / "outbox" / "runs").iterdir()]
    report = nightly(root)
    assert not any(
        (root / "outbox" / kind / run).exists() for run in dead for kind in ("runs", "quarantine", "corrections")
    )
    assert json.loads((root / "outbox" / "runs" / "latest.json").read_text())["run_id"] == report["run_id"]
