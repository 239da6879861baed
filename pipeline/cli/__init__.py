"""The ``clb`` command: parse, call a flow or a stage, show. No business rules live here: a command
module per group of commands (setup, round, sending, privacy, operate, demo) and one for the tables.

Configuration is checked before Prefect starts, so a typo in the roster is reported at once, and nothing
is generated from a bad config.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

from pipeline.cli import demo, operate, privacy, round, sending, setup
from pipeline.cli.common import DONE, FAILED, USAGE, app, err

# the commands, in the order a round uses them (clb --help lists them so)
for command in (
    setup.init,
    setup.forms,
    round.nightly,
    round.close,
    round.fetch,
    round.check,
    sending.send,
    round.accept,
    round.enter,
    round.assign,
    privacy.forget,
    privacy.purge,
    privacy.audit,
    round.status,
    round.open_page,
    operate.serve,
    operate.deploy,
    operate.worker,
    demo.demo,
):
    app.command(name="open" if command is round.open_page else None)(command)
app.add_typer(round.rounds, name="round")


def speak_any_console() -> None:
    """A name the console's code page lacks (王小明 on a cp1252 Windows console, or in the file the Task
    Scheduler writes) prints as '?' instead of stopping the command with a UnicodeEncodeError. The
    encoding is kept, so a file of the output still opens in Notepad."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").replace("-", "").lower() != "utf8":
            reconfigure(errors="replace")


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
    speak_any_console()
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
