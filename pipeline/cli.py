"""The ``clb`` command: parse, check, call a flow, print. No business rules live here.

Configuration is checked before Prefect starts (its first start takes ~20 s), so a typo in the roster is
reported at once, and nothing is generated from a bad config.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.config import ConfigError, load_config
from pipeline.logs import VERBOSE
from pipeline.workspace import Workspace, WorkspaceBusy, WorkspaceError, configure_prefect, workspace_lock

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


def _fail(message: str, code: int = USAGE) -> typer.Exit:
    err.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _open(workspace: Path) -> Workspace:
    try:
        space = Workspace.at(workspace)
        load_config(space.config)
    except WorkspaceError as exc:
        raise _fail(str(exc)) from None
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    space.ensure()
    return space


_TEMPORARY: list[Any] = []  # the temporary engine this command started, if any


def _engine(space: Workspace) -> None:
    """Prefect's settings for this workspace, and the server its runs go to: the one PREFECT_API_URL
    names, the one of a clb serve running for this workspace, or else a temporary one of this command's
    own (started now: it comes up while the command imports its libraries; ``_run`` waits for it, and it
    stops when the command ends)."""
    from pipeline.workspace import server_answers

    if _TEMPORARY:  # this command started one already (clb demo runs several steps)
        return
    configured = os.environ.get("PREFECT_API_URL")
    url = configure_prefect(space)
    if configured is not None:
        if not server_answers(configured, seconds=5):
            raise _fail(
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
    from pipeline.engine import TemporaryEngine

    engine = TemporaryEngine(
        space.prefect_home,
        space.state_dir / "logs" / "prefect-engine.log",
        notice=lambda message: err.print(f"[yellow]{escape(message)}[/]", highlight=False, soft_wrap=True),
    )
    engine.start()
    _TEMPORARY.append(engine)


_SCOPES: list[str] = []


def _scoped(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command that may run flows: a temporary engine it starts stops when it ends (the outermost one:
    clb demo runs forms, nightly and send on one engine)."""

    @functools.wraps(command)
    def scoped(*args: Any, **kwargs: Any) -> Any:
        _SCOPES.append(command.__name__)
        try:
            return command(*args, **kwargs)
        finally:
            _SCOPES.pop()
            if not _SCOPES:
                _stop_temporary()

    return scoped


def _stop_temporary() -> None:
    """At the command's end: Prefect's queued logs and events sent, then its temporary server stopped."""
    if not _TEMPORARY:
        return
    if "prefect" in sys.modules:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        for worker in (APILogWorker, EventsWorker):
            with contextlib.suppress(Exception):
                worker.drain_all(timeout=10)
    _TEMPORARY.pop().stop()


def _run(flow: Any, **parameters: Any) -> Any:
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
        if _TEMPORARY:
            with err.status("clb: starting the engine…", spinner="dots"):
                _TEMPORARY[-1].wait_ready()
            server = _TEMPORARY[-1].server
            updates |= {PREFECT_API_URL: server.url, PREFECT_API_AUTH_STRING: server.auth}
        with temporary_settings(updates=updates), err.status(f"clb: {flow.name.replace('-', ' ')}…", spinner="dots"):
            return flow(**parameters)
    except EngineError as exc:
        raise _fail(f"Prefect's engine could not start: {exc}", code=FAILED) from None
    except WorkspaceBusy as exc:
        raise _fail(str(exc), code=BUSY) from None
    except RunFailed as exc:
        if exc.detail:
            err.print(f"What went wrong: {escape(exc.detail)}", highlight=False, soft_wrap=True)
        raise _fail(str(exc), code=FAILED) from None


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="The new workspace's folder (made if missing).", show_default=False)],
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Start from an earlier partnership's or round's workspace: its configuration is copied.",
            show_default="clb's example partnership",
        ),
    ] = None,
    round_id: Annotated[str | None, typer.Option("--round", help="The round id, e.g. 2027-Q1.")] = None,
    instrument: Annotated[
        str | None,
        typer.Option(
            "--instrument",
            help="Run another self-assessment tool: an instrument file, or the code of one shipped with clb (ISR0.01).",
            show_default="CLB0.01",
        ),
    ] = None,
) -> None:
    """Make a new workspace: config/ (partnership, instrument, practices, roster), inbox/, outbox/, state/.

    It starts from clb's example partnership, every setting explained in config/partnership.yaml, or with
    --from from an earlier partnership or round. An existing workspace is never overwritten.

    [bold]Example:[/] clb init ~/partnerships/riverside --round 2027-Q1
    """
    from pipeline.init import InitError, init_workspace, next_steps

    try:
        made = init_workspace(folder, source, round_id, instrument)
    except InitError as exc:
        raise _fail(str(exc)) from None
    out.print("Made the workspace:", highlight=False)
    out.print(f"  {escape(str(made.root))}", highlight=False, soft_wrap=True)  # whole, to copy
    if made.instrument is not None:
        out.print(f"with the instrument from {escape(str(made.instrument))}", highlight=False, soft_wrap=True)
    out.print("Next:", highlight=False)
    for number, (step, what) in enumerate(next_steps(made), start=1):
        out.print(f"  {number}. {step}", highlight=False)
        if what:
            out.print(f"     {escape(what)}", highlight=False, soft_wrap=True)


