"""Listing the inbox: every file under it, any name, any depth, each either ready or waiting with the
reason (still being saved, not a file, unreadable). Nothing found is passed over in silence."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.contracts import Waiting
from pipeline.text import visible

CHUNK_FILES = 500


CHUNK_BYTES = 32 * 1024 * 1024  # bounds the bytes a chunk holds between reading and archiving


TEMPORARY_PREFIXES = ("~$", ".~lock", "~lock")


TEMPORARY_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download", "~")


WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")


@dataclass(frozen=True, slots=True)
class InboxFile:
    path: Path
    name: str  # inbox-relative, forward slashes, made visible: how the facilitator knows it
    size: int
    mtime_ns: int


def chunked(files: list[InboxFile], most: int | None = None, most_bytes: int | None = None) -> list[list[InboxFile]]:
    """Consecutive files (oldest first), at most ``most`` of them (CHUNK_FILES) and ``most_bytes`` of
    bytes (CHUNK_BYTES) in each chunk; a file over the byte budget goes alone (it is refused as too
    large without being read)."""
    most, most_bytes = most or CHUNK_FILES, most_bytes or CHUNK_BYTES
    chunks: list[list[InboxFile]] = []
    current: list[InboxFile] = []
    size = 0
    for item in files:
        if current and (len(current) >= most or size + item.size > most_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        chunks.append(current)
    return chunks


def temporary_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1].casefold()
    return base.startswith(TEMPORARY_PREFIXES) or base.endswith(TEMPORARY_SUFFIXES)


def waiting_entry(name: str, why: str, needs_you: bool = True) -> Waiting:
    return {"file": name, "why": why, "needs_you": needs_you}


def why_not(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def scan_inbox(
    inbox: Path, settle_seconds: float, clock: Callable[[], float] = time.time
) -> tuple[list[InboxFile], list[Waiting]]:
    """Every file under the inbox, any name, any depth (walked without recursion): those ready, and the
    rest with the reason each is left where it is. Nothing found is passed over in silence."""
    ready: list[InboxFile] = []
    waiting: list[Waiting] = []
    if not inbox.is_dir():
        return ready, waiting
    moment = clock()
    folders: list[tuple[Path, str]] = [(inbox, "")]
    while folders:
        folder, prefix = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            waiting.append(waiting_entry(visible(prefix or "."), f"the folder cannot be read ({why_not(exc)})"))
            continue
        for entry in entries:
            raw = f"{prefix}/{entry.name}" if prefix else entry.name
            name = visible(raw)
            try:
                if entry.is_symlink():
                    why = "it is a link, not a file: save the attachment itself into the inbox"
                    waiting.append(waiting_entry(name, why))
                elif entry.is_dir(follow_symlinks=False):
                    folders.append((Path(entry.path), raw))
                    if entry.name.casefold().endswith(WORKBOOK_SUFFIXES):
                        why = "it is a folder named like a workbook: save the attachment itself into the inbox"
                        waiting.append(waiting_entry(name + "/", why))
                elif not entry.is_file(follow_symlinks=False):
                    why = "it is not an ordinary file (a pipe, socket or device), so nothing can be read from it"
                    waiting.append(waiting_entry(name, why + "; remove it"))
                elif raw == ".gitkeep":
                    continue
                elif temporary_name(raw):
                    why = "its name shows it is still being saved (a temporary file)"
                    waiting.append(waiting_entry(name, why, needs_you=False))
                else:
                    stat = entry.stat(follow_symlinks=False)
                    age = moment - stat.st_mtime
                    if -settle_seconds < age < settle_seconds:
                        why = f"it changed less than {settle_seconds:g} seconds ago"
                        waiting.append(waiting_entry(name, why, needs_you=False))
                    else:  # settled, or dated in the future (a clock elsewhere): no run can wait that out
                        ready.append(InboxFile(Path(entry.path), name, stat.st_size, stat.st_mtime_ns))
            except OSError as exc:
                waiting.append(waiting_entry(name, f"it cannot be examined ({why_not(exc)})"))
    ready.sort(key=lambda item: (item.mtime_ns, item.name))
    waiting.sort(key=lambda item: item["file"])
    return ready, waiting
