"""The Prefect servers clb starts: the workspace's engine for commands at a terminal, and `clb serve`'s.

Both run Prefect's own app in a process of ours (``pipeline.engine_server``). `clb serve`'s dies with
the process that started it, even one killed with SIGKILL. The workspace's engine is shared by the
commands run in the workspace and stops itself once unused (``pipeline.workspace_engine``). Both
require Prefect's basic authentication: a random login made for each start (or the operator's own,
``PREFECT_SERVER_API_AUTH_STRING``), handed to clb's own processes in their environment and in the
workspace's owner-only ``state/server.json`` or ``state/engine.json``. Another account on the same
machine, which can reach any port on 127.0.0.1, gets "401 Unauthorized".

Prefect's database is a record of runs, not the truth (clb's state and run reports are): one that is
damaged is set aside under a dated name, with a message, and a fresh one is made, so the night goes on.
A fresh one starts as a copy of the empty database this version of Prefect made once on this machine
(``blank_database``): building one migrates Prefect's whole schema, two thirds of a first start.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import importlib.metadata
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pipeline.files import atomic_write
from pipeline.processes import WINDOWS, pid_alive, stop
from pipeline.workspace_engine import Running, attach, idle_seconds, leave, replace

STARTUP_SECONDS = 120  # a first start on a loaded machine (the database is made and migrated)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class EngineError(Exception):
    """A Prefect server clb started did not come up; the message says where its log is."""


def new_login() -> str:
    """A basic-auth login for one server's life: nobody else can guess it."""
    return f"clb:{secrets.token_urlsafe(24)}"


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalServer:
    """A Prefect server process clb started, its address and its login."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    auth: str
    log: Path
    home: Path
    keep_blank: bool = False  # its SQLite database was new: once it answers, keep a copy as the blank one

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/api"

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, seconds: float = STARTUP_SECONDS) -> None:
        """Wait until the server answers its health check; raise EngineError if it stops or is silent."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise EngineError(f"the Prefect server stopped at start (exit {code}); see {self.log}")
            if answers(self.url, seconds=2):
                if self.keep_blank:
                    self.keep_blank = False
                    keep_blank_database(database_file(self.home))
                return
            time.sleep(0.2)
        self.stop()
        raise EngineError(f"the Prefect server did not answer within {seconds:.0f} s; see {self.log}")

    def stop(self) -> None:
        stop(self.process)


def answers(url: str, seconds: float = 1) -> bool:
    """Whether the Prefect server whose API is at ``url`` answers its (unauthenticated) health check."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=seconds) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def server_environment(home: Path, host: str, port: int, auth: str, database: str = "") -> dict[str, str]:
    """The server process's environment: Prefect's home, address and login; ``database``: a PostgreSQL URL
    (postgresql+asyncpg://...) instead of SQLite in ``home``."""
    chosen = {"PREFECT_API_DATABASE_CONNECTION_URL": database} if database else {}
    return {
        **os.environ,
        **chosen,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_API_AUTH_STRING": auth,
        "PREFECT_API_AUTH_STRING": auth,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        # make schedules visible within seconds rather than a minute
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        "PREFECT_RUNNER_POLL_FREQUENCY": "5",
    }


def launch(
    home: Path,
    log: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    auth: str | None = None,
    database: str = "",
    temporary: bool = False,
    idle: float | None = None,
    state: Path | None = None,
) -> LocalServer:
    """Start a Prefect server process (it is not waited for: ``wait_ready``) that dies with this one, or
    with ``idle`` and ``state`` the workspace's engine, which outlives it and stops itself when unused."""
    home.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host if host not in ("0.0.0.0", "::") else "127.0.0.1")
    auth = auth or new_login()
    environment = server_environment(home, host, port, auth, database)
    keep_blank = False
    if not database and not database_file(home).exists():  # a copy of the blank one, else keep this one
        keep_blank = not seed_database(database_file(home))
    if temporary:  # as Prefect's own temporary server: no UI, only the services a run needs (automations
        # are clb serve's and the work pools'; without them an idle engine takes a third less CPU)
        environment |= {
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
        }
    outlives = idle is not None and state is not None
    lifetime = ["--idle", str(idle), "--state", str(state)] if outlives else ["--parent", str(os.getpid())]
    command = [sys.executable, "-m", "pipeline.engine_server", *lifetime, "--host", host]
    command += ["--port", str(port), *(["--temporary"] if temporary else [])]
    flags = subprocess.CREATE_NEW_PROCESS_GROUP if WINDOWS else 0  # type: ignore[attr-defined]
    if WINDOWS and outlives:
        flags |= subprocess.DETACHED_PROCESS  # type: ignore[attr-defined]  # no console to close with
    detach: dict[str, object] = (
        {"creationflags": flags}
        if WINDOWS
        else {"start_new_session": True}  # Ctrl-C at the terminal reaches clb, which stops it in order
    )
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, env=environment, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **detach
        )  # type: ignore[call-overload]
    return LocalServer(process, host, port, auth, log, home, keep_blank)


# ---------------------------------------------------------------- Prefect's empty database, made once


def blank_database() -> Path:
    """Where this machine keeps the empty, migrated database of the installed Prefect (one file per
    version, so an upgrade makes its own): in the user's cache folder (CLB_CACHE_HOME, else
    %LOCALAPPDATA%\\clb on Windows, ~/Library/Caches/clb on macOS, $XDG_CACHE_HOME/clb or ~/.cache/clb)."""
    if os.environ.get("CLB_CACHE_HOME"):
        folder = Path(os.environ["CLB_CACHE_HOME"])
    elif sys.platform == "win32":
        folder = Path(os.environ.get("LOCALAPPDATA") or Path.home()) / "clb"
    elif sys.platform == "darwin":
        folder = Path.home() / "Library" / "Caches" / "clb"
    else:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clb"
    return folder / f"prefect-{importlib.metadata.version('prefect')}-blank.db"