@app.command()
@_scoped
def forms(
    workspace: WorkspaceOption = Path("."),
    reissue: Annotated[
        list[str] | None,
        typer.Option(
            "--reissue",
            help="Give this leader (by email) a new form with a new reference; the old form stops being "
            "accepted. Repeat for several leaders, or say 'all'.",
        ),
    ] = None,
) -> None:
    """Make a personalised, fillable CLB0.01 form for every leader on the roster.

    Forms go to outbox/forms/<round>/<organisation>/<leader>.xlsx. Running it again only writes what
    changed: new leaders get a form, everyone else keeps theirs.

    [bold]Example:[/] clb forms --workspace ~/partnerships/riverside
    """
    space = _open(workspace)
    headings = load_config(space.config).roster_headings
    if headings:
        taken = ", ".join(f"'{escape(written)}' as {field}" for written, field in headings)
        out.print(f"Roster columns read: {taken}.", highlight=False)
    _engine(space)
    from pipeline.flows import issue_forms
    from pipeline.privacy.tombstones import pseudonym, salt
    from pipeline.state import open_state

    engine = open_state(space.database)
    key = salt(engine)
    # Prefect keeps a flow's parameters: it is handed salted pseudonyms, never an address
    typed_as = {item if item == "all" else pseudonym(engine, item, key): item for item in reissue or []}
    summary = _run(issue_forms, workspace=str(space.root), reissue=list(typed_as))

    table = _table(f"Forms for round {summary.round}")
    table.add_column("What")
    table.add_column("Forms", justify="right")
    for label, value in [
        ("New", summary.new),
        ("Reissued", summary.reissued),
        ("Updated", summary.updated),
        ("Unchanged", summary.unchanged),
        ("Written this run", summary.written),
    ]:
        table.add_row(label, str(value))
    out.print(table)
    out.print(f"Forms are in [bold]{space.root / summary.folder}[/]", highlight=False)
    out.print(f"Form version {summary.form_version}", highlight=False)
    for removed in summary.removed:
        out.print(
            f"[yellow]Not on the roster any more:[/] {removed['name']} ({removed['leader_id']}); "
            f"their form {removed['path']} is kept.",
            highlight=False,
        )
    for email in summary.unknown_reissue:
        typed = typed_as.get(email, email)
        out.print(f"[yellow]--reissue {escape(typed)}: no leader with that email on the roster; nothing reissued.[/]")
    for gone in summary.forgotten:
        out.print(
            f"[yellow]{escape(gone['email'])} asked to be forgotten (on {gone['on']}): no form is made for them. "
            "Remove their row from the roster.[/]",
            highlight=False,
        )


@app.command()
@_scoped
def nightly(workspace: WorkspaceOption = Path(".")) -> None:
    """Take in every returned form from inbox/: check it, keep it or quarantine it, and report.

    Files still being saved are left for the next run. Every file's decision is written to
    outbox/runs/<run-id>/summary.json (and outbox/runs/latest.json). Quarantined files are copied to
    outbox/quarantine/<run-id>/ with a reasons file; leaders get a correction request in outbox/corrections/.

    [bold]Example:[/] clb nightly --workspace ~/partnerships/riverside
    """
    code = _nightly(workspace)
    if code != DONE:
        out.print("Some files need you (above): exit code 1.", highlight=False)
        raise typer.Exit(code)


