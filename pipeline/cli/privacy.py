"""Personal data: clb forget, purge, audit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.common import BUSY, NEEDS_YOU, WorkspaceOption, fail, open_workspace, out
from pipeline.cli.tables import new_table, shown_detail, shown_path
from pipeline.config import load_config
from pipeline.workspace import WorkspaceBusy, workspace_lock


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
    space = open_workspace(workspace)
    from pipeline import stages

    def confirm(lines: list[str]) -> bool:
        out.print("This removes, for good:", highlight=False)
        for line in lines:
            out.print(f"  - {escape(line)}", highlight=False)
        return yes or typer.confirm("Go ahead?", default=False)

    try:
        with workspace_lock(space, wait_seconds=30):
            done = stages.forget(space, email, confirm)
    except WorkspaceBusy as exc:
        raise fail(str(exc), code=BUSY) from None
    if not done.lines:
        out.print("Nothing was removed.", highlight=False)
        return
    if done.left:
        out.print(
            "[red]Not finished.[/] These could not be removed (open in a program, or read-only):", highlight=False
        )
        for name in done.left:  # in the system's own separators
            out.print(f"  - {escape(shown_path(str(space.root / name)))}", highlight=False, soft_wrap=True)
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


def purge(
    workspace: WorkspaceOption = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what is due, and remove nothing.")] = False,
) -> None:
    """Remove the personal data the retention policy (retention: in config/partnership.yaml) says is no
    longer needed, and list it. Each nightly run does the same once a policy is set.

    [bold]Example:[/] clb purge --dry-run --workspace ~/partnerships/riverside
    """
    space = open_workspace(workspace)
    from pipeline import stages

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
        raise fail(str(exc)) from None
    if not lines:
        out.print("Nothing is due for removal.", highlight=False)
        return
    out.print("Due for removal (nothing removed: dry run):" if dry_run else "Removed:", highlight=False)
    for line in lines:
        out.print(f"  - {escape(line)}", highlight=False)


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
    space = open_workspace(workspace)
    from pipeline import stages

    if check_chain:
        count, problem = stages.verify_audit(space)
        if problem is not None:
            out.print(f"[red]The audit trail has been altered:[/] {escape(problem)} ({count} lines).", highlight=False)
            raise typer.Exit(NEEDS_YOU)
        out.print(f"The audit trail is intact: {count} entries, each linked to the one before.", highlight=False)
        return
    table = new_table(None, lines=True)
    table.add_column("When (UTC)", no_wrap=True)
    table.add_column("Who", overflow="fold", ratio=1)
    table.add_column("What", no_wrap=True)
    table.add_column("Details", overflow="fold", ratio=3)
    for entry in stages.audit_entries(space):
        if (action and entry.action != action) or (since and entry.at[:10] < since):
            continue
        details = "; ".join(f"{key} {shown_detail(value)}" for key, value in entry.details.items())
        table.add_row(entry.at[:16].replace("T", " "), escape(entry.who), entry.action, escape(details))
    out.print(table)
