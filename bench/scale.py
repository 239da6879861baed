"""Benchmark: many partnerships on one Prefect server at once, PostgreSQL beside SQLite.

20 workspaces of 200 leaders, each with 150 returns in its inbox, every nightly run scheduled for the same
minute, two `clb worker` processes on this machine (tests/scale.py: the same harness as the load test).
The same load runs on a Prefect server on PostgreSQL, then on SQLite (Prefect's default, what `clb serve`
uses). For each: the wall time from the scheduled minute to the last completion, each run's queue wait
(scheduled start to its start on a worker), runs completed and lost, and the lines saying "database is
locked" in the server's and workers' output.

Run: make bench-scale   (or: uv run python -m bench.scale --partnerships 20 --leaders 200 --returns 150)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tests.scale import Engine, Figures, Load, make_partnership

BASELINE = "the same load on Prefect's SQLite server, side by side (issue 15)"


def measure(folder: Path, postgres: bool, partnerships: int, leaders: int, returns: int, limit: int | None) -> Figures:
    roots = [make_partnership(folder / f"partnership-{n:02d}", n, leaders, returns) for n in range(partnerships)]
    engine = Engine(folder / "engine", postgres=postgres)
    try:
        return Load(engine, roots, workers=2, limit=limit).wait()
    finally:
        engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--partnerships", type=int, default=20)
    parser.add_argument("--leaders", type=int, default=200)
    parser.add_argument("--returns", type=int, default=150)
    parser.add_argument("--limit", type=int, default=None, help="clb worker --limit (default: none)")
    parser.add_argument("--only", choices=["PostgreSQL", "SQLite"], default=None, help="measure one database")
    options = parser.parse_args()
    print(
        f"{options.partnerships} partnerships x {options.leaders} leaders x {options.returns} returns, every "
        f"nightly run at the same minute, 2 workers (limit {options.limit or 'none'}); baseline: {BASELINE}"
    )
    found: dict[str, Figures] = {}
    for name, postgres in (("PostgreSQL", True), ("SQLite", False)):
        if options.only not in (None, name):
            continue
        began = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"clb-bench-scale-{name.lower()}-") as folder:
            found[name] = measure(
                Path(folder), postgres, options.partnerships, options.leaders, options.returns, options.limit
            )
        print(f"  {name}: measured in {time.perf_counter() - began:.0f} s", flush=True)
    print(f"\n{'':34}" + "".join(f"{name:>14}" for name in found))
    rows = [
        ("runs completed", lambda f: f"{f.completed} of {len(f.runs) + len(f.missing)}"),
        ("runs lost (missing, not completed)", lambda f: str(f.lost)),
        ('"database is locked" lines', lambda f: str(f.locked)),
        ("wall time, minute to last end (s)", lambda f: f"{f.wall_seconds:.1f}"),
        ("queue wait, fastest (s)", lambda f: f"{min(f.waits):.1f}"),
        ("queue wait, median (s)", lambda f: f"{statistics.median(f.waits):.1f}"),
        ("queue wait, slowest (s)", lambda f: f"{max(f.waits):.1f}"),
    ]
    for label, show in rows:
        print(f"{label:34}" + "".join(f"{_safe(show, found[name]):>14}" for name in found))
    for name, figures in found.items():
        waits = ", ".join(f"{wait:.1f}" for wait in figures.waits)
        print(f"\n{name}: each run's queue wait (s), in order: {waits}")
        for run in figures.runs:
            if run["state"] != "COMPLETED":
                print(f"  not completed: {run['deployment']}: {run['state_name']} ({run['state']})")
        for deployment in figures.missing:
            print(f"  no run at the minute: {deployment}")
        for line in figures.locked_lines:
            print(f"  {line[:160]}")


def _safe(show, figures: Figures) -> str:  # type: ignore[no-untyped-def]
    try:
        return str(show(figures))
    except ValueError:  # no run started at all
        return "-"


if __name__ == "__main__":
    main()