def _nightly(workspace: Path) -> int:
    """Run the nightly flow and show its report; the exit code: NEEDS_YOU when a file was quarantined, or
    waits for something other than time, or the mailbox could not be read."""
    space = _open(workspace)
    _engine(space)
    from pipeline.flows import nightly as nightly_flow

    report = _run(nightly_flow, workspace=str(space.root))
    print_report(report)
    figures = report["round"]
    out.print(
        f"Round {figures['round']}: {figures['responses']} of {figures['roster']} leaders' responses accepted, "
        f"{figures['outstanding']} outstanding; {len(report['outputs'])} files written.",
        highlight=False,
    )
    out.print(f"Run report: [bold]{space.outbox / 'runs' / report['run_id'] / 'summary.json'}[/]", highlight=False)
    notices = report.get("notices")
    if notices and notices["results"]:
        done = sum(1 for item in notices["results"] if item["status"] in ("sent", "drafted"))
        out.print(
            f"{done} leader{'s' if done != 1 else ''} told their return was replaced ({escape(notices['mode'])}).",
            highlight=False,
            soft_wrap=True,
        )
    fetched = report.get("fetched") or {}
    if fetched.get("error"):
        out.print(f"[yellow]The returns mailbox could not be read: {escape(str(fetched['error']))}[/]", highlight=False)
    needs_you = (
        bool(report["quarantined"])
        or any(item.get("needs_you", True) for item in report["waiting"])
        or bool(fetched.get("error"))
    )
    return NEEDS_YOU if needs_you else DONE


def _table(title: str | None, lines: bool = False) -> Table:
    """A table that fits an 80-column terminal: light rules, no outer box."""
    return Table(title=title, box=box.SIMPLE_HEAD, show_lines=lines, pad_edge=False, title_justify="left")


def _day(date: str) -> str:
    """ "2026-11-29" as "29 Nov": short enough for four dates in one 80-column row."""
    try:
        return dt.date.fromisoformat(date[:10]).strftime("%d %b").lstrip("0")
    except ValueError:
        return date


def _said(state: str, date: str) -> str:
    """A message's state over its day ("drafted" / "29 Nov"): a draft is never called sent."""
    return f"{state}\n{_day(date)}" if state else ""


def print_report(report: dict[str, Any]) -> None:
    """One row per file (decision, leader, file name), then what was wrong with each quarantined one:
    an email address is never split, and the table fits 80 columns."""
    table = _table(f"Run {report['run_id']}")
    table.add_column("Decision", no_wrap=True)
    table.add_column("Leader", no_wrap=True)
    table.add_column("File", overflow="fold", ratio=1)
    for item in report["accepted"]:
        note = " (supersedes an earlier return)" if item["supersedes"] else ""
        table.add_row("[green]accepted[/]", item["leader_id"] or "", escape(item["file"] + note))
    for item in report["duplicates"]:
        table.add_row("duplicate", "", escape(f"{item['file']} (same as {item['same_as']})"))
    for item in report["quarantined"]:
        table.add_row("[red]quarantined[/]", item["leader_id"] or "", escape(item["file"]))
    for item in report["waiting"]:
        table.add_row("waiting", "", escape(f"{item['file']}: {item['why']}"))
    out.print(table)
    for item in report["quarantined"]:
        out.print(f"[red]{escape(item['file'])}[/]", highlight=False)
        for found in item["problems"]:
            where = f" {found['cell']}" if found["cell"] else ""
            out.print(f"  {found['code']}{escape(where)}: {escape(found['message'])}", highlight=False)
    out.print(
        f"{len(report['accepted'])} accepted, {len(report['quarantined'])} quarantined, "
        f"{len(report['duplicates'])} duplicates, {len(report['waiting'])} waiting"
    )


