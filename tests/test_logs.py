"""The workspace log: one file handler shared by every run logger, so that rotation loses nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipeline import logs
from pipeline.workspace import Workspace


@pytest.mark.filterwarnings("ignore:Logger 'prefect.*attempted to send logs to the API")
def test_rotation_past_the_size_limit_keeps_every_line_once(workspace, monkeypatch):
    """Three loggers write to state/logs/clb.log; past the limit it is renamed clb.log.1, .2 ... With a
    handler per logger (the old bug), each renamed the file under the others and lines went to renamed
    or lost files."""
    monkeypatch.setattr(logs, "MAX_BYTES", 4_000)
    monkeypatch.setattr(logs, "BACKUPS", 50)
    space = Workspace.at(workspace)
    logs.workspace_logging(space)
    mine = str(logs.log_path(space).resolve())  # other tests in this process attached their workspaces' files
    handlers = [
        next(
            h
            for h in logging.getLogger(name).handlers
            if isinstance(h, logging.FileHandler) and str(Path(h.baseFilename).resolve()) == mine
        )
        for name in logs.RUN_LOGGERS
    ]
    assert len({id(h) for h in handlers}) == 1  # one handler, shared
    try:
        lines = [f"line {n:05d} " + "x" * 60 for n in range(600)]  # ~45 kB: crosses the limit ten times
        for n, line in enumerate(lines):
            logging.getLogger(logs.RUN_LOGGERS[n % 3]).info(line)
    finally:
        for name in logs.RUN_LOGGERS:
            logging.getLogger(name).removeHandler(handlers[0])
        handlers[0].close()
    folder = logs.log_path(space).parent
    oldest_first = sorted(
        folder.glob("clb.log*"), key=lambda path: -int(path.suffix[1:] or 0) if path.suffix != ".log" else 0
    )
    assert len(oldest_first) >= 10 and oldest_first[-1].name == "clb.log"
    written = [line for path in oldest_first for line in path.read_text(encoding="utf-8").splitlines()]
    # every line once, in the order written: with a handler per logger, each kept writing into the file
    # another had renamed, so the backups held the lines out of order (and the oldest were deleted early)
    assert [line.split(" INFO ", 1)[1].split(" ", 1)[1] for line in written] == lines
    assert all(path.stat().st_size <= 4_000 + 200 for path in oldest_first)


def test_prefects_housekeeping_stays_off_the_console_but_errors_show(workspace):
    """At exit Prefect's events worker may warn that it is still sending ("Still processing items"): a
    line the facilitator can do nothing about, wider than their terminal. Errors still reach them."""
    import io

    root = logging.getLogger()
    console = logging.StreamHandler(io.StringIO())
    root.addHandler(console)
    try:
        logs.workspace_logging(Workspace.at(workspace))
        logs.workspace_logging(Workspace.at(workspace))  # a second run in the process: one filter
        assert sum(isinstance(f, logs._Housekeeping) for f in console.filters) == 1
        logging.getLogger("EventsWorker").warning("Still processing items: 1 items remaining...")
        logging.getLogger("EventsWorker").error("could not send events")
        logging.getLogger("clb").warning("a warning of clb's own")
    finally:
        root.removeHandler(console)
    shown = console.stream.getvalue()
    assert "Still processing" not in shown
    assert "could not send events" in shown and "a warning of clb's own" in shown
