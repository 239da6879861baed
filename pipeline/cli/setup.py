"""Starting a partnership: clb init, clb forms."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.common import WorkspaceOption, fail, open_workspace, out, run_flow, scoped, use_engine
from pipeline.cli.tables import new_table
from pipeline.config import load_config
from pipeline.rounds import deadline_problem


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
    deadline: Annotated[
        dt.datetime | None,
        typer.Option(
            "--deadline",
            formats=["%Y-%m-%d"],
            help="The date leaders return their form by, YYYY-MM-DD.",
            show_default="four weeks on, for the example; the earlier workspace's, with --from",
        ),
    ] = None,
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

    [bold]Example:[/] clb init ~/partnerships/riverside --round 2027-Q1 --deadline 2027-03-31
    """
    from pipeline.init import InitError, init_workspace, next_steps

    try:
        made = init_workspace(folder, source, round_id, instrument, deadline.date() if deadline else None)
    except InitError as exc:
        raise fail(str(exc)) from None
    out.print("Made the workspace:", highlight=False)
    out.print(f"  {escape(str(made.root))}", highlight=False, soft_wrap=True)  # whole, to copy
    if made.instrument is not None:
        out.print(f"with the instrument from {escape(str(made.instrument))}", highlight=False, soft_wrap=True)
    if source is not None:
        out.print(
            "It starts without the earlier workspace's history: for the next round of the same partnership, "
            "run clb round new in that workspace instead, so that letters show how answers moved.",
            highlight=False,
        )
    out.print("Next:", highlight=False)
    for number, (step, what) in enumerate(next_steps(made), start=1):
        out.print(f"  {number}. {step}", highlight=False)
        if what:
            out.print(f"     {escape(what)}", highlight=False, soft_wrap=True)


@scoped
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
    issue(workspace, reissue or [])


def issue(workspace: Path, reissue: list[str]) -> None:
    """Issue the forms (the issue-forms flow) and show what changed."""
    space = open_workspace(workspace)
    config = load_config(space.config)
    problem = deadline_problem(config.settings, dt.date.today())
    if problem:
        raise fail(f"No forms made: {problem}.")
    from pipeline import stages

    problem = stages.paths_problem(space, config)
    if problem:
        raise fail(f"No forms made: {escape(problem)}.")
    headings = config.roster_headings
    if headings:
        taken = ", ".join(f"'{escape(written)}' as {field}" for written, field in headings)
        out.print(f"Roster columns read: {taken}.", highlight=False)
    for note in config.roster_notes:
        out.print(f"[yellow]{escape(note)}[/]", highlight=False, soft_wrap=True)
    if config.roster_heading_row > 1:
        above = "row 1 is" if config.roster_heading_row == 2 else f"rows 1-{config.roster_heading_row - 1} are"
        out.print(f"Roster headings read from row {config.roster_heading_row}; {above} left out.", highlight=False)
    use_engine(space)
    from pipeline.flows import issue_forms

    typed_as = stages.pseudonyms(space, reissue)  # Prefect keeps a flow's parameters: never an address
    summary = run_flow(issue_forms, workspace=str(space.root), reissue=list(typed_as))

    table = new_table(f"Forms for round {summary.round}")
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
