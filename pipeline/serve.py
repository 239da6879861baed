"""`clb serve`: the nightly run and the reminders on their schedules, with one command.

Prefect's temporary (ephemeral) server does not run schedules, so this starts a real local Prefect server
(SQLite, bound to 127.0.0.1, its home in the first workspace's state), waits until it answers, then serves
a `nightly` and a `reminders` deployment per workspace with their cron schedules. Ctrl-C or SIGTERM stops
the deployments and then the server. The Prefect UI shows every run and its artifacts.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline.engine import LOOPBACK, EngineError, LocalServer, launch, new_login, server_environment
from pipeline.files import atomic_write
from pipeline.workspace import SERVED, Workspace, served_list
from pipeline.workspace_engine import retire


class ServeError(Exception):
    """The local Prefect server could not be started."""


def server_login(host: str) -> str:
    """The server's basic-auth login: the operator's own (PREFECT_SERVER_API_AUTH_STRING), or on this
    machine only a new random one. A server on a network address without a login would take orders from
    anyone who can reach it, so clb refuses to start one."""
    configured = os.environ.get("PREFECT_SERVER_API_AUTH_STRING", "")
    if configured:
        return configured
    if host in LOOPBACK:
        return new_login()
    raise ServeError(
        f"clb serve will not listen on {host} without a login: anyone who can reach it could run flows as "
        "you. Set PREFECT_SERVER_API_AUTH_STRING to 'name:a-long-password' here, and PREFECT_API_AUTH_STRING "
        "to the same on every worker (docs/operating.md)."
    )


def start_server(
    home: Path, host: str, port: int, log: Path, timeout: float = 120, database: str = "", auth: str | None = None
) -> LocalServer:
    """Start a Prefect server (UI and every service) that dies with this process, and wait until it
    answers. Its login is ``auth``, or ``server_login(host)``."""
    server = launch(home, log, host=host, port=port, auth=auth or server_login(host), database=database)
    try:
        server.wait_ready(timeout)
    except EngineError as exc:
        server.stop()
        raise ServeError(str(exc)) from None
    return server


def stop_server(server: LocalServer) -> None:
    server.stop()


def serve(
    spaces: Sequence[Workspace], host: str = "127.0.0.1", port: int = 4200, database: str = "", run: bool = True
) -> None:
    """Run the schedules until Ctrl-C or SIGTERM; the server is stopped however this ends. While it runs,
    each workspace's ``state/server.json`` tells clb commands there to use this server. ``database``: the
    server's PostgreSQL; ``run`` False: the server only, for work pool deployments run by workers."""
    for space in spaces:  # its record of runs is served here from now on, by one server only
        retire(space.state_dir)
    home = spaces[0].prefect_home
    server = start_server(home, host, port, spaces[0].state_dir / "logs" / "prefect-server.log", database=database)
    environment = server_environment(home, host, port, server.auth, database)
    os.environ.update({k: v for k, v in environment.items() if k.startswith("PREFECT_") and "DATABASE" not in k})
    os.environ["PREFECT_API_URL"] = server.url
    os.environ[SERVED] = served_list([str(space.root) for space in spaces])  # what its flow runs may touch
    for space in spaces:
        announce_server(space, server.url, server.pid, server.auth)
    from pipeline.pool import deployments, ensure_slots

    ensure_slots(spaces)  # one run per workspace at a time, however many the schedules start
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if run:
            from prefect import serve as prefect_serve

            prefect_serve(*deployments(spaces), pause_on_shutdown=False, print_starting_message=False)
        else:
            while server.process.poll() is None:
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for space in spaces:
            space.server_file.unlink(missing_ok=True)
        stop_server(server)


def announce_server(space: Workspace, url: str, server_pid: int, auth: str) -> None:
    """Say where this workspace's Prefect server is and its login, for the clb commands run there
    meanwhile (``state/server.json``, which only the workspace's owner can read)."""
    record = {"url": url, "pid": os.getpid(), "server_pid": server_pid, "auth": auth}
    atomic_write(space.server_file, json.dumps(record).encode("utf-8"))
