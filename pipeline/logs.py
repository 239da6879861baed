"""Logs: INFO and above to a file in the workspace (state/logs/clb.log), the console kept quiet.

Prefect's run loggers carry what each run did to the file, and to the Prefect UI when a server is
running; the console shows warnings and errors only, so a facilitator's terminal stays readable.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from pipeline.workspace import Workspace

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "clb")


def log_path(space: Workspace) -> Path:
    return space.state_dir / "logs" / "clb.log"


def workspace_logging(space: Workspace) -> None:
    """Attach the workspace's log file (once per process and file) and let INFO through to it."""
    path = log_path(space)
    path.parent.mkdir(parents=True, exist_ok=True)
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if not any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
            handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
            handler.setLevel(logging.INFO)
            logger.addHandler(handler)
    for console in logging.getLogger("prefect").handlers:
        if isinstance(console, logging.StreamHandler) and not isinstance(console, logging.FileHandler):
            console.setLevel(logging.WARNING)
