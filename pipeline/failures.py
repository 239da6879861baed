"""Run-level failures that say what the run was doing.

A failure that belongs to one returned file is that file's decision (it waits or is quarantined); one
that stops the run (a full disk, a broken template, a bug) must still tell the operator where it
happened: "while writing outbox/reports/.../comparison-2026-Q4-facilitator.xlsx", not a bare KeyError.
"""

from __future__ import annotations

import io
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.parsers import expat


class StageFailed(Exception):
    """The run cannot continue; the message names what it was doing and what went wrong."""


@contextmanager
def doing(what: str) -> Iterator[None]:
    """Name ``what`` the run was doing in any failure inside (the innermost name is kept)."""
    try:
        yield
    except StageFailed:
        raise
    except Exception as exc:
        raise StageFailed(f"while {what}: {type(exc).__name__}: {exc}") from exc


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
    this process's id to CLB_HOLD_FILE and wait to be killed by it (used by the crash tests only)."""
    if os.environ.get("CLB_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("CLB_HOLD_AT") == name:  # wait here to be killed from outside (the work-pool tests)
        Path(os.environ["CLB_HOLD_FILE"]).write_text(str(os.getpid()), encoding="utf-8")
        while True:
            time.sleep(1)