@app.command()
def fetch(workspace: WorkspaceOption = Path(".")) -> None:
    """Save the forms leaders emailed back from the returns mailbox into inbox/, each exactly once.

    Reads mail: imap: in config/partnership.yaml (host, port, folder, processed_folder); the login comes
    from CLB_IMAP_USERNAME and CLB_IMAP_PASSWORD. Every workbook attachment of each new message is saved
    into inbox/mail/ and the message moved to the processed folder. The nightly run does this first when
    a mailbox is set. Who sent a form is kept as evidence; the form itself says whose it is.

    [bold]Example:[/] clb fetch --workspace ~/partnerships/riverside
    """
    space = _open(workspace)
    from pipeline.mail.fetch import FetchError, fetch_returns
    from pipeline.state import open_state

    config = load_config(space.config)
    try:
        with workspace_lock(space, wait_seconds=30):
            report = fetch_returns(space, open_state(space.database), config)
    except WorkspaceBusy as exc:
        raise _fail(str(exc), code=BUSY) from None
    except FetchError as exc:
        raise _fail(str(exc), code=FAILED) from None
    table = _table(f"Fetched from {config.settings.mail.imap.host if config.settings.mail.imap else ''}")
    table.add_column("Sender", no_wrap=True)
    table.add_column("Saved as", overflow="fold", ratio=1)
    for item in report.saved:
        table.add_row(escape(item["sender"]), escape(item["file"].removeprefix("inbox/")))
    out.print(table)
    for item in report.ignored:
        part = f" {item['part']}:" if item["part"] else ""
        out.print(
            f"[yellow]Not taken[/] from {escape(item['message'])}:{escape(part)} {escape(item['why'])}", highlight=False
        )
    out.print(
        f"{report.messages} messages, {len(report.saved)} forms saved into inbox/, "
        f"{report.already} taken before; run clb nightly to take them in.",
        highlight=False,
    )


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="Returned forms to check.", show_default=False)],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Check returned forms now, exactly as the nightly run would, without taking them in.

    Nothing is recorded and nothing is moved. The exit code is 1 when any file would be quarantined.

    [bold]Example:[/] clb check "Copy of CLB form (2).xlsx" --workspace ~/partnerships/riverside
    """
    space = _open(workspace)
    from pipeline.intake.check import check_files

    config = load_config(space.config)
    results = check_files(space, config, files)
    from pipeline.privacy.audit import record

    record(space, "check", files=len(results), acceptable=sum(1 for result in results if result.acceptable))
    table = _table(None, lines=True)
    table.add_column("File", overflow="fold", ratio=2)
    table.add_column("Would be", no_wrap=True)
    table.add_column("Leader", overflow="fold", ratio=2)
    table.add_column("Problems", overflow="fold", ratio=3)
    for result in results:
        problems = "\n".join(f"{p.code} {p.cell or ''}: {p.message}" for p in result.problems)
        verdict = "[green]accepted[/]" if result.acceptable else "[red]quarantined[/]"
        leader = (result.leader or "").replace(" (", "\n(", 1)  # the name, then the address below it
        table.add_row(escape(_shown_path(result.file)), verdict, escape(leader), escape(problems))
    out.print(table)
    if not all(result.acceptable for result in results):
        raise typer.Exit(NEEDS_YOU)


def _shown_path(name: str) -> str:
    """A file as the facilitator typed it, or relative to where they are when it is inside it."""
    path = Path(name)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return name


@app.command()
@_scoped
def send(
    kind: Annotated[
        str, typer.Argument(help="invitations, reminders, letters, corrections or notices", show_default=False)
    ],
    workspace: WorkspaceOption = Path("."),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write the messages as .eml files and record nothing.")
    ] = False,
    resend: Annotated[bool, typer.Option("--resend", help="Send again messages already sent (or refused).")] = False,
    mark_sent: Annotated[
        bool,
        typer.Option(
            "--mark-sent",
            help="Record that you sent this kind's drafts (.eml files) yourself: from now on they count as sent.",
        ),
    ] = False,
) -> None:
    """Send one kind of message to every leader who should get it now.

    invitations: each leader's own form. reminders: leaders with no accepted return (at most every N days).
    letters: each leader's feedback letter. corrections: what to fix in a quarantined return. notices: a
    leader's accepted return was replaced (every nightly run sends these by itself).
    Nothing is sent twice unless you say --resend. With no SMTP host in config/partnership.yaml, each message
    is a draft in outbox/mail/<kind>/: open it in Outlook or Thunderbird and press Send; then
    clb send <kind> --mark-sent records that you did. Until then clb calls them drafted, never sent.

    [bold]Example:[/] clb send invitations --workspace ~/partnerships/riverside --dry-run
    """
    from pipeline.mail.sending import KINDS

    if kind not in KINDS:
        raise _fail(f"'{kind}' is not something clb sends; choose one of: {', '.join(KINDS)}")
    space = _open(workspace)
    if mark_sent:
        from pipeline.mail.sending import singular
        from pipeline.state import mark_drafts_sent, open_state

        config = load_config(space.config)
        note = f"sent by the facilitator from the draft (recorded {dt.date.today().isoformat()})"
        marked = mark_drafts_sent(open_state(space.database), config.settings.round, singular(kind), note)
        out.print(f"{marked} drafted {kind} recorded as sent.", highlight=False)
        return
    _engine(space)
    from pipeline.flows import SEND_FLOWS

    report = _run(SEND_FLOWS[kind], workspace=str(space.root), dry_run=dry_run, resend=resend)
    table = _table(f"clb send {kind}: {report['mode']}")
    table.add_column("Leader", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Server", overflow="fold", ratio=1)
    for item in report["results"]:
        to = "" if item["recipient"] == item["leader_id"] else f" (to {item['recipient']})"
        server = "" if item["status"] == "drafted" else item["response"]  # the drafts' folder is said below
        table.add_row(escape(item["leader_id"] + to), item["status"], escape(server))
    for item in report["skipped"]:
        table.add_row(escape(item["leader_id"]), "skipped", escape(item["why"]))
    out.print(table)
    counts: dict[str, int] = {}
    for item in report["results"]:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to send"
    out.print(f"{summary}; {len(report['skipped'])} skipped", highlight=False)
    if counts.get("refused") or counts.get("deferred"):
        raise typer.Exit(NEEDS_YOU)


@app.command()
def accept(
    file: Annotated[Path, typer.Argument(help="The held return (its quarantined copy).", show_default=False)],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Accept a return held for confirmation, now that its leader has told you it is theirs.

    A return that would replace a leader's accepted answers is held when it came from another address
    than the leader's own (a PA, a colleague, a forged sender). The leader is asked; if they send it again
    from their own address the next nightly run accepts it by itself. This accepts it on your word, and
    is recorded in the audit trail.

    [bold]Example:[/] clb accept "outbox/quarantine/20261203-020000-a1b2c3/3fa2c1d9 CLB form.xlsx"
    """
    space = _open(workspace)
    from pipeline import stages
    from pipeline.intake.confirm import NotHeld

    if not file.is_file():
        raise _fail(f"{escape(str(file))} is not a file.")
    try:
        with workspace_lock(space, wait_seconds=30):
            entry = stages.accept(space, file)
    except WorkspaceBusy as exc:
        raise _fail(str(exc), code=BUSY) from None
    except NotHeld as exc:
        raise _fail(escape(str(exc))) from None
    out.print(
        f"Accepted as {escape(entry['leader_id'] or '')}'s return; their earlier one no longer counts. The "
        "outputs were built again; they will be told of the change with the next replacement notices.",
        highlight=False,
    )


