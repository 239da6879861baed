"""Many partnerships on one Prefect server at once, for the work-pool tests and `make bench-scale`.

``make_partnership`` makes a workspace of any number of leaders with returns in its inbox (a few with a
mistake, so quarantine and corrections are part of the night); ``Engine`` starts a Prefect server on
PostgreSQL (Debian's, in a temporary folder: tests/postgres.py) or on SQLite, `clb deploy` and `clb worker`
processes, and stops each by its process id; ``Load`` schedules every workspace's nightly run for the same
minute and collects each run's figures from Prefect. Nothing here decides anything about a run: Prefect's
scheduler, work pool and workers do.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import copy_example_config, free_port
from tests.prefect_api import ask, flow_runs, nightly_due

CLB = str(Path(sys.executable).with_name("clb"))
LOCKED = "database is locked"


def make_partnership(root: Path, index: int, leaders: int = 200, returns: int = 150) -> Path:
    """Workspace ``root``: ``leaders`` leaders in six organisations, forms issued, ``returns`` of them
    returned (every 25th with two ticks in one row), answers varying with ``index``."""
    from pipeline import stages
    from pipeline.config import load_config
    from pipeline.simulate import answers, fill
    from pipeline.state import active_forms, open_state
    from pipeline.workspace import Workspace

    copy_example_config(root / "config")
    lines = ["organisation,name,email,role"]
    for n in range(leaders):
        lines.append(f"Organisation {n % 6} of partnership {index},Leader {n:03d},leader{n}@org{n % 6}.example,Role")
    (root / "config" / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for folder in ("inbox", "outbox"):
        (root / folder).mkdir()
    stages.issue_forms(Workspace.at(root))
    config = load_config(root / "config")
    instrument = config.instrument
    keys = [tick.key for tick in instrument.ticks]
    engine = open_state(root / "state" / "clb.sqlite")
    issued = sorted(active_forms(engine, config.settings.round).values(), key=lambda record: record.leader_id)
    engine.dispose()  # nothing of this process keeps the database open while the runs use it
    settled = time.time() - 3600
    for n, record in enumerate(issued[:returns]):
        choices = {p.number: keys[(n * 7 + p.number * (index + 3)) % len(keys)] for p in instrument.perspectives}
        values = answers(instrument, choices)
        if n % 25 == 24:  # a second tick in the first row: quarantined, the leader asked to fix it
            first = instrument.perspectives[0].number
            values |= answers(instrument, {first: next(k for k in keys if k != choices[first])})
        path = root / "inbox" / f"return {n:03d}.xlsx"
        path.write_bytes(fill((root / record.path).read_bytes(), instrument, values))
        os.utime(path, (settled + n, settled + n))
    gc.collect()  # the engines the stages opened, and their connections to the database, closed now
    return root


def next_minute(lead: timedelta) -> datetime:
    """The first whole minute (UTC) at least ``lead`` from now."""
    return (datetime.now(UTC) + lead).replace(second=0, microsecond=0) + timedelta(minutes=1)


def schedule_nightly(root: Path, when: datetime) -> None:
    """Set the workspace's nightly run to ``when`` (a whole minute, UTC), every day."""
    settings = root / "config" / "partnership.yaml"
    text = settings.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^  timezone: .*$", "  timezone: UTC", text)
    text = re.sub(r"(?m)^  nightly: .*$", f'  nightly: "{when.minute} {when.hour} * * *"', text)
    settings.write_text(text, encoding="utf-8")


