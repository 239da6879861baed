"""The process of a Prefect server that clb starts (``pipeline.engine``): Prefect's own app under uvicorn,
as ``prefect server start`` runs it, which also dies when the clb process that started it dies.

A clb command killed with SIGKILL (the OOM killer, a systemd stop timeout, cron's) cannot stop what it
started, so the server watches its parent instead: on Linux the kernel sends it SIGTERM the moment the
parent dies (``PR_SET_PDEATHSIG``), and everywhere a watchdog thread looks every half second. Run as
``python -m pipeline.engine_server --parent PID --host H --port P [--temporary]``; its settings come
from the environment, as Prefect's do.

The workspace's engine (``pipeline.workspace_engine``) outlives the command that started it instead:
``--idle SECONDS --state FOLDER`` makes it stop itself once unused for that long.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any

from pipeline.processes import WINDOWS, die_with_parent, pid_alive

WATCH_SECONDS = 0.5
GRACE_SECONDS = 10  # for a graceful stop after the parent died; then the process ends regardless


def watch(parent: int) -> None:
    """Stop this process once ``parent`` is gone (checked before anything slow starts, then every
    WATCH_SECONDS)."""

    def gone() -> bool:
        return not pid_alive(parent) or (not WINDOWS and os.getppid() != parent)

    def loop() -> None:
        while not gone():
            time.sleep(WATCH_SECONDS)
        if not WINDOWS:
            os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful stop
            time.sleep(GRACE_SECONDS)
        os._exit(0)

    die_with_parent()
    if gone():  # the parent died before the kernel was asked to tell us
        os._exit(0)
    threading.Thread(target=loop, name="clb-parent-watch", daemon=True).start()


class Touched:
    """Prefect's app, noting when a request last reached it (the workspace's engine stops when unused)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = time.monotonic()

    def quiet_for(self) -> float:
        return time.monotonic() - self.last

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            return await self.app(scope, receive, send)  # type: ignore[no-any-return]
        self.last = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.last = time.monotonic()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.engine_server")
    parser.add_argument("--parent", type=int, help="stop when this process ends")
    parser.add_argument("--idle", type=float, help="stop after this many seconds unused (with --state)")
    parser.add_argument("--state", help="the workspace's state folder, for --idle")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--temporary", action="store_true", help="no UI, only the services a run needs")
    args = parser.parse_args(argv)
    if args.parent is not None:
        watch(args.parent)

    import uvicorn
    from prefect.server.api.server import create_app

    app = Touched(create_app(final=True, ephemeral=args.temporary))
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="error",
        lifespan="on",
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    if args.idle is not None and args.state:
        from pathlib import Path

        from pipeline.workspace_engine import watch_idle

        def stop() -> None:
            server.should_exit = True

        quiet = threading.Thread(
            target=watch_idle,
            args=(Path(args.state), args.idle, app.quiet_for, stop),
            name="clb-idle-watch",
            daemon=True,
        )
        quiet.start()
    server.run()
    sys.exit(0 if server.started else 3)  # 3: never started (the port was taken, or the database is damaged)


if __name__ == "__main__":
    main()
