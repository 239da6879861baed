"""The audit trail: ``state/audit.log``, one JSON line per thing done to the workspace's personal data.

Each line says when, who (the operating-system account), what (forms issued, a night's intake, messages
sent, files checked, a leader forgotten, a purge, the configuration changed) and on what (counts, codes,
rounds and hashes; never a name, an address or text a leader typed). Each line carries the sha256 of the
line before it, so editing, removing or inserting a line breaks the chain from there on: ``clb audit
--verify`` finds the first break. The file is only ever appended to, under a lock.

A chain alone cannot show lines cut from its end, the file deleted, or the whole trail written anew with
fresh hashes. So the trail is anchored: after every append, the number of lines and the last line's hash
are kept in the state database (``meta``) and in every run report, and that anchor is signed with an
HMAC key kept outside the workspace, in the user's own configuration folder (``key_path``). Rewriting
the trail so that it verifies then takes more than write access to the workspace: the key too.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import secrets
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.contracts import AuditAnchor
from pipeline.state import Engine, database, get_meta, set_meta
from pipeline.workspace import Workspace

START = "0" * 64  # the "previous line" of the first line
ANCHOR = "audit_anchor"  # the meta key of the anchor in the state database
UNANCHORED = 2  # lines one record() appends before it anchors them (a config-changed line and its action)
CONFIG_FILES = ("partnership.yaml", "instrument.yaml", "practices.yaml", "roster.csv", "roster.xlsx")


def audit_path(space: Workspace) -> Path:
    return space.state_dir / "audit.log"


def _digest(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError, ImportError):  # no name for this uid (a container); no pwd (Windows, no USERNAME)
        uid = getattr(os, "getuid", None)
        user = f"uid {uid()}" if uid is not None else "an unnamed account"
    return f"{user}@{socket.gethostname()}"


def config_hashes(space: Workspace) -> dict[str, str]:
    """sha256 of each configuration file there is: a change is recorded by hash, never by content."""
    return {
        name: hashlib.sha256((space.config / name).read_bytes()).hexdigest()
        for name in CONFIG_FILES
        if (space.config / name).is_file()
    }


def record(space: Workspace, action: str, engine: Engine | None = None, **details: Any) -> None:
    """Append one line for ``action`` (after a ``config-changed`` line when config/ differs from the
    last line that recorded it), then anchor the trail in the state (``engine``: the run's database,
    else it is opened for this)."""
    from filelock import FileLock

    path = audit_path(space)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name("audit.lock"), thread_local=False), path.open("a+b") as handle:
        handle.seek(0)
        lines = handle.read().splitlines()
        previous = _digest(lines[-1]) if lines else START
        count = len(lines)
        hashes = config_hashes(space)
        if hashes != _last_config(lines):
            previous = _append(handle, previous, "config-changed", {"files": hashes})
            count += 1
        previous = _append(handle, previous, action, details)
        handle.flush()
        os.fsync(handle.fileno())
        if engine is not None:
            _anchor(engine, count + 1, previous)
        else:
            with database(space.database) as opened:
                _anchor(opened, count + 1, previous)


def key_path() -> Path:
    """The HMAC key that signs the anchors: in the user's configuration folder, outside every workspace
    (CLB_CONFIG_HOME, else %APPDATA%\\clb on Windows, ~/Library/Application Support/clb on macOS,
    $XDG_CONFIG_HOME/clb or ~/.config/clb elsewhere)."""
    if os.environ.get("CLB_CONFIG_HOME"):
        return Path(os.environ["CLB_CONFIG_HOME"]) / "audit.key"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "clb" / "audit.key"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "clb" / "audit.key"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "clb" / "audit.key"


def _key(make: bool) -> bytes | None:
    """The signing key (made, owner-only, on first use when ``make``); None where there is none."""
    path = key_path()
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        if not make:
            return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as stream:
            stream.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileExistsError:
        return _key(make=False)
    except OSError:  # a read-only home: anchors go unsigned, and say so
        return None


def _key_id(key: bytes) -> str:
    """Which key signed an anchor (a hash of it: the key itself never leaves its file)."""
    return hashlib.sha256(b"clb audit key|" + key).hexdigest()[:16]


def _signature(key: bytes, workspace: str, count: int, last: str) -> str:
    return hmac.new(key, f"{workspace}|{count}|{last}".encode(), hashlib.sha256).hexdigest()


def _workspace_id(engine: Engine) -> str:
    """What ties an anchor to its workspace: the state's own random salt (a folder may be moved)."""
    from pipeline.privacy.tombstones import salt

    return salt(engine)


def _anchor(engine: Engine, count: int, last: str) -> None:
    key = _key(make=True)
    anchor: dict[str, object] = {"entries": count, "last": last}
    if key is not None:
        anchor["signature"] = _signature(key, _workspace_id(engine), count, last)
        anchor["key"] = _key_id(key)
    set_meta(engine, ANCHOR, json.dumps(anchor, sort_keys=True))


def current_anchor(engine: Engine) -> AuditAnchor | None:
    """The trail's anchor as the state keeps it (for the run reports): entries and the last hash."""
    text = get_meta(engine, ANCHOR)
    if not text:
        return None
    anchor = json.loads(text)
    return {"entries": int(anchor["entries"]), "last": str(anchor["last"])}


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
    the one before (an edited line breaks the next one's link; a removed one, its successor's) and the
    trail still holds what its anchors (the state's, signed, and every run report's) say it held."""
    path = audit_path(space)
    lines = path.read_bytes().splitlines() if path.is_file() else []
    previous = START
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
    return len(lines), _anchors_problem(space, lines)


def _anchors_problem(space: Workspace, lines: list[bytes]) -> str | None:
    """Whether the trail is short of, or differs from, what the state's anchor and the run reports'
    anchors recorded; and whether the state's anchor carries a valid signature."""
    if not space.database.exists():
        text = None
    else:
        with database(space.database) as engine:
            text = get_meta(engine, ANCHOR)
            workspace_id = _workspace_id(engine)
    anchors: list[tuple[str, int, str]] = []
    if text:
        anchor = json.loads(text)
        count, last = int(anchor["entries"]), str(anchor["last"])
        key = _key(make=False)
        if key is not None:  # the account whose key signs this workspace's anchors checks them
            if anchor.get("key") not in (None, _key_id(key)):
                return (
                    "the state's record of the trail was signed by another account's key: verify as the "
                    "account that runs the nights (or give this one that key, CLB_CONFIG_HOME)"
                )
            expected = _signature(key, workspace_id, count, last)
            if not hmac.compare_digest(str(anchor.get("signature") or ""), expected):
                return "the state's record of the trail was altered (its signature does not match)"
        anchors.append(("the state", count, last))
        if len(lines) > count + UNANCHORED:
            return f"{len(lines) - count} lines were added after the last one the state recorded ({count})"
    for report in sorted((space.outbox / "runs").glob("*/summary.json")):
        try:
            said = json.loads(report.read_bytes()).get("audit")
            if said:
                anchors.append((f"run report {report.parent.name}", int(said["entries"]), str(said["last"])))
        except (OSError, ValueError, TypeError, KeyError):
            continue
    for where, count, last in anchors:
        if count > len(lines):
            gone = "the trail was deleted" if not lines else f"{count - len(lines)} lines were cut from its end"
            return f"{where} recorded {count} entries and the trail holds {len(lines)}: {gone}"
        if count and _digest(lines[count - 1]) != last:
            return f"line {count} is not the line {where} recorded: the trail was rewritten"
    return None