@app.command()
def forget(
    email: Annotated[str, typer.Argument(help="The leader's email address, as on the roster.", show_default=False)],
    workspace: WorkspaceOption = Path("."),
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase one leader everywhere the workspace keeps personal data (an erasure request).

    Their forms, returned files, answers, user log, letters, corrections, messages, log lines and run
    report entries are removed, and the outputs of every round they were in are built again without them.
    Only a tombstone stays (salted hashes of their address and form references, and the date), so a form
    they send later is quarantined as 'forgotten' and clb forms never makes them a new one. Then remove
    their row from the roster. This cannot be undone: back up the workspace first if you may need it.

    [bold]Example:[/] clb forget jo.bloggs@council.example --workspace ~/partnerships/riverside
    """
    space = _open(workspace)
    from pipeline import stages
    from pipeline.workspace import WorkspaceBusy, workspace_lock

    def confirm(lines: list[str]) -> bool:
        out.print("This removes, for good:", highlight=False)
        for line in lines:
            out.print(f"  - {escape(line)}", highlight=False)
        return yes or typer.confirm("Go ahead?", default=False)

    try:
        with workspace_lock(space, wait_seconds=30):
            done = stages.forget(space, email, confirm)
    except WorkspaceBusy as exc:
        raise _fail(str(exc), code=BUSY) from None
    if not done.lines:
        out.print("Nothing was removed.", highlight=False)
        return
    if done.left:
        out.print(
            "[red]Not finished.[/] These could not be removed (open in a program, or read-only):", highlight=False
        )
        for name in done.left:
            out.print(f"  - {escape(name)}", highlight=False, soft_wrap=True)
        out.print(
            "Close the programs that hold them, then run the same clb forget again: it finishes the erasure.",
            highlight=False,
        )
        raise typer.Exit(NEEDS_YOU)
    out.print(
        "Done. Only a tombstone is kept. Now remove their row from the roster (config/"
        f"{escape(Path(load_config(space.config).roster_file).name)}).",
        highlight=False,
    )


def _shown_detail(value: object) -> str:
    """An audit detail in a line: hashes shortened to 12 characters, counts as they are."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {_shown_detail(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_shown_detail(item) for item in value)
    text = str(value)
    return text[:12] if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else text


@app.command()
def purge(
    workspace: WorkspaceOption = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what is due, and remove nothing.")] = False,
) -> None:
    """Remove the personal data the retention policy (retention: in config/partnership.yaml) says is no
    longer needed, and list it. Each nightly run does the same once a policy is set.

    [bold]Example:[/] clb purge --dry-run --workspace ~/partnerships/riverside
    """
    space = _open(workspace)
    from pipeline import stages
    from pipeline.workspace import WorkspaceBusy, workspace_lock

    config = stages.workspace_config(space)
    if not config.settings.retention.configured:
        out.print(
            "No retention policy is set (retention: in config/partnership.yaml), so nothing is ever due.",
            highlight=False,
        )
        return
    try:
        with workspace_lock(space, wait_seconds=30):
            lines = stages.purge(space, config, dry_run=dry_run)
    except WorkspaceBusy as exc:
        raise _fail(str(exc)) from None
    if not lines:
        out.print("Nothing is due for removal.", highlight=False)
        return
    out.print("Due for removal (nothing removed: dry run):" if dry_run else "Removed:", highlight=False)
    for line in lines:
        out.print(f"  - {escape(line)}", highlight=False)


@app.command()
def audit(
    workspace: WorkspaceOption = Path("."),
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            help="Only this kind of entry: forms-issued, nightly, send, check, forget, purge, config-changed.",
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only entries on or after this date (YYYY-MM-DD).")
    ] = None,
    check_chain: Annotated[
        bool, typer.Option("--verify", help="Check that no line was edited, removed or inserted.")
    ] = False,
) -> None:
    """Show the audit trail (state/audit.log): who did what to the workspace's personal data, and when.

    Each entry gives counts, codes and hashes, never a name or anything a leader wrote. With --verify, the
    chain of hashes is checked; the exit code is 1 when it is broken, with the first line that does not fit.

    [bold]Example:[/] clb audit --action forget --since 2026-12-01
    """
    space = _open(workspace)
    from pipeline.privacy.audit import entries, verify

    if check_chain:
        count, problem = verify(space)
        if problem is not None:
            out.print(f"[red]The audit trail has been altered:[/] {escape(problem)} ({count} lines).", highlight=False)
            raise typer.Exit(NEEDS_YOU)
        out.print(f"The audit trail is intact: {count} entries, each linked to the one before.", highlight=False)
        return
    table = _table(None, lines=True)
    table.add_column("When (UTC)", no_wrap=True)
    table.add_column("Who", overflow="fold", ratio=1)
    table.add_column("What", no_wrap=True)
    table.add_column("Details", overflow="fold", ratio=3)
    for entry in entries(space):
        if (action and entry.action != action) or (since and entry.at[:10] < since):
            continue
        details = "; ".join(f"{key} {_shown_detail(value)}" for key, value in entry.details.items())
        table.add_row(entry.at[:16].replace("T", " "), escape(entry.who), entry.action, escape(details))
    out.print(table)


