"""What every clb command shares: the Typer app, the consoles, exit codes, opening a workspace, and the
Prefect server a command's runs go to (a temporary one of its own when none is configured)."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.config import ConfigError, load_config
from pipeline.logs import VERBOSE
from pipeline.workspace import Workspace, WorkspaceBusy, WorkspaceError, configure_prefect

T = TypeVar("T")

# Exit codes, for cron, systemd timers and the Windows Task Scheduler (docs/reference.md):
DONE = 0  # done; nothing needs you


NEEDS_YOU = 1  # done, but some files or messages need you (quarantined, waiting, refused)


USAGE = 2  # the command or the configuration is wrong: nothing was done


BUSY = 3  # another run holds the workspace: nothing was done


FAILED = 4  # the run could not complete (a fault of clb or of the machine): run it again once fixed


app = typer.Typer(
    help="Run the CLB0.01 collaborative-leadership self-assessment across a partnership.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


out = Console()


err = Console(stderr=True)


WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        help="The workspace folder holding config/, inbox/, outbox/ and state/.",
        show_default="the current folder",
    ),
]


@app.callback()
def options(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the Prefect engine's run and task lines on the console too.")
    ] = False,
) -> None:
    """Run the CLB0.01 collaborative-leadership self-assessment across a partnership."""
    if verbose:
        os.environ[VERBOSE] = "1"


def fail(message: str, code: int = USAGE) -> typer.Exit:
    err.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def open_workspace(workspace: Path) -> Workspace:
    try:
        space = Workspace.at(workspace)
        load_config(space.config)
    except WorkspaceError as exc:
        raise fail(str(exc)) from None
    except ConfigError as exc:
        raise fail(str(exc)) from None
    space.ensure()
    return space


ENGINE: list[Any] = []  # the workspace's engine this command uses, if any


def use_engine(space: Workspace) -> None:
    """Prefect's settings for this workspace, and the server its runs go to: the one PREFECT_API_URL
    names, the one of a clb serve running for this workspace, or else the workspace's engine (started now
    if no command has in the last minutes: it comes up while the command imports its libraries;
    ``run_flow`` waits for it)."""
    from pipeline.workspace import server_answers

    if ENGINE:  # this command has it already (clb demo runs several steps)
        return
    configured = os.environ.get("PREFECT_API_URL")
    url = configure_prefect(space)
    if configured is not None:
        if not server_answers(configured, seconds=5):
            raise fail(
                f"The Prefect server at {escape(configured)} (PREFECT_API_URL) does not answer. Start it, or "
                "unset PREFECT_API_URL to run on a temporary engine on this machine."
            )
        err.print(f"[dim]Runs on the Prefect server at {escape(configured)}.[/]", highlight=False)
        return
    if url is not None:
        err.print(f"[dim]Runs on the Prefect server of clb serve ({url}).[/]", highlight=False)
        return
    if "prefect.settings" in sys.modules:  # a caller's own Prefect settings (a test harness): runs go there
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():
            return
    from pipeline.engine import SharedEngine

    engine = SharedEngine(
        space.state_dir,
        space.prefect_home,
        space.state_dir / "logs" / "prefect-engine.log",
        notice=lambda message: err.print(f"[yellow]{escape(message)}[/]", highlight=False, soft_wrap=True),
    )
    engine.start()
    ENGINE.append(engine)


SCOPES: list[str] = []


def scoped(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command that may run flows: it stops using the workspace's engine when it ends (the outermost
    one: clb demo runs forms, nightly and send as one user of the engine)."""

    @functools.wraps(command)
    def scoped(*args: Any, **kwargs: Any) -> Any:
        SCOPES.append(command.__name__)
        try:
            return command(*args, **kwargs)
        finally:
            SCOPES.pop()
            if not SCOPES:
                leave_engine()

    return scoped


def leave_engine() -> None:
    """At the command's end: Prefect's queued logs and events sent, then the engine left for the next."""
    if not ENGINE:
        return
    send_prefect_queues()
    ENGINE.pop().stop()


def send_prefect_queues() -> None:
    """Prefect's queued logs and events sent now, while its server is still up (else they would be sent
    as the process exits, to a server that may have stopped by then)."""
    if "prefect" in sys.modules:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        for worker in (APILogWorker, EventsWorker):
            with contextlib.suppress(Exception):
                worker.drain_all(timeout=10)


def _named(flow: object) -> str:
    """A flow's name as the spinner shows it ("send invitations")."""
    return str(getattr(flow, "name", "working")).replace("-", " ")


def run_flow(flow: Callable[..., T], **parameters: Any) -> T:
    """Run a flow, with a spinner while it works (the engine takes seconds to start); a workspace in use
    (exit 3) and a failed run (exit 4) become one clear message."""
    from prefect.settings import (
        PREFECT_API_AUTH_STRING,
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )

    from pipeline.engine import EngineError
    from pipeline.flows import RunFailed

    # No heartbeats for a run someone started at a terminal: they watch it end, and Prefect's heartbeat
    # thread costs a second at the end of every run. Scheduled runs (clb serve) keep them.
    updates: dict[Any, Any] = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    try:
        if ENGINE:
            engine = ENGINE[-1]
            starting = "clb: starting the engine (once in a while: later commands use it)…"
            with err.status(starting if engine.started else "clb: connecting…", spinner="dots"):
                engine.wait_ready()
            updates |= {PREFECT_API_URL: engine.running.url, PREFECT_API_AUTH_STRING: engine.running.auth}
        with temporary_settings(updates=updates), err.status(f"clb: {_named(flow)}…", spinner="dots"):
            return flow(**parameters)
    except EngineError as exc:
        raise fail(f"Prefect's engine could not start: {exc}", code=FAILED) from None
    except WorkspaceBusy as exc:
        raise fail(str(exc), code=BUSY) from None
    except RunFailed as exc:
        if exc.detail:
            err.print(f"What went wrong: {escape(exc.detail)}", highlight=False, soft_wrap=True)
        raise fail(str(exc), code=FAILED) from None
