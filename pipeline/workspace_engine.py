"""The workspace's engine: one Prefect server per workspace, started by the first clb command that needs
it, shared by every command after it, and gone once nobody has used it for a while.

A Prefect server takes seconds of CPU to start (importing its app, opening its database, starting its
services), longer than most commands' own work. Started once and kept for ``idle_seconds``
(CLB_ENGINE_IDLE_SECONDS, 15 minutes unless set), it makes every later command cost little more than
Python's imports, and every run is still a Prefect flow run in the workspace's own record of runs (the
UI of `clb serve` shows them).

Who may start, use and stop it is settled under one cross-platform file lock (``state/engine.lock``):
- a command takes the lock, uses the server ``state/engine.json`` names if its process is alive, or
  starts one and names it there, and enrols its own process id in ``state/engine-users/`` before it lets
  go: two commands at once share one server, never start two on one database;
- the server (``pipeline.engine_server --idle``) stops only while holding the same lock, when no request
  has reached it for ``idle_seconds`` and no enrolled process is alive (so a command killed mid-run only
  delays the stop), and keeps the lock until its process ends;
- `clb serve` asks it to stop (``state/engine.stop``) before serving the workspace itself.

Nothing here forks or signals: the server is a detached process on every system, and stops itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.files import atomic_write
from pipeline.processes import pid_alive

if TYPE_CHECKING:  # loaded only by the commands that use the engine (clb status reads its record only)
    from filelock import FileLock

IDLE_SECONDS = 15 * 60
IDLE_SETTING = "CLB_ENGINE_IDLE_SECONDS"
LOCK_SECONDS = 60  # another command deciding about the engine takes well under a second
_KEPT: list[FileLock] = []  # the stopping engine's lock, held until its process ends


def idle_seconds() -> float:
    """How long the engine waits unused before it stops (CLB_ENGINE_IDLE_SECONDS, at least 1 s)."""
    try:
        return max(1.0, float(os.environ.get(IDLE_SETTING, IDLE_SECONDS)))
    except ValueError:
        return float(IDLE_SECONDS)


def record_file(state: Path) -> Path:
    return state / "engine.json"


def stop_request(state: Path) -> Path:
    return state / "engine.stop"


def users_dir(state: Path) -> Path:
    return state / "engine-users"


def engine_lock(state: Path) -> FileLock:
    """The lock every decision about the engine is taken under (an OS lock: a killed holder frees it)."""
    from filelock import FileLock

    state.mkdir(parents=True, exist_ok=True)
    return FileLock(state / "engine.lock", timeout=LOCK_SECONDS, preserve_lock_file=True, thread_local=False)


@dataclass(frozen=True)
class Running:
    """The engine as ``state/engine.json`` names it."""

    url: str
    auth: str
    pid: int
    log: str


def read_record(state: Path) -> Running | None:
    """The engine named in the state folder if its process is alive, else None (a stale file is ignored)."""
    try:
        record = json.loads(record_file(state).read_text(encoding="utf-8"))
        running = Running(str(record["url"]), str(record["auth"]), int(record["pid"]), str(record.get("log", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not running.url.startswith("http://127.0.0.1:"):
        return None  # only a server of this machine's loopback, as clb starts it
    return running if pid_alive(running.pid) else None


def running_engine(state: Path) -> str | None:
    """A sentence on the workspace's engine for `clb status`, when it is running."""
    running = read_record(state)
    if running is None:
        return None
    minutes = idle_seconds() / 60
    after = f"{minutes:.0f} minutes" if minutes >= 2 else f"{idle_seconds():.0f} seconds"
    return (
        f"The workspace's engine is running (process {running.pid}, {running.url.removesuffix('/api')}); "
        f"it stops by itself after {after} unused."
    )


def write_record(state: Path, running: Running) -> None:
    """Name the engine (owner-only: it holds the server's login)."""
    record = {"url": running.url, "auth": running.auth, "pid": running.pid, "log": running.log}
    atomic_write(record_file(state), json.dumps(record).encode("utf-8"))


def enrol(state: Path, pid: int | None = None) -> Path:
    """Count a process as using the engine until it leaves (or dies); call under the lock."""
    folder = users_dir(state)
    folder.mkdir(parents=True, exist_ok=True)
    mark = folder / str(pid or os.getpid())
    mark.touch()
    return mark


def leave(state: Path, pid: int | None = None) -> None:
    (users_dir(state) / str(pid or os.getpid())).unlink(missing_ok=True)


def users_alive(state: Path) -> list[int]:
    """The enrolled processes still running; the marks of dead ones are removed."""
    alive = []
    with contextlib.suppress(OSError):
        for mark in users_dir(state).iterdir():
            pid = int(mark.name) if mark.name.isdigit() else 0
            if pid_alive(pid):
                alive.append(pid)
            else:
                mark.unlink(missing_ok=True)
    return alive


def attach(state: Path, start: Callable[[], Running]) -> tuple[Running, bool]:
    """The engine for this command: the running one, or one ``start`` launches now (its readiness is
    waited for by the caller, outside the lock). This process is enrolled as a user either way. Returns
    the engine and whether this command started it."""
    with engine_lock(state):
        running = read_record(state)
        started = running is None
        if running is None:
            stop_request(state).unlink(missing_ok=True)  # left by a clb serve that was stopped waiting
            running = start()
            write_record(state, running)
        enrol(state)
        return running, started


def replace(state: Path, start: Callable[[], Running]) -> Running:
    """Start a new engine in place of one that did not come up (its record is rewritten)."""
    with engine_lock(state):
        running = start()
        write_record(state, running)
        enrol(state)
        return running


def retire(state: Path, wait_seconds: float = 600) -> bool:
    """Ask the workspace's engine to stop once no command is using it, and wait until it has (`clb serve`
    serves the workspace's record of runs itself). Whether an engine was running."""
    running = read_record(state)
    if running is None:
        return False
    atomic_write(stop_request(state), b"")
    deadline = time.monotonic() + wait_seconds
    while pid_alive(running.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return True


# ---------------------------------------------------------------- the server's side (engine_server)


def should_stop(state: Path, quiet_for: float, idle: float) -> bool:
    """Whether the engine stops now: asked to, or quiet for ``idle`` seconds with nobody enrolled; or its
    workspace is gone. Call under the lock."""
    if not state.is_dir():
        return True
    if users_alive(state):
        return False
    return stop_request(state).exists() or quiet_for >= idle


def stand_down(state: Path, pid: int) -> None:
    """The engine's last act before it stops, under the lock: its record and any stop request removed, so
    the next command starts a new one."""
    running = read_record(state)
    if running is None or running.pid == pid:
        record_file(state).unlink(missing_ok=True)
    stop_request(state).unlink(missing_ok=True)


def watch_idle(state: Path, idle: float, quiet_for: Callable[[], float], stop: Callable[[], None]) -> None:
    """The engine's watch (a thread of the server): every few seconds, stop when ``should_stop`` says so.
    The lock is taken without waiting (a command deciding now will be using the engine) and kept until the
    process ends, so no command finds a stopping engine."""
    from filelock import Timeout

    lock = engine_lock(state) if state.is_dir() else None
    while True:
        time.sleep(min(5.0, max(0.5, idle / 4)))
        if lock is None or not state.is_dir():
            stop()
            return
        if quiet_for() < idle and not stop_request(state).exists():
            continue
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        if should_stop(state, quiet_for(), idle):
            stand_down(state, os.getpid())
            _KEPT.append(lock)  # a lock object no longer referenced lets go
            stop()
            return
        lock.release()
