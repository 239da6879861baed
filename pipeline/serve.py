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
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.config import load_config
from pipeline.files import atomic_write
from pipeline.forms.names import safe_segment
from pipeline.workspace import Workspace, prefect_environment


class ServeError(Exception):
    """The local Prefect server could not be started."""


def server_environment(home: Path, host: str, port: int, database: str = "") -> dict[str, str]:
    """The server's environment; ``database``: a PostgreSQL URL (postgresql+asyncpg://...) instead of
    SQLite in ``home``."""
    space_env = prefect_environment(Workspace(home.parent.parent)) if home.name == "prefect" else {}
    chosen = {"PREFECT_API_DATABASE_CONNECTION_URL": database} if database else {}
    return {
        **os.environ,
        **space_env,
        **chosen,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://{host}:{port}/api",
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        # make schedules visible within seconds rather than a minute
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        "PREFECT_RUNNER_POLL_FREQUENCY": "5",
    }


def start_server(
    home: Path, host: str, port: int, log: Path, timeout: float = 120, database: str = ""
) -> subprocess.Popen[bytes]:
    """Start `prefect server start` and wait until /api/health answers."""
    home.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect), "server", "start", "--host", host, "--port", str(port)]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            env=server_environment(home, host, port, database),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServeError(f"the Prefect server stopped at start (exit {process.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/api/health", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    stop_server(process)
    raise ServeError(f"the Prefect server did not answer within {timeout:.0f} s; see {log}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def deployments(spaces: Sequence[Workspace], entrypoint_type: Any = None) -> list[Any]:
    """A nightly and a reminders deployment per workspace, with the workspace's own schedules.
    ``entrypoint_type``: how a worker finds the flow (``pipeline.pool`` names it by module path)."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from pipeline.flows import nightly, send_reminders

    how = entrypoint_type or EntrypointType.FILE_PATH
    found = []
    for space in spaces:
        schedule = load_config(space.config).settings.schedule
        name = safe_segment(space.root.name)
        found.append(
            nightly.to_deployment(
                name=f"nightly-{name}",
                schedule=Cron(schedule.nightly, timezone=schedule.timezone),
                parameters={"workspace": str(space.root)},
                tags=["clb", name],
                entrypoint_type=how,
            )
        )
        found.append(
            send_reminders.to_deployment(
                name=f"reminders-{name}",
                schedule=Cron(schedule.reminders, timezone=schedule.timezone),
                parameters={"workspace": str(space.root)},
                tags=["clb", name],
                entrypoint_type=how,
            )
        )
    return found


def serve(
    spaces: Sequence[Workspace], host: str = "127.0.0.1", port: int = 4200, database: str = "", run: bool = True
) -> None:
    """Run the schedules until Ctrl-C or SIGTERM; the server is stopped however this ends. While it runs,
    each workspace's ``state/server.json`` tells clb commands there to use this server. ``database``: the
    server's PostgreSQL; ``run`` False: the server only, for work pool deployments run by workers."""
    home = spaces[0].prefect_home
    server = start_server(home, host, port, spaces[0].state_dir / "logs" / "prefect-server.log", database=database)
    environment = server_environment(home, host, port, database)
    os.environ.update({k: v for k, v in environment.items() if k.startswith("PREFECT_") and "DATABASE" not in k})
    for space in spaces:
        announce_server(space, f"http://{host}:{port}/api", server.pid)
    from pipeline.pool import ensure_slots

    ensure_slots(spaces)  # one run per workspace at a time, however many the schedules start
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if run:
            from prefect import serve as prefect_serve

            prefect_serve(*deployments(spaces), pause_on_shutdown=False, print_starting_message=False)
        else:
            while server.poll() is None:
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for space in spaces:
            space.server_file.unlink(missing_ok=True)
        stop_server(server)


def announce_server(space: Workspace, url: str, server_pid: int) -> None:
    """Say where this workspace's Prefect server is, for the clb commands run there meanwhile."""
    record = {"url": url, "pid": os.getpid(), "server_pid": server_pid}
    atomic_write(space.server_file, json.dumps(record).encode("utf-8"))
