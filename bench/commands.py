"""How long a facilitator waits for a command: `clb nightly` with nothing new, with and without `clb serve`.

Each figure is the wall time of the installed `clb` command in a fresh process, as a person runs it; the
best and the median of several runs (this machine's timings drift by a third from hour to hour).

Run: uv run python -m bench.commands [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port

CLB = str(Path(sys.executable).with_name("clb"))
BASELINE = "before issue 11: 19-22 s without a server, 5-7 s with clb serve running (the issue's figures)"


def clb(*args: str, check: bool = True) -> float:
    start = time.perf_counter()
    result = subprocess.run([CLB, *args], capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    if check and result.returncode != 0:
        raise SystemExit(f"clb {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return seconds


def timed(workspace: Path, runs: int) -> list[float]:
    clb("nightly", "-w", str(workspace))  # the first run takes in nothing either, but warms the caches
    return [clb("nightly", "-w", str(workspace)) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch) / "ws"
        clb("init", str(workspace))
        clb("forms", "-w", str(workspace))
        alone = timed(workspace, args.runs)
        port = free_port()
        server = subprocess.Popen(
            [CLB, "serve", "-w", str(workspace), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 180
            record = workspace / "state" / "server.json"
            while not record.exists():
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("clb serve did not start")
                time.sleep(0.5)
            url = json.loads(record.read_text())["url"]
            served = timed(workspace, args.runs)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    print(f"clb nightly with nothing new, wall time of the command ({args.runs} runs)")
    print(f"{'':34}{'best':>8}{'median':>9}")
    print(f"{'temporary engine (no server)':34}{min(alone):>7.2f}s{statistics.median(alone):>8.2f}s")
    print(f"{'with clb serve running':34}{min(served):>7.2f}s{statistics.median(served):>8.2f}s   ({url})")
    print(f"Baseline {BASELINE}. Target (issue 11): under 3 s with a server.")


if __name__ == "__main__":
    main()