@app.command()
def status(workspace: WorkspaceOption = Path(".")) -> None:
    """Show, for every leader, where they are: form issued, invited, reminded, returned, quarantined, letter.

    Reads the state only; starts nothing.

    [bold]Example:[/] clb status --workspace ~/partnerships/riverside
    """
    space = _open(workspace)
    from pipeline.mail.status import leader_status, totals
    from pipeline.state import open_state_readonly

    config = load_config(space.config)
    engine = open_state_readonly(space.database)
    if engine is None:
        out.print("Nothing has happened in this workspace yet: run clb forms first.")
        return
    from pipeline.privacy.tombstones import forgotten_on, leave_out

    gone = forgotten_on(engine, [leader.id for leader in config.roster])
    config = leave_out(config, gone)  # named nowhere, on screen neither
    rows = leader_status(engine, config)
    table = _table(f"{config.settings.partnership}, round {config.settings.round}")
    table.add_column("Leader", ratio=2, overflow="fold")  # names wrap, never cut; states and days stay whole
    table.add_column("Organisation", ratio=2, overflow="fold")
    for column in ("Invitation", "Returned", "Letter"):
        table.add_column(column, no_wrap=True)
    table.add_column("Notes", ratio=2, overflow="fold")
    for row in rows:
        notes = [] if row["issued"] else ["no form yet"]
        if row["reminders"]:
            plural = "s" if row["reminders"] > 1 else ""
            notes.append(f"{row['reminders']} reminder{plural}, last {_day(row['last_reminder'])}")
        if row["quarantined"]:
            notes.append(f"{row['quarantined']} quarantined")
        table.add_row(
            escape(row["leader"]),
            escape(row["organisation"]),
            _said(row["invitation"], row["invited"]),
            _day(row["returned"]),
            _said(row["letter"], row["letter_date"]),
            "; ".join(notes),
        )
    out.print(table)
    out.print(", ".join(f"{name}: {count}" for name, count in totals(rows).items()), highlight=False)
    if gone:
        out.print(
            f"[yellow]{len(gone)} roster row{'s' if len(gone) != 1 else ''} of leaders who asked to be forgotten "
            "(not shown): remove them from the roster.[/]",
            highlight=False,
        )
    from pipeline.state import pending_erasures

    for started in pending_erasures(engine):
        out.print(
            f"[red]An erasure started on {started[:10]} is not finished:[/] run the same clb forget again once "
            "the files it names are no longer open.",
            highlight=False,
        )


