"""A round's nights and its close: clb nightly, close, fetch, check, accept, status."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.common import (
    BUSY,
    DONE,
    FAILED,
    NEEDS_YOU,
    WorkspaceOption,
    fail,
    open_workspace,
    out,
    run_flow,
    scoped,
    use_engine,
)
from pipeline.cli.tables import day, new_table, print_held, print_not_taken, print_report, said, shown_path
from pipeline.config import load_config
from pipeline.workspace import WorkspaceBusy, workspace_lock
from pipeline.workspace_engine import running_engine


@scoped
def nightly(workspace: WorkspaceOption = Path(".")) -> None:
    """Take in every returned form from inbox/: check it, keep it or quarantine it, and report.

    Files still being saved are left for the next run. Every file's decision is written to
    outbox/runs/<run-id>/summary.json (and outbox/runs/latest.json). Quarantined files are copied to
    outbox/quarantine/<run-id>/ with a reasons file; leaders get a correction request in outbox/corrections/.

    [bold]Example:[/] clb nightly --workspace ~/partnerships/riverside
    """
    code = run_nightly(workspace)
    if code != DONE:
        out.print("Some files need you (above): exit code 1.", highlight=False)
        raise typer.Exit(code)


rounds = typer.Typer(help="The next round in this workspace: clb round new ROUND --deadline YYYY-MM-DD.")


@rounds.command("new")
@scoped
def new_round(
    round_id: Annotated[str, typer.Argument(help="The new round's id, e.g. 2027-Q3.", show_default=False)],
    deadline: Annotated[
        dt.datetime,
        typer.Option("--deadline", formats=["%Y-%m-%d"], help="The date leaders return their form by, YYYY-MM-DD."),
    ],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Start the next round in this workspace: the same roster and settings, a new round and deadline.

    The round before must be closed (clb close). Its answers stay: the next round's letters show how each
    leader's answers moved, and the workbook's Rounds compared sheet compares the rounds. Then make the
    forms and send them: clb forms && clb send invitations.

    [bold]Example:[/] clb round new 2027-Q3 --deadline 2027-09-30 --workspace ~/partnerships/riverside
    """
    space = open_workspace(workspace)
    from pipeline import stages

    try:
        follows = stages.new_round(space, round_id, deadline.date())
    except stages.NewRoundRefused as exc:
        raise fail(f"No new round: {exc}.") from None
    out.print(
        f"Round {escape(round_id)} follows round {escape(follows)}, due back by {deadline:%d %B %Y}. "
        "Next: clb forms && clb send invitations",
        highlight=False,
    )


@scoped
def close(workspace: WorkspaceOption = Path(".")) -> None:
    """Close the round now: take in what the inbox holds, publish the partners' figures and make the
    letters final.

    The first nightly run after the deadline (and its grace, close_after_days) does the same. Returns
    that come later are still taken in and shown to you; they reach partners only when enough of them
    allow a new edition. Then send the letters: clb send letters.

    [bold]Example:[/] clb close --workspace ~/partnerships/riverside
    """
    code = run_nightly(workspace, close=True)
    if code != DONE:
        out.print("Some files need you (above): exit code 1.", highlight=False)
        raise typer.Exit(code)


