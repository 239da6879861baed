"""The audit trail: ``state/audit.log``, one JSON line per thing done to the workspace's personal data.

Each line says when, who (the operating-system account), what (forms issued, a night's intake, messages
sent, files checked, a leader forgotten, a purge, the configuration changed) and on what (counts, codes,
rounds and hashes; never a name, an address or text a leader typed). Each line carries the sha256 of the
line before it, so editing, removing or inserting a line breaks the chain from there on: ``clb audit
--verify`` finds the first break. The file is only ever appended to, under a lock.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.workspace import Workspace

START = "0" * 64  # the "previous line" of the first line
CONFIG_FILES = ("partnership.yaml", "instrument.yaml", "practices.yaml", "roster.csv", "roster.xlsx")


def audit_path(space: Workspace) -> Path:
    return space.state_dir / "audit.log"


def _digest(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def config_hashes(space: Workspace) -> dict[str, str]:
    """sha256 of each configuration file there is: a change is recorded by hash, never by content."""
    return {
        name: hashlib.sha256((space.config / name).read_bytes()).hexdigest()
        for name in CONFIG_FILES
        if (space.config / name).is_file()
    }


def record(space: Workspace, action: str, **details: Any) -> None:
    """Append one line for ``action`` (after a ``config-changed`` line when config/ differs from the
    last line that recorded it)."""
    path = audit_path(space)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            lines = handle.read().splitlines()
            previous = _digest(lines[-1]) if lines else START
            hashes = config_hashes(space)
            if hashes != _last_config(lines):
                previous = _append(handle, previous, "config-changed", {"files": hashes})
            _append(handle, previous, action, details)
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _append(handle: Any, previous: str, action: str, details: dict[str, Any]) -> str:
    from pipeline.state import now

    entry = {"at": now(), "who": _who(), "action": action, "details": details, "previous": previous}
    line = json.dumps(entry, sort_keys=True, ensure_ascii=False).encode("utf-8")
    handle.write(line + b"\n")
    return _digest(line)


def _last_config(lines: list[bytes]) -> dict[str, str] | None:
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            return None
        if entry.get("action") == "config-changed":
            files = entry.get("details", {}).get("files")
            return files if isinstance(files, dict) else None
    return None


@dataclass(frozen=True)
class Entry:
    number: int  # the line number, from 1
    at: str
    who: str
    action: str
    details: dict[str, Any]


def entries(space: Workspace) -> Iterator[Entry]:
    """Every line that reads as an entry (``verify`` says whether they can be trusted)."""
    path = audit_path(space)
    if not path.is_file():
        return
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            item = json.loads(line)
            yield Entry(number, str(item["at"]), str(item["who"]), str(item["action"]), dict(item["details"]))
        except (ValueError, KeyError, TypeError):
            yield Entry(number, "", "", "(unreadable)", {})


def verify(space: Workspace) -> tuple[int, str | None]:
    """How many lines the chain holds, and the first problem: None when every line carries the hash of
    the one before (an edited line breaks the next one's link; a removed one, its successor's)."""
    path = audit_path(space)
    if not path.is_file():
        return 0, None
    previous = START
    lines = path.read_bytes().splitlines()
    for number, line in enumerate(lines, start=1):
        try:
            claimed = json.loads(line).get("previous")
        except (ValueError, AttributeError):
            return len(lines), f"line {number} is not an audit entry (edited or damaged)"
        if claimed != previous:
            return len(lines), (
                f"line {number} does not follow line {number - 1}: line {number - 1} was edited, or a line "
                "was removed or inserted before it"
                if number > 1
                else "line 1 is not the first entry ever written: lines were removed from the start"
            )
        previous = _digest(line)
    return len(lines), None