@app.command()
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
    spaces = [_open(path) for path in (workspace or [Path(".")])]
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
        raise _fail(str(exc)) from None
    out.print("Stopped.")


@app.command()
def deploy(
    workspace: Annotated[
        list[Path] | None,
        typer.Option(
            "--workspace", "-w", help="A workspace to deploy; repeat for each.", show_default="the current folder"
        ),
    ] = None,
    pool: Annotated[str, typer.Option("--pool", help="The Prefect process work pool (made if missing).")] = "clb",
) -> None:
    """Register each workspace's nightly and reminders runs, with their schedules, to a Prefect work pool.

    For many partnerships on one Prefect server (PREFECT_API_URL, or a clb serve --server-only here):
    then start workers with clb worker --pool clb, on any machine that sees the workspace folders. Run it
    again after changing a schedule. Only one run per workspace happens at a time, whatever the workers.

    [bold]Example:[/] clb deploy --workspace /srv/partnerships/riverside --workspace /srv/partnerships/hillside
    """
    spaces = [_open(path) for path in (workspace or [Path(".")])]
    url = configure_prefect(spaces[0])
    if url is None:
        raise _fail(
            "No Prefect server to deploy to: set PREFECT_API_URL to your server's address "
            "(e.g. http://prefect.internal:4200/api), or start one here with clb serve --server-only."
        )
    from pipeline.pool import NameClash
    from pipeline.pool import deploy as deploy_to_pool

    try:
        names = deploy_to_pool(spaces, pool)
    except NameClash as exc:
        raise _fail(escape(str(exc))) from None
    out.print(f"Deployed to work pool '{escape(pool)}' on {escape(url)}:", highlight=False)
    for name in names:
        out.print(f"  {escape(name)}", highlight=False)
    out.print(f"Start workers with: clb worker --pool {escape(pool)}", highlight=False)


@app.command()
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
    if "PREFECT_API_URL" not in os.environ:
        raise _fail("Set PREFECT_API_URL to the Prefect server's address, e.g. http://127.0.0.1:4200/api.")
    if not workspace and not workspaces_in:
        raise _fail(
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
        [str(_open(path).root) for path in workspace or []],
        [str(path.expanduser().resolve()) for path in workspaces_in or []],
    )
    run_worker(pool, limit, served)


