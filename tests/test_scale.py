"""The load test: 4 partnerships of 40 leaders, each with 30 returns in its inbox, every
nightly run scheduled for the same minute on a Prefect server on PostgreSQL (restarted between the
scheduling and the minute), two workers. Every run completes, none is lost, no "database is locked",
and every workspace ends exactly as the same night run alone without the engine. No timing is
asserted: `make bench-scale` runs the full load (200 leaders, 150 returns each) and reports the figures,
beside SQLite's. (Marked 'scale': skip locally with -m 'not scale'.)"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest

from tests.intake_helpers import nightly
from tests.outcome import outcome
from tests.scale import Engine, Load, make_partnership

pytestmark = pytest.mark.scale

PARTNERSHIPS, LEADERS, RETURNS = 4, 40, 30  # two runs for each worker, queued; the figures: make bench-scale


def test_four_partnerships_at_the_same_minute_on_two_workers(tmp_path):
    roots = [make_partnership(tmp_path / f"partnership-{n:02d}", n, LEADERS, RETURNS) for n in range(PARTNERSHIPS)]
    alone = tmp_path / "alone"
    for root in roots:
        shutil.copytree(root, alone / root.name)
    engine = Engine(tmp_path / "engine", postgres=True)
    try:
        load = Load(engine, roots, workers=2)
        # the server restarted after the runs were scheduled, before their minute: on PostgreSQL the
        # schedules survive, and the runs happen at their minute all the same
        engine.restart_server()
        assert datetime.now(UTC) < load.when, "the restart came after the minute: it proves nothing"
        expected = {}
        for root in roots:  # while the minute comes: each night alone, without the engine
            nightly(alone / root.name)
            expected[root.name] = outcome(alone / root.name)
        figures = load.wait()
    finally:
        engine.stop()
    assert figures.missing == [], figures.missing
    assert [run["state"] for run in figures.runs] == ["COMPLETED"] * PARTNERSHIPS, figures.runs
    assert [run["run_count"] for run in figures.runs] == [1] * PARTNERSHIPS
    assert figures.locked == 0
    for root in roots:
        report = json.loads((root / "outbox" / "runs" / "latest.json").read_text(encoding="utf-8"))
        assert (len(report["accepted"]), len(report["quarantined"])) == (29, 1), root.name
        assert outcome(root) == expected[root.name], root.name
