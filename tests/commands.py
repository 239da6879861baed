"""The `clb` command run inside the test's own process: the same Typer app the installed command runs,
with its exit codes and its output, on the run's Prefect server (the ``prefect_engine`` fixture).

A subprocess spends about 4 CPU-seconds importing Prefect before each command does anything, and on two
cores the suite is bound by CPU: a whole round of 19 commands cost 80 CPU-seconds that way. The tests of a
round's logic run here; the installed command itself, as a process (its console script, exit codes,
signals, a fresh machine's first start, a bare environment), is tested in test_install, test_exits,
test_serve, test_workspace_engine, test_staging and test_portable.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from typer.testing import CliRunner


def clb(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``clb *args`` with ``env`` added to the environment for the command only; the process's whole
    environment comes back afterwards (a command sets Prefect's settings for its workspace in it).
    A fault of clb (not an exit) is raised here, with its traceback."""
    from pipeline.cli import app
    from pipeline.cli.common import err, out, send_prefect_queues

    saved, widths = dict(os.environ), (out.width, err.width)
    try:
        os.environ.update({"COLUMNS": "200", **(env or {})})
        # the consoles were made as clb was first imported here, with the width of that moment
        out.width = err.width = int(os.environ["COLUMNS"])
        result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        out.width, err.width = widths
        send_prefect_queues()  # as an installed command does at its end
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["clb", *args], result.exit_code, result.stdout, result.stderr)
