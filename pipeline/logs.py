"""Logs: INFO and above to a file in the workspace (state/logs/clb.log), the console kept quiet.

Prefect's run loggers carry what each run did to the file, and to the Prefect UI when a server is
running. The console shows warnings and errors only, so a facilitator's terminal holds clb's own lines;
``clb --verbose`` (CLB_VERBOSE=1) shows the runs' lines there too.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from pipeline.workspace import Workspace

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "clb")
# Prefect's own services, saying at exit that they are still sending events or logs to the server: their
# housekeeping, not the facilitator's business (and a line wider than the terminal)
HOUSEKEEPING = ("EventsWorker", "APILogWorker")
VERBOSE = "CLB_VERBOSE"
MAX_BYTES, BACKUPS = 5_000_000, 5  # clb.log is renamed clb.log.1 (and so on) past MAX_BYTES


def log_path(space: Workspace) -> Path:
    return space.state_dir / "logs" / "clb.log"


def workspace_logging(space: Workspace) -> None:
    """Attach the workspace's log file (one handler per process and file, shared by the run loggers, so
    that rotation renames the file once) and let INFO through to it; keep consoles at WARNING unless
    verbose. Called inside each flow, after Prefect has set up its own logging."""
    path = log_path(space)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = _file_handler(path)
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if handler not in logger.handlers:
            logger.addHandler(handler)
    level = logging.INFO if os.environ.get(VERBOSE) == "1" else logging.WARNING
    for owner in (logging.getLogger(), logging.getLogger("prefect")):
        for console in owner.handlers:
            if isinstance(console, logging.StreamHandler) and not isinstance(console, logging.FileHandler):
                console.setLevel(level)
                if not any(isinstance(kept, _Housekeeping) for kept in console.filters):
                    console.addFilter(_Housekeeping())


class _Housekeeping(logging.Filter):
    """Keeps Prefect's housekeeping warnings (``HOUSEKEEPING``) off the console; errors still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name not in HOUSEKEEPING or record.levelno >= logging.ERROR


_HANDLERS: dict[Path, logging.Handler] = {}


def _file_handler(path: Path) -> logging.Handler:
    handler = _HANDLERS.get(path)
    if handler is None:
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.setLevel(logging.INFO)
        _HANDLERS[path] = handler
    return handler
