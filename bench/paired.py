"""Paired benchmark: intake of the same prepared returns by this checkout and another one, alternately.

This machine's timings drift by a third from hour to hour, so a figure is only comparable with one taken
minutes apart; this runs both checkouts in turn on copies of one workspace and prints the best of each.

Run: uv run python -m bench.paired /path/to/other/checkout --returns 2000 --rounds 4
(make the other checkout with: git worktree add /tmp/base <commit>)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, sys, time
from pathlib import Path
from pipeline.config import load_config
from pipeline.forms.layout import FormSpec
from pipeline.intake import inbox
from pipeline.state import open_state
from pipeline.workspace import Workspace
root = Path(sys.argv[1])
space, config = Workspace.at(root), load_config(root / "config")
engine, spec = open_state(space.database), FormSpec.of(config.instrument)
wall, cpu = time.perf_counter(), time.process_time()
try:
    from pipeline import stages
except ImportError:
    stages = None
if stages is not None:  # the one orchestration of intake
    stages.take_in(space, config)
elif hasattr(inbox, "open_night"):  # before issue 14: the same, written out
    night = inbox.open_night(space, engine, config, inbox.new_run_id())
    for index, chunk in enumerate(night.chunks()):
        night.reports.append(inbox.take_in(space, engine, config, night, index, chunk, spec))
else:  # before issue 10: one batch
    batch, ready = inbox.open_batch(space, engine, config, inbox.new_run_id())
    inbox.examine_batch(space, engine, config, batch, ready, spec)
    inbox.store_batch(space, config, batch)
    inbox.commit_batch(engine, batch)
    inbox.clear_inbox(space, batch)
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="the other checkout (its pipeline/ is imported)")
    parser.add_argument("--returns", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    from bench.intake import prepare

    with tempfile.TemporaryDirectory() as scratch:
        master = Path(scratch) / "master"
        master.mkdir()
        prepare(master, args.returns)
        best: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for label, tree in (("other", args.other.resolve()), ("this", HERE)):
                work = Path(scratch) / "work"
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(master, work)
                env = {**os.environ, "PYTHONPATH": str(tree), "OPENPYXL_LXML": "False"}
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(work)], env=env, cwd=tree, capture_output=True, text=True
                )
                if out.returncode != 0:
                    raise SystemExit(out.stderr[-2000:])
                figures = json.loads(out.stdout.strip().splitlines()[-1])
                runs = best.setdefault(label, [float("inf"), float("inf")])
                runs[0], runs[1] = min(runs[0], figures["wall"]), min(runs[1], figures["cpu"])
    for label, (wall, cpu) in best.items():
        per = 1000 / args.returns
        print(f"{label:6} best of {args.rounds}: {wall * per:.3f} ms per return (CPU {cpu * per:.3f} ms)")


if __name__ == "__main__":
    main()