def seed_database(target: Path) -> bool:
    """Start ``target`` as a copy of the blank database, when there is a sound one; whether it was."""
    blank = blank_database()
    if not blank.is_file() or damaged(blank) is not None:
        return False
    try:
        atomic_write(target, blank.read_bytes())  # the owner's only: Prefect keeps its secrets key there
    except OSError:
        return False
    return True


def keep_blank_database(source: Path) -> None:
    """Keep a copy of a database Prefect has just made and migrated, as the blank one. The copy is read
    through SQLite (consistent while the server runs), and without the key Prefect makes for secrets, so
    that no two databases share one. A cache only: any failure leaves things as they were."""
    blank = blank_database()
    if blank.exists() or not source.exists():
        return
    with contextlib.suppress(OSError, sqlite3.Error):
        blank.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=blank.parent, prefix=".blank-", suffix=".db", delete=False) as copy:
            temporary = Path(copy.name)
        try:
            reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10)
            writing = sqlite3.connect(temporary)
            try:
                reading.backup(writing)
                with contextlib.suppress(sqlite3.Error):
                    writing.execute("DELETE FROM configuration WHERE key = 'ENCRYPTION_KEY'")
                writing.commit()
                writing.execute("PRAGMA journal_mode=DELETE")
            finally:
                reading.close()
                writing.close()
            os.replace(temporary, blank)
        finally:
            temporary.unlink(missing_ok=True)


# ---------------------------------------------------------------- Prefect's database


def database_file(home: Path) -> Path:
    return home / "prefect.db"


def damaged(path: Path, thorough: bool = False) -> str | None:
    """Why the SQLite file at ``path`` cannot serve as Prefect's database, or None when it looks sound
    (a missing file is sound: Prefect makes one). ``thorough`` also reads every page (quick_check)."""
    if not path.exists():
        return None
    try:
        with path.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                return "it is not an SQLite database"
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
            if thorough:
                row = connection.execute("PRAGMA quick_check(1)").fetchone()
                if row is None or row[0] != "ok":
                    return f"SQLite finds it damaged ({row[0] if row else 'no answer'})"
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return f"SQLite cannot read it ({exc})"
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    return None


def set_aside(path: Path, clock: dt.datetime | None = None) -> Path:
    """Move a damaged database (and its journal files) aside under a dated name; returns the new name."""
    stamp = (clock or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm", "-journal"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    return target


# ---------------------------------------------------------------- the workspace's engine, for commands


class SharedEngine:
    """The Prefect server a clb command runs its flows on when no server is configured: the workspace's
    engine (``pipeline.workspace_engine``), started by the first command that needs it (early: it comes up
    while the command imports its libraries), waited for just before the first flow, and left running for
    the next command; the command stops using it when it ends (after Prefect has flushed its logs)."""

    def __init__(self, state: Path, home: Path, log: Path, notice: object = None) -> None:
        self.state, self.home, self.log = state, home, log
        self.notice = notice  # called with a message for the person at the terminal
        self.running: Running | None = None
        self.server: LocalServer | None = None  # when this command started it
        self.set_aside: list[tuple[Path, str]] = []

    @property
    def started(self) -> bool:
        """Whether this command started the engine (and so waits for a whole start)."""
        return self.server is not None

    def start(self) -> None:
        self.running, _ = attach(self.state, self._launch)
        self.saved = {key: os.environ.get(key) for key in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING")}
        os.environ["PREFECT_API_URL"] = self.running.url  # for Prefect when it is imported after this
        os.environ["PREFECT_API_AUTH_STRING"] = self.running.auth
        atexit.register(self.stop)  # if the command ends without stopping

    def _launch(self, port: int | None = None, auth: str | None = None) -> Running:
        self._check_database(thorough=False)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.write_bytes(b"")  # this start's output only
        self.server = launch(
            self.home, self.log, port=port, auth=auth, temporary=True, idle=idle_seconds(), state=self.state
        )
        return Running(self.server.url, self.server.auth, self.server.pid, str(self.log))

    def wait_ready(self) -> None:
        """Wait for the engine. One this command started that does not come up is started once more, on a
        fresh database when its own was damaged."""
        assert self.running is not None, "start() first"
        if self.server is None:
            self._wait_for(self.running)
            return
        try:
            self.server.wait_ready()
        except EngineError:
            self._check_database(thorough=True)
            server = self.server
            self.running = replace(self.state, lambda: self._launch(port=server.port, auth=server.auth))
            self.server.wait_ready()

    def _wait_for(self, running: Running, seconds: float = STARTUP_SECONDS) -> None:
        """Wait for an engine another command started moments ago."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if answers(running.url, seconds=2):
                return
            if not pid_alive(running.pid):
                raise EngineError(f"the Prefect server another clb command started has stopped; see {running.log}")
            time.sleep(0.2)
        raise EngineError(f"the Prefect server did not answer within {seconds:.0f} s; see {running.log}")

    def _check_database(self, thorough: bool) -> bool:
        """Set Prefect's database aside when it is damaged; True when it was."""
        path = database_file(self.home)
        why = damaged(path, thorough=thorough)
        if why is None:
            return False
        moved = set_aside(path)
        self.set_aside.append((moved, why))
        if callable(self.notice):
            self.notice(
                f"Prefect's record of runs ({path}) could not be used: {why}. It was set aside as {moved.name} "
                "and a new one is made. clb's own state and run reports keep the history."
            )
        return True

    def stop(self) -> None:
        """This command is done with the engine (which stays for the next one)."""
        if self.running is None:
            return
        self.running = None
        leave(self.state)
        for key, value in getattr(self, "saved", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
