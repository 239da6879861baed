"""Operating it: clb serve, deploy, worker."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.common import err, fail, open_workspace, out
from pipeline.config import load_config
from pipeline.workspace import configure_prefect


def serve(
    workspace: Annotated[
        list[Path] | None,
        typer.Option(
            "--workspace",
            "-w",
            help="A workspace to serve; repeat to serve several partnerships.",
            show_default="the current folder",
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="The port of the local Prefect server and its UI.")] = 4200,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="The address the server listens on: 127.0.0.1 (this machine only), or this machine's address "
            "on an internal network for workers elsewhere, with a login in PREFECT_SERVER_API_AUTH_STRING "
            "(refused without one). Never the internet.",
        ),
    ] = "127.0.0.1",
    database: Annotated[
        str,
        typer.Option(
            "--database",
            help="Keep Prefect's server on this PostgreSQL database (postgresql+asyncpg://user:password@host/db) "
            "instead of SQLite in the first workspace; or set PREFECT_API_DATABASE_CONNECTION_URL.",
        ),
    ] = "",
    run: Annotated[
        bool,
        typer.Option(
            "--run/--server-only",
            help="Run the schedules here (default), or only the server, for workers of a work pool (clb deploy).",
        ),
    ] = True,
) -> None:
    """Run the nightly intake and the reminders on their schedules until you press Ctrl-C.

    Starts a local Prefect server (its UI at http://127.0.0.1:4200 shows every run), then runs each
    workspace's 'nightly' and 'reminders' on the cron schedules in its config/partnership.yaml.

    [bold]Example:[/] clb serve --workspace ~/partnerships/riverside --workspace ~/partnerships/hillside
    """
    spaces = [open_workspace(path) for path in (workspace or [Path(".")])]
    configure_prefect(spaces[0])
    from pipeline.serve import ServeError
    from pipeline.serve import serve as run_schedules

    for space in spaces:
        schedule = load_config(space.config).settings.schedule
        out.print(
            f"{space.root}: nightly '{schedule.nightly}', reminders '{schedule.reminders}' ({schedule.timezone})",
            highlight=False,
        )
    out.print(f"Prefect UI: http://{host}:{port}  (Ctrl-C stops everything)", highlight=False)
    try:
        run_schedules(spaces, host=host, port=port, database=database, run=run)
    except ServeError as exc:
        raise fail(str(exc)) from None
    out.print("Stopped.")


def deploy(
    workspace: Annotated[
        list[Path] | None,
        typer.Option(
            "--workspace", "-w", help="A workspace to deploy; repeat for each.", show_default="the current folder"
        ),
    ] = None,
    pool: Annotated[str, typer.Option("--pool", help="The Prefect process work pool (made if missing).")] = "clb",
    crash_after: Annotated[
        int,
        typer.Option(
            "--crash-after",
            min=45,
            help="Seconds without a heartbeat after which a run's worker is taken for dead: the run is marked "
            "crashed and run again by another worker (heartbeats come every 30 s).",
        ),
    ] = 90,
) -> None:
    """Register each workspace's nightly and reminders runs, with their schedules, to a Prefect work pool.

    For many partnerships on one Prefect server (PREFECT_API_URL, or a clb serve --server-only here):
    then start workers with clb worker --pool clb, on any machine that sees the workspace folders. Run it
    again after changing a schedule. Only one run per workspace happens at a time, whatever the workers.

    [bold]Example:[/] clb deploy --workspace /srv/partnerships/riverside --workspace /srv/partnerships/hillside
    """
    spaces = [open_workspace(path) for path in (workspace or [Path(".")])]
    url = configure_prefect(spaces[0])
    if url is None:
        raise fail(
            "No Prefect server to deploy to: set PREFECT_API_URL to your server's address "
            "(e.g. http://prefect.internal:4200/api), or start one here with clb serve --server-only."
        )
    from pipeline.pool import DeploymentClash
    from pipeline.pool import deploy as deploy_to_pool

    try:
        names = deploy_to_pool(spaces, pool, crash_after)
    except DeploymentClash as exc:
        raise fail(escape(str(exc))) from None
    out.print(f"Deployed to work pool '{escape(pool)}' on {escape(url)}:", highlight=False)
    for name in names:
        out.print(f"  {escape(name)}", highlight=False)
    out.print(f"Start workers with: clb worker --pool {escape(pool)}", highlight=False)


POSIX_WORKER = sys.platform != "win32"  # clb worker replaces its process with Prefect's (pool.run_worker)


def worker(
    pool: Annotated[str, typer.Option("--pool", help="The work pool to take runs from.")] = "clb",
    workspace: Annotated[
        list[Path] | None,
        typer.Option("--workspace", "-w", help="A workspace this worker may run; repeat for each.", show_default=False),
    ] = None,
    workspaces_in: Annotated[
        list[Path] | None,
        typer.Option(
            "--workspaces-in",
            help="A folder whose workspaces (its direct subfolders) this worker may run; repeatable.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            help="At most this many runs at once (each takes about 200 MB while it runs).",
            show_default="every run that is due",
        ),
    ] = None,
) -> None:
    """Run a Prefect worker that takes clb's runs from a work pool, until Ctrl-C (Prefect's own worker).

    It needs PREFECT_API_URL (the server's address) and PREFECT_API_AUTH_STRING (its login), clb
    installed, and the workspace folders at the paths they were deployed with (shared storage when the
    worker is on another machine). It runs only the workspaces you name: a run asking for any other
    folder is refused. If a worker stops in the middle of a run, Prefect marks the run crashed and
    another worker runs it again.

    [bold]Example:[/] clb worker --pool clb --workspaces-in /srv/partnerships
    """
    if not POSIX_WORKER:
        raise fail(
            "clb worker runs on a Linux or macOS server: it becomes Prefect's worker process, so that stopping "
            "it by its process id stops the worker, which Windows cannot do. On Windows, run the partnership's "
            "schedules with clb serve instead, or start workers on a Linux server that sees the workspaces."
        )
    if "PREFECT_API_URL" not in os.environ:
        raise fail("Set PREFECT_API_URL to the Prefect server's address, e.g. http://127.0.0.1:4200/api.")
    if not workspace and not workspaces_in:
        raise fail(
            "Say which workspaces this worker may run: --workspace DIR (repeatable), or --workspaces-in FOLDER "
            "for every workspace in a folder. A worker runs nothing else."
        )
    from pipeline.workspace import served_list, server_answers

    url = os.environ["PREFECT_API_URL"]
    if not server_answers(url, seconds=5):  # a worker outlives its server's restarts: it keeps trying
        err.print(
            f"[yellow]The Prefect server at {escape(url)} (PREFECT_API_URL) does not answer yet; the worker "
            "starts and keeps trying. If this lasts, check the address.[/]",
            highlight=False,
            soft_wrap=True,
        )
    from pipeline.pool import run_worker

    served = served_list(
        [str(open_workspace(path).root) for path in workspace or []],
        [str(path.expanduser().resolve()) for path in workspaces_in or []],
    )
    run_worker(pool, limit, served)
