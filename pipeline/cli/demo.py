"""clb demo: the whole pipeline on the example partnership."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import WorkspaceOption, fail, out, run_flow, scoped
from pipeline.cli.round import run_nightly
from pipeline.cli.setup import issue


@scoped
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
        raise fail(str(exc)) from None
    out.print(f"Demo workspace: [bold]{workspace.resolve()}[/]", highlight=False)
    issue(workspace, [])
    send_demo_mail(workspace, "invitations")
    from pipeline.demo import simulate_returns

    made = simulate_returns(workspace)
    if imap:
        from pipeline.demo import mail_returns

        filed = mail_returns(workspace, imap)
        out.print(f"Simulated {filed} returns emailed to the mailbox at {imap}", highlight=False)
    else:
        out.print(f"Simulated {made} returned files in {workspace.resolve() / 'inbox'}", highlight=False)
    run_nightly(workspace)  # the demo's quarantined returns are part of the show, not a failure
    send_demo_mail(workspace, "corrections")
    out.print("\n[bold]Closing the round[/] (clb close): partners' figures published, letters final", highlight=False)
    run_nightly(workspace, close=True)
    send_demo_mail(workspace, "letters")
    out.print(
        "\n[bold]Where to look:[/] start at the round page, outbox/round.html (clb open shows it): where the "
        "round stands, what needs you, and a link to every form, return, correction, letter and draft. "
        "Partners get the workbook, its CSV and the briefing in outbox/reports/.",
        highlight=False,
    )


def send_demo_mail(workspace: Path, kind: str) -> None:
    from pipeline.flows import SEND_FLOWS

    report = run_flow(SEND_FLOWS[kind], workspace=str(workspace.resolve()))
    done = sum(1 for item in report["results"] if item["status"] in ("sent", "drafted"))
    out.print(f"clb send {kind}: {done} messages ({report['mode']})", highlight=False)