def run_nightly(workspace: Path, close: bool = False) -> int:
    """Run the nightly flow (and close the round, with ``close``) and show its report; the exit code:
    NEEDS_YOU when a file was quarantined, or waits for something other than time, or the mailbox could
    not be read."""
    space = open_workspace(workspace)
    use_engine(space)
    from pipeline.flows import nightly as nightly_flow

    report = run_flow(nightly_flow, workspace=str(space.root), close=close)
    print_report(report)
    figures = report["round"]
    out.print(
        f"Round {figures['round']}: {figures['responses']} of {figures['roster']} leaders' responses accepted, "
        f"{figures['outstanding']} outstanding; {len(report['outputs'])} files written.",
        highlight=False,
    )
    out.print(figures["stage_text"], highlight=False)
    print_held(space.root, report.get("held", []))
    out.print(f"Run report: [bold]{space.outbox / 'runs' / report['run_id'] / 'summary.json'}[/]", highlight=False)
    notices = report.get("notices")
    if notices and notices["results"]:
        done = sum(1 for item in notices["results"] if item["status"] in ("sent", "drafted"))
        out.print(
            f"{done} leader{'s' if done != 1 else ''} told their return was replaced ({escape(notices['mode'])}).",
            highlight=False,
            soft_wrap=True,
        )
    fetched = report.get("fetched")
    error = fetched["error"] if fetched is not None and "error" in fetched else ""
    if error:
        out.print(f"[yellow]The returns mailbox could not be read: {escape(error)}[/]", highlight=False)
    elif fetched is not None and "ignored" in fetched:
        print_not_taken(fetched["ignored"])
        if fetched["ignored"]:
            out.print("Read those in your mail program, where they were filed as processed.", highlight=False)
    needs_you = (
        bool(report["quarantined"]) or any(item.get("needs_you", True) for item in report["waiting"]) or bool(error)
    )
    return NEEDS_YOU if needs_you else DONE


def fetch(workspace: WorkspaceOption = Path(".")) -> None:
    """Save the forms leaders emailed back from the returns mailbox into inbox/, each exactly once.

    Reads mail: imap: in config/partnership.yaml (host, port, folder, processed_folder); the login comes
    from CLB_IMAP_USERNAME and CLB_IMAP_PASSWORD. Every workbook attachment of each new message is saved
    into inbox/mail/ and the message moved to the processed folder. The nightly run does this first when
    a mailbox is set. Who sent a form is kept as evidence; the form itself says whose it is.

    [bold]Example:[/] clb fetch --workspace ~/partnerships/riverside
    """
    space = open_workspace(workspace)
    from pipeline import stages
    from pipeline.mail.fetch import FetchError

    config = load_config(space.config)
    try:
        with workspace_lock(space, wait_seconds=30):
            report = stages.fetch(space)
    except WorkspaceBusy as exc:
        raise fail(str(exc), code=BUSY) from None
    except FetchError as exc:
        raise fail(str(exc), code=FAILED) from None
    table = new_table(f"Fetched from {config.settings.mail.imap.host if config.settings.mail.imap else ''}")
    table.add_column("Sender", no_wrap=True)
    table.add_column("Saved as", overflow="fold", ratio=1)
    for item in report.saved:
        table.add_row(escape(item["sender"]), escape(item["file"].removeprefix("inbox/")))
    out.print(table)
    print_not_taken(report.ignored)
    out.print(
        f"{report.messages} messages, {len(report.saved)} files saved into inbox/, "
        f"{report.already} taken before; run clb nightly to take them in.",
        highlight=False,
    )