class Engine:
    """A Prefect server on PostgreSQL (``postgres``) or SQLite, and clb workers; ``stop()`` ends them all."""

    def __init__(self, folder: Path, postgres: bool, **settings: str) -> None:

        self.folder = folder
        self.database = None
        if postgres:
            from tests.postgres import Postgres

            self.database = Postgres()
        from pipeline.engine import new_login

        self.port = free_port()
        self.home = folder / "prefect-home"
        self.log = folder / "server.log"
        self.auth = new_login()  # the server's login, kept across its restarts, as an operator keeps theirs
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_URL": f"http://127.0.0.1:{self.port}/api",
            "PREFECT_API_AUTH_STRING": self.auth,
            **settings,
        }
        self.workers: list[subprocess.Popen[bytes]] = []
        self.roots: list[Path] = []  # the workspaces deployed: the workers may run these
        began = time.monotonic()
        self.server = self._start()
        self.start_seconds = time.monotonic() - began  # how long a (re)start takes on this machine now

    def _start(self) -> object:
        from pipeline.serve import start_server

        database = self.database.url if self.database else ""
        return start_server(self.home, "127.0.0.1", self.port, self.log, database=database, auth=self.auth)

    def restart_server(self) -> None:
        """Stop the server and start it again on the same database (its output to a new log)."""
        from pipeline.serve import stop_server

        stop_server(self.server)
        self.log = self.log.with_name(f"server-{len(list(self.folder.glob('server*.log')))}.log")
        self.server = self._start()

    def client(self, *args: str) -> object:
        """The server's answer to one of tests/prefect_api.ask's questions (through its REST API: a process
        with Prefect's client would cost seconds of CPU each time)."""
        return ask(self.port, self.auth, *args)

    def runs(self, *ids: str) -> list[dict]:
        """Those flow runs as the server has them now (through its REST API: asked every few seconds)."""
        return flow_runs(self.port, self.auth, list(ids))

    def deploy(self, roots: list[Path], *options: str) -> str:
        self.roots += [root for root in roots if root not in self.roots]
        command = [CLB, "deploy", "--pool", "clb", *options]
        command += [arg for root in roots for arg in ("--workspace", str(root))]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start_worker(self, limit: int | None = None, **settings: str) -> subprocess.Popen[bytes]:
        """A `clb worker --pool clb` for the workspaces deployed so far, in its own session (so that it can
        be stopped with what it started)."""
        log = (self.folder / f"worker-{len(self.workers)}.log").open("wb")
        command = [CLB, "worker", "--pool", "clb"] + (["--limit", str(limit)] if limit else [])
        command += [arg for root in self.roots for arg in ("--workspace", str(root))]
        process = subprocess.Popen(
            command, env={**self.env, **settings}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.workers.append(process)
        return process

    def logs(self) -> str:
        """The server's and the workers' output (the workers' includes their flow runs')."""
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.folder.glob("*.log"))
            if path.exists()
        )

    def stop(self) -> None:
        from pipeline.serve import stop_server

        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        stop_server(self.server)
        if self.database is not None:
            self.database.stop()


@dataclass
class Figures:
    """What a load run came to: each workspace's nightly run as Prefect recorded it."""

    runs: list[dict]
    missing: list[str]  # deployments with no run at the minute: lost runs
    locked_lines: list[str]  # lines saying "database is locked" in the server's and workers' output

    @property
    def locked(self) -> int:
        return len(self.locked_lines)

    @property
    def completed(self) -> int:
        return sum(run["state"] == "COMPLETED" for run in self.runs)

    @property
    def lost(self) -> int:
        return len(self.missing) + len(self.runs) - self.completed

    @property
    def wall_seconds(self) -> float:
        """From the first scheduled start to the last completion."""
        begin = min(_moment(run["expected"]) for run in self.runs)
        return (max(_moment(run["end"]) for run in self.runs if run["end"]) - begin).total_seconds()

    @property
    def waits(self) -> list[float]:
        """Each run's queue wait: from its scheduled start to its start on a worker, in seconds."""
        return sorted(
            (_moment(run["start"]) - _moment(run["expected"])).total_seconds() for run in self.runs if run["start"]
        )


class Load:
    """Every workspace's nightly run scheduled for the same minute on ``engine``, with ``workers`` workers."""

    def __init__(self, engine: Engine, roots: list[Path], workers: int = 2, limit: int | None = None) -> None:
        self.engine = engine
        self.roots = roots
        began = time.monotonic()
        # the first whole minute after clb deploy and a server's restart will have finished, with room: a
        # minute already past when the schedules arrive would be tomorrow's. Both are measured against the
        # server's first start on this machine now (deploy ~1 start, a restart ~1; 11 and 10 s against 14 s
        # here, over 45 s together on a loaded CI machine), rather than a fixed lead that waits for the
        # slowest machine everywhere
        self.when = next_minute(timedelta(seconds=3 * engine.start_seconds + 15 + 1.0 * len(roots)))
        for root in roots:
            schedule_nightly(root, self.when)
        engine.deploy(roots)
        for _ in range(workers):
            engine.start_worker(limit)
        self.deployed = time.monotonic() - began

    def wait(self, timeout: float = 900) -> Figures:
        """Until every run scheduled for the minute has ended (or ``timeout`` seconds after the minute)."""
        expected = {f"nightly-{root.name}" for root in self.roots}
        deadline = self.when.timestamp() + timeout
        while True:
            due = nightly_due(self.engine.port, self.engine.auth, self.when)
            runs = [run for run in due if run["deployment"] in expected]
            ended = all(run["state"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for run in runs)
            if (len(runs) >= len(expected) and ended) or time.time() > deadline:
                break
            if all(worker.poll() is not None for worker in self.engine.workers):
                break  # no worker left to run anything: what has not ended is lost
            time.sleep(5)
        return Figures(
            runs=sorted(runs, key=lambda run: run["deployment"]),
            missing=sorted(expected - {run["deployment"] for run in runs}),
            locked_lines=[line for line in self.engine.logs().splitlines() if LOCKED in line],
        )


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)
