"""How long a facilitator waits for each command at a terminal, beside the floor a Python command can
reach: importing what clb needs (`python -c "import prefect, pandas, openpyxl, jinja2"`), in one run.

Each figure is the wall time of the installed `clb` in a fresh process, as a person runs it, with no `clb
serve` running: the median of several runs, taken in turn with the floor (this machine's timings drift
by a third from hour to hour). The first command after a quiet spell also starts the workspace's engine;
it is measured on its own.

Run: uv run python -m bench.commands [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLB = str(Path(sys.executable).with_name("clb"))
FLOOR = [sys.executable, "-c", "import prefect, pandas, openpyxl, jinja2"]
BASELINE = {  # issue 24's figures, measured before the workspace's engine (median of 5, quiet machine)
    "nightly, nothing new": "12.5 s (3.7x)",
    "first command (engine starts)": "20.9 s (a bare flow)",
}
GOAL = 1.5  # times the floor


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    seconds = time.perf_counter() - start
    if result.returncode not in (0, 1):  # 1: done, and something needs the facilitator
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return seconds


def stop_engine(workspace: Path) -> None:
    from pipeline.workspace_engine import read_record, retire

    if read_record(workspace / "state") is not None:
        retire(workspace / "state", wait_seconds=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CLB_ENGINE"))}
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch) / "ws"
        where = ["-w", str(workspace)]
        subprocess.run([CLB, "init", str(workspace)], capture_output=True, check=True, env=env)
        subprocess.run([CLB, "forms", *where], capture_output=True, check=True, env=env)  # the one first start
        commands = {
            "nightly, nothing new": [CLB, "nightly", *where],
            "forms, nothing changed": [CLB, "forms", *where],
            "send invitations (every leader)": [CLB, "send", "invitations", "--resend", *where],
            "status": [CLB, "status", *where],
        }
        figures: dict[str, list[float]] = {name: [] for name in ("floor", "first command (engine starts)", *commands)}
        try:
            for _ in range(args.runs):
                stop_engine(workspace)
                figures["first command (engine starts)"].append(timed(commands["nightly, nothing new"], env))
                figures["floor"].append(timed(FLOOR, env))
                for name, command in commands.items():
                    figures[name].append(timed(command, env))
        finally:
            stop_engine(workspace)
        with (workspace / "config" / "roster.csv").open(encoding="utf-8") as roster:
            leaders = sum(1 for line in roster if line.strip()) - 1
    floor = statistics.median(figures["floor"])
    print(f"Each clb command at a terminal, no clb serve: wall time, median of {args.runs} (best)")
    print(f"{'':34}{'median':>8}{'best':>8}{'x floor':>9}   goal / before")
    for name, values in figures.items():
        median = statistics.median(values)
        goal = (
            "the floor"
            if name == "floor"
            else (f"<= {GOAL}x" if name != "first command (engine starts)" else "once in a while")
        )
        before = BASELINE.get(name, "")
        print(
            f"{name:34}{median:>7.2f}s{min(values):>7.2f}s{median / floor:>8.2f}x   {goal}"
            + (f"; before: {before}" if before else "")
        )
    print(f"(send invitations drafts {leaders} messages a run; the floor: python {' '.join(FLOOR[1:])})")


if __name__ == "__main__":
    main()