def check(
    files: Annotated[list[Path], typer.Argument(help="Returned forms to check.", show_default=False)],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Check returned forms now, exactly as the nightly run would, without taking them in.

    Nothing is recorded and nothing is moved. The exit code is 1 when any file would be quarantined.

    [bold]Example:[/] clb check "Copy of CLB form (2).xlsx" --workspace ~/partnerships/riverside
    """
    space = open_workspace(workspace)
    from pipeline import stages

    results = stages.check(space, files)
    table = new_table(None, lines=True)
    table.add_column("File", overflow="fold", ratio=2)
    table.add_column("Would be", no_wrap=True)
    table.add_column("Leader", overflow="fold", ratio=2)
    table.add_column("Problems", overflow="fold", ratio=3)
    for result in results:
        problems = "\n".join(f"{p.code} {p.cell or ''}: {p.message}" for p in result.problems)
        verdict = "[green]accepted[/]" if result.acceptable else "[red]quarantined[/]"
        leader = (result.leader or "").replace(" (", "\n(", 1)  # the name, then the address below it
        table.add_row(escape(shown_path(result.file)), verdict, escape(leader), escape(problems))
    out.print(table)
    if not all(result.acceptable for result in results):
        raise typer.Exit(NEEDS_YOU)


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
    space = open_workspace(workspace)
    from pipeline import stages
    from pipeline.intake.confirm import NotHeld

    if not file.is_file():
        raise fail(f"{escape(str(file))} is not a file.")
    try:
        with workspace_lock(space, wait_seconds=30):
            entry = stages.accept(space, file)
    except WorkspaceBusy as exc:
        raise fail(str(exc), code=BUSY) from None
    except NotHeld as exc:
        raise fail(escape(str(exc))) from None
    out.print(
        f"Accepted as {escape(entry['leader_id'] or '')}'s return; their earlier one no longer counts. The "
        "outputs were built again; they will be told of the change with the next replacement notices.",
        highlight=False,
    )


def enter(
    email: Annotated[str, typer.Argument(help="The leader's address, as on the roster.", show_default=False)],
    answers: Annotated[
        str,
        typer.Option(
            "--answers",
            help="One answer per row of the form, in order, separated by commas: the column's number "
            "(for CLB0.01: 1 comfortable, 2 stretched, 3 a bit panicked) or its word.",
            show_default=False,
        ),
    ],
    log: Annotated[str, typer.Option("--log", help="What they wrote in the user log, if anything.")] = "",
    source: Annotated[
        Path | None,
        typer.Option("--source", help="The scan, PDF or email you read them from: kept in the archive."),
    ] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Enter a leader's answers from a form returned on paper, as a scan, or typed into an email.

    The answers are written into a copy of the leader's own form, in inbox/entered/, and the next nightly
    run checks and takes it in as their return, like any other (an earlier return is replaced under the
    same rules, and they are told). It is marked as entered by you in the tracker, and the audit trail
    records it.

    [bold]Example:[/] clb enter priya.raman@riverside-council.example --answers 1,2,2,1,3,2,1 --source scan0001.pdf
    """
    space = open_workspace(workspace)
    from pipeline import stages
    from pipeline.intake.entered import EntryRefused

    if source is not None and not source.is_file():
        raise fail(f"{escape(str(source))} is not a file.")
    try:
        with workspace_lock(space, wait_seconds=30):
            done = stages.enter(space, email, answers, log, source)
    except WorkspaceBusy as exc:
        raise fail(str(exc), code=BUSY) from None
    except EntryRefused as exc:
        raise fail(f"Nothing entered: {escape(str(exc))}.") from None
    where = shown_path(str(space.root / done.file))  # in the system's own separators
    out.print(f"{escape(done.leader)}'s answers are in {escape(where)}.", highlight=False, soft_wrap=True)
    if done.source:
        out.print(f"The source is kept in the archive ({done.source[:12]}).", highlight=False)
    out.print("The next nightly run takes them in (or run clb nightly now).", highlight=False)


def assign(
    file: Annotated[Path, typer.Argument(help="The quarantined file (its copy in outbox/quarantine/).")],
    email: Annotated[str, typer.Argument(help="The leader it belongs to, as on the roster.", show_default=False)],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Say whose a quarantined file is, when nothing in it or about it told clb (a scan from a shared address).

    From then on it is shown beside that leader in clb status and the tracker; the audit trail records it.
    If it holds their answers in another shape, enter them with clb enter.

    [bold]Example:[/] clb assign "outbox/quarantine/20261203-020000-a1b2c3/3fa2c1d9 scan0001.pdf" priya@council.example
    """
    space = open_workspace(workspace)
    from pipeline import stages

    if not file.is_file():
        raise fail(f"{escape(str(file))} is not a file.")
    try:
        with workspace_lock(space, wait_seconds=30):
            name = stages.assign(space, file, email)
    except WorkspaceBusy as exc:
        raise fail(str(exc), code=BUSY) from None
    except stages.NotPlaceable as exc:
        raise fail(escape(str(exc))) from None
    out.print(f"{escape(file.name)} is now shown as {escape(name)}'s.", highlight=False, soft_wrap=True)


def open_page(
    workspace: WorkspaceOption = Path("."),
    show: Annotated[bool, typer.Option("--print", help="Only print where the page is.")] = False,
) -> None:
    """Open the round page in your browser: where the round stands, what needs you, every file.

    The page is outbox/round.html in the workspace, made again by every nightly run and every clb send;
    a double-click opens it too. It names leaders: it is for you alone.

    [bold]Example:[/] clb open --workspace ~/partnerships/riverside
    """
    import webbrowser

    from pipeline.reports.round_page import PAGE

    space = open_workspace(workspace)
    page = space.root / PAGE
    if not page.exists():
        raise fail("There is no round page yet: the first nightly run or clb send makes it (clb nightly makes it now).")
    shown = escape(str(page))
    if show or not webbrowser.open(page.as_uri()):
        out.print(f"The round page: {shown} (open it in your browser).", highlight=False, soft_wrap=True)
        return
    out.print(f"Opened {shown} in your browser.", highlight=False, soft_wrap=True)


def status(workspace: WorkspaceOption = Path(".")) -> None:
    """Show, for every leader, where they are: form issued, invited, reminded, returned, quarantined, letter.

    Reads the state only; starts nothing.

    [bold]Example:[/] clb status --workspace ~/partnerships/riverside
    """
    space = open_workspace(workspace)
    from pipeline import stages

    found = stages.status(space)
    if found is None:
        out.print("Nothing has happened in this workspace yet: run clb forms first.")
        return
    table = new_table(f"{found.partnership}, round {found.round}")
    table.add_column("Leader", ratio=2, overflow="fold")  # names wrap, never cut; states and days stay whole
    table.add_column("Organisation", ratio=2, overflow="fold")
    for column in ("Invitation", "Returned", "Letter"):
        table.add_column(column, no_wrap=True)
    table.add_column("Notes", ratio=2, overflow="fold")
    for row in found.rows:
        notes = [] if row.issued else ["no form yet"]
        if row.reminders:
            plural = "s" if row.reminders > 1 else ""
            notes.append(f"{row.reminders} reminder{plural}, last {day(row.last_reminder)}")
        if row.unreadable:
            notes.append("needs you: sent a file that is not the form (a reply is drafted)")
        if row.quarantined - row.unreadable:
            notes.append(f"{row.quarantined - row.unreadable} quarantined")
        table.add_row(
            escape(row.leader),
            escape(row.organisation),
            said(row.invitation, row.invited),
            day(row.returned),
            said(row.letter, row.letter_date),
            "; ".join(notes),
        )
    out.print(table)
    out.print(", ".join(f"{name}: {count}" for name, count in found.totals.items()), highlight=False)
    if found.unplaced:
        out.print("[yellow]Files we could not place[/] (no form of ours in them, and not from a leader's address):")
        for item in found.unplaced:
            out.print(f"  - {escape(item.file)}, received {day(item.received)}: {escape(item.why)}", highlight=False)
        out.print("Open the reasons in outbox/quarantine/ to see what each is.", highlight=False)
    out.print(found.stage_text, highlight=False)
    gone = found.forgotten_on_roster
    if gone:
        out.print(
            f"[yellow]{gone} roster row{'s' if gone != 1 else ''} of leaders who asked to be forgotten "
            "(not shown): remove them from the roster.[/]",
            highlight=False,
        )
    for started in found.erasures_unfinished:
        out.print(
            f"[red]An erasure started on {started[:10]} is not finished:[/] run the same clb forget again once "
            "the files it names are no longer open.",
            highlight=False,
        )
    engine = running_engine(space.state_dir)
    if engine:
        out.print(f"[dim]{escape(engine)}[/]", highlight=False)
