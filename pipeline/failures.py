"""Run-level failures that say what the run was doing.

A failure that belongs to one returned file is that file's decision (it waits or is quarantined); one
that stops the run (a full disk, a broken template, a bug) must still tell the operator where it
happened: "while writing outbox/reports/.../comparison-2026-Q4-facilitator.xlsx", not a bare KeyError.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.parsers import expat


class StageFailed(Exception):
    """The run cannot continue; the message names what it was doing and what went wrong. ``public`` says
    the same without a person's name or a path that holds one: what Prefect may record."""

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public if public is not None else message


@contextmanager
def doing(what: str, public: str | None = None) -> Iterator[None]:
    """Name ``what`` the run was doing in any failure inside (the innermost name is kept). ``public``:
    the same words without personal data, where ``what`` names a leader's file."""
    try:
        yield
    except StageFailed:
        raise
    except Exception as exc:
        raise StageFailed(
            f"while {what}: {type(exc).__name__}: {exc}", public=f"while {public or what}: {type(exc).__name__}"
        ) from exc


class PrivateFailure(Exception):
    """A failure as it may cross into Prefect (its logs, states and database, which clb forget cannot
    reach): the step and the kind of error, never a name, an address or a leader's file name. The whole
    message is ``detail``, for the person at the terminal and the workspace's own log."""

    def __init__(self, public: str, detail: str) -> None:
        super().__init__(public)
        self.detail = detail


@contextmanager
def kept_private(step: str) -> Iterator[None]:
    """Around the body of every Prefect task: a failure inside is logged whole to the workspace's log and
    leaves as a ``PrivateFailure`` (no chained cause: Prefect logs the traceback it is given)."""
    try:
        yield
    except PrivateFailure:
        raise
    except Exception as exc:
        if getattr(exc, "not_personal", False):  # e.g. the workspace in use: its own clear message
            raise
        logging.getLogger("clb").error("%s failed: %s", step, exc, exc_info=True)
        public = exc.public if isinstance(exc, StageFailed) else type(exc).__name__
        raise PrivateFailure(f"{step}: {public}", detail=f"{step}: {exc}") from None


def check_workbook(data: bytes, name: str) -> None:
    """Every XML part of a workbook we wrote is well-formed, or the run stops naming the file and part:
    a workbook no program can open must never be published in silence. (expat with no handlers checks
    well-formedness without building anything, in constant memory.)"""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.filename.endswith((".xml", ".rels")):
                parser = expat.ParserCreate()
                try:
                    parser.Parse(archive.read(info), True)
                except expat.ExpatError as exc:
                    raise StageFailed(f"{name} would not open: {info.filename} is not well-formed ({exc})") from None


def checkpoint(name: str) -> None:
    """Die here, as kill -9 would, when CLB_CRASH_AT names this point; or when CLB_HOLD_AT names it, write
    this process's id to CLB_HOLD_FILE and wait: to be killed from outside (the work-pool tests), or until
    that file is removed (the tests that change the inbox under a running night). Tests only."""
    if os.environ.get("CLB_CRASH_AT") == name:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))  # Windows: TerminateProcess, as abrupt
    if os.environ.get("CLB_HOLD_AT") == name:
        held = Path(os.environ["CLB_HOLD_FILE"])
        held.write_text(str(os.getpid()), encoding="utf-8")
        while held.exists():
            time.sleep(0.2)