@app.command()
@_scoped
def demo(
    workspace: WorkspaceOption = Path("demo"),
    source: Annotated[
        Path | None,
        typer.Option(
            "--from", help="The config folder to copy the partnership from.", show_default="clb's example partnership"
        ),
    ] = None,
    smtp: Annotated[
        str,
        typer.Option(
            "--smtp",
            help="Send the demo's mail to this SMTP server (HOST:PORT, no TLS), e.g. a local "
            "'uv run python -m aiosmtpd -n -l 127.0.0.1:8025'. Without it, mail is written as .eml files.",
        ),
    ] = "",
    imap: Annotated[
        str,
        typer.Option(
            "--imap",
            help="Let the simulated returns arrive by email at this IMAP server (HOST:PORT, no TLS; the login "
            "in CLB_IMAP_USERNAME and CLB_IMAP_PASSWORD), e.g. the throwaway one 'python -m tests.imap_server' "
            "starts; the nightly run fetches them.",
        ),
    ] = "",
    instrument: Annotated[
        str | None,
        typer.Option(
            "--instrument",
            help="Run the demo with another self-assessment tool: an instrument file, or the code of one "
            "shipped with clb (ISR0.01).",
            show_default="CLB0.01",
        ),
    ] = None,
) -> None:
    """Run the whole pipeline on the example partnership in a fresh demo workspace.

    The demo workspace is made anew each time (default ./demo) from the example config, so the project's
    own workspace is left alone.

    [bold]Example:[/] clb demo --workspace /tmp/clb-demo
    """
    from pipeline.demo import prepare_demo
    from pipeline.init import InitError, instrument_file
    from pipeline.resources import example_config

    try:
        tool = instrument_file(instrument) if instrument is not None else None
        prepare_demo(source or example_config(), workspace, smtp, imap, tool)
    except (FileNotFoundError, ValueError, InitError) as exc:
        raise _fail(str(exc)) from None
    out.print(f"Demo workspace: [bold]{workspace.resolve()}[/]", highlight=False)
    forms(workspace=workspace, reissue=None)
    send_demo_mail(workspace, "invitations")
    from pipeline.demo import simulate_returns

    made = simulate_returns(workspace)
    if imap:
        from pipeline.demo import mail_returns

        filed = mail_returns(workspace, imap)
        out.print(f"Simulated {filed} returns emailed to the mailbox at {imap}", highlight=False)
    else:
        out.print(f"Simulated {made} returned files in {workspace.resolve() / 'inbox'}", highlight=False)
    _nightly(workspace)  # the demo's quarantined returns are part of the show, not a failure
    send_demo_mail(workspace, "corrections")
    send_demo_mail(workspace, "letters")
    out.print(
        "\n[bold]Where to look:[/] forms in outbox/forms/, the run report in outbox/runs/latest.json, "
        "quarantined files with their reasons in outbox/quarantine/, messages for leaders in outbox/corrections/, "
        "the comparison workbooks in outbox/reports/, letters in outbox/letters/ (start at index.html), "
        "mail in outbox/mail/ (or at your SMTP server).",
        highlight=False,
    )


def send_demo_mail(workspace: Path, kind: str) -> None:
    from pipeline.flows import SEND_FLOWS

    report = _run(SEND_FLOWS[kind], workspace=str(workspace.resolve()))
    done = sum(1 for item in report["results"] if item["status"] in ("sent", "drafted"))
    out.print(f"clb send {kind}: {done} messages ({report['mode']})", highlight=False)


def main() -> None:
    """The console entry point. Once clb has finished, and every exit handler has run (Prefect's
    flushing its logs and events among them), the process ends at once: unloading the hundreds of modules
    Prefect, pandas and openpyxl bring would take another half second of every command, for nothing."""
    ending = {"code": 0}

    def finish() -> None:  # registered first, so it runs after every other exit handler
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(ending["code"])

    atexit.register(finish)
    try:
        app()
    except SystemExit as exc:
        ending["code"] = exc.code if isinstance(exc.code, int) else (DONE if exc.code is None else USAGE)
        raise
    except KeyboardInterrupt:
        ending["code"] = FAILED
        err.print("Stopped (Ctrl-C). Nothing is lost: run the command again.", highlight=False)
    except BaseException:  # a fault of clb or of the machine: say so, and never exit 0 (cron would call it done)
        ending["code"] = FAILED
        err.print_exception(max_frames=8)
        err.print(
            "[bold red]clb stopped:[/] the command could not complete (above: what went wrong). Nothing is "
            "lost: fix the cause (a full disk, a damaged file) and run it again.",
            highlight=False,
        )


__all__ = ["app"]
