"""Mail: clb send."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.common import NEEDS_YOU, WorkspaceOption, fail, open_workspace, out, run_flow, scoped, use_engine
from pipeline.cli.tables import new_table
from pipeline.config import load_config


@scoped
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
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="Only this leader (by email), to send, send again or mark sent. Repeat for several."),
    ] = None,
    test_to: Annotated[
        str | None,
        typer.Option("--test-to", help="Send (or draft) one sample to this address, yourself, first; record nothing."),
    ] = None,
    now: Annotated[
        bool,
        typer.Option("--now", help="letters: send them before the round has closed (they may change by the close)."),
    ] = False,
) -> None:
    """Send one kind of message to every leader who should get it now.

    invitations: each leader's own form. reminders: leaders with no accepted return, a week after their
    invitation went, then at most every N days, until the round closes. letters: each leader's feedback
    letter, once the round has closed (clb close; --now sends them before). corrections: what to fix in a
    quarantined return. notices: a leader's accepted return was replaced (every nightly run sends these).
    Nothing is sent twice unless you say --resend. With no SMTP host in config/partnership.yaml, each message
    is a draft in outbox/mail/<kind>/: open it in Outlook or Thunderbird and press Send; then
    clb send <kind> --mark-sent records that you did. Until then clb calls them drafted, never sent.

    [bold]Example:[/] clb send invitations --workspace ~/partnerships/riverside --dry-run
    """
    from pipeline.mail.sending import KINDS

    if kind not in KINDS:
        raise fail(f"'{kind}' is not something clb sends; choose one of: {', '.join(KINDS)}")
    space = open_workspace(workspace)
    if mark_sent:
        from pipeline import stages

        marked = stages.mark_sent(space, kind, to or ())
        out.print(f"{marked} drafted {kind} recorded as sent.", highlight=False)
        return
    if test_to:
        from pipeline import stages

        try:
            whose, said = stages.send_test(space, kind, test_to)
        except ValueError as exc:
            raise fail(str(exc)) from None
        out.print(
            f"Sample of {kind}, as {escape(whose)} would get it, to {escape(test_to)}: {escape(said)}"
            if whose
            else escape(said),
            highlight=False,
        )
        return
    use_engine(space)
    from pipeline.flows import SEND_FLOWS

    if now and kind != "letters":
        raise fail("--now is for letters only: the other messages go when they are due")
    early: dict[str, object] = {"now": True} if now else {}
    typed_as: dict[str, str] = {}
    if to:
        from pipeline import stages

        typed_as = stages.pseudonyms(space, to)
        early["to"] = list(typed_as)  # Prefect keeps a flow's parameters: never an address
    report = run_flow(SEND_FLOWS[kind], workspace=str(space.root), dry_run=dry_run, resend=resend, **early)
    if report["warning"]:
        out.print(f"[yellow]{escape(report['warning'])}[/]", highlight=False)
    table = new_table(f"clb send {kind}: {report['mode']}")
    table.add_column("Leader", overflow="fold", ratio=1)
    table.add_column("Email", no_wrap=True)  # an address is never split
    table.add_column("Result", no_wrap=True)
    table.add_column("Server", overflow="fold", ratio=1)
    names = {leader.id: leader.name for leader in load_config(space.config).roster}
    for item in report["results"]:
        server = "" if item["status"] == "drafted" else item["response"]  # the drafts' folder is said below
        name = names.get(item["leader_id"], "")
        table.add_row(escape(name), escape(item["recipient"]), item["status"], escape(server))
    for skipped in report["skipped"]:
        name = names.get(skipped["leader_id"], "")
        shown = typed_as.get(skipped["leader_id"], skipped["leader_id"])  # an unknown --to, as it was typed
        table.add_row(escape(name), escape(shown), "skipped", escape(skipped["why"]))
    out.print(table)
    counts: dict[str, int] = {}
    for item in report["results"]:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to send"
    out.print(f"{summary}; {len(report['skipped'])} skipped", highlight=False)
    if counts.get("refused") or counts.get("deferred"):
        raise typer.Exit(NEEDS_YOU)
