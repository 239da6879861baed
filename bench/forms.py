"""Benchmark: issuing forms for 2,000 leaders in 40 organisations (issue 2).

Prints, from one run: the fast template path (plan, write every file atomically, record in the state
database) against building each workbook with openpyxl (the reference builder), per form, and each
phase's peak memory (the high-water mark of a fresh process running only that phase).

Run: make bench   (or: uv run python -m bench.forms --leaders 2000 --organisations 40)
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_kib() -> int:
    """This process's peak resident memory (VmHWM). Unlike ru_maxrss it is not inherited through exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def make_workspace(root: Path, leaders: int, organisations: int) -> None:
    shutil.copytree(REPO / "config", root / "config")
    lines = ["organisation,name,email,role"]
    for i in range(leaders):
        org = i % organisations
        lines.append(
            f"Organisation {org:02d} of the Partnership,Leader {i:04d} Émile Ñúñez,leader{i}@org{org}.example,Role {i}"
        )
    (root / "config" / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def fast_phase(root: str, queue: multiprocessing.Queue) -> None:
    from pipeline import stages
    from pipeline.config import load_config
    from pipeline.state import open_state
    from pipeline.workspace import Workspace

    space = Workspace.at(Path(root))
    times: dict[str, float] = {"template": 0.0}
    start = time.perf_counter()
    config = load_config(space.config)
    open_state(space.database)
    times["load"] = time.perf_counter() - start
    summary = stages.issue_forms(space, config, timings=times)  # the stage the flow runs, step by step
    times["total"] = time.perf_counter() - start
    queue.put((times, summary.written, peak_kib()))


def reference_phase(root: str, count: int, queue: multiprocessing.Queue) -> None:
    import dataclasses

    from pipeline.config import load_config
    from pipeline.forms.issuing import shared_fields
    from pipeline.forms.reference import build_form

    config = load_config(Path(root) / "config")
    shared = shared_fields(config)
    start = time.perf_counter()
    for leader in config.roster[:count]:
        build_form(
            config.instrument,
            dataclasses.replace(
                shared, name=leader.name, organisation=leader.organisation, role=leader.role, token="x" * 32
            ),
        )
    queue.put((time.perf_counter() - start, peak_kib()))


def run(target, *args):  # type: ignore[no-untyped-def]
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leaders", type=int, default=2000)
    parser.add_argument("--organisations", type=int, default=40)
    parser.add_argument("--reference", type=int, default=0, help="forms built by openpyxl (default: all leaders)")
    args = parser.parse_args()
    reference_count = args.reference or args.leaders
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        make_workspace(root, args.leaders, args.organisations)
        times, written, fast_rss = run(fast_phase, str(root))
        rerun, rewritten, _ = run(fast_phase, str(root))
        reference_seconds, reference_rss = run(reference_phase, str(root), reference_count)
    per_form = (times["plan"] + times["write"] + times["record"]) / written * 1000
    reference_per_form = reference_seconds / reference_count * 1000
    print(f"Issuing forms: {args.leaders} leaders in {args.organisations} organisations, one run")
    print(f"{'':34}{'fast template path':>22}{'openpyxl per form':>22}")
    print(f"{'per form (ms)':34}{per_form:>22.3f}{reference_per_form:>22.3f}")
    print(f"{'  of which: render+write (ms)':34}{times['write'] / written * 1000:>22.3f}")
    print(f"{'  of which: plan+record (ms)':34}{(times['plan'] + times['record']) / written * 1000:>22.3f}")
    print(f"{'fixed start: config+state (ms)':34}{times['load'] * 1000:>22.1f}")
    print(f"{'fixed start: template (ms)':34}{times['template'] * 1000:>22.1f}")
    all_fast, all_reference = per_form * written / 1000, reference_per_form * args.leaders / 1000
    print(f"{'all forms, excl. fixed start (s)':34}{all_fast:>22.2f}{all_reference:>22.2f}")
    print(f"{'peak memory, whole process (MiB)':34}{fast_rss / 1024:>22.1f}{reference_rss / 1024:>22.1f}")
    print(f"{'speed-up':34}{reference_per_form / per_form:>21.1f}x")
    print(f"{'rerun, nothing changed (s)':34}{rerun['total']:>22.2f}   (forms written: {rewritten})")
    print("Targets (issue 2): <= 2 ms per form beyond the fixed start; >= 10x faster than openpyxl per form.")


if __name__ == "__main__":
    main()
