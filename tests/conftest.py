"""Shared fixtures: the example config, fresh workspaces and small roster factories."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from pipeline.config import Config, load_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "config"
# The tests' rounds end on this day (a Friday): the example's own deadline passes with the calendar, and a
# round past its deadline closes itself, refuses new forms and sends no reminders.
TEST_DEADLINE = dt.date(2099, 12, 18)
DATA = Path(__file__).resolve().parent / "data"


SCALE_AT_ONCE = 2  # of the three 'scale' tests; the third waits for one of them to end


# The tests that take minutes (real servers, workers, schedules, an installed wheel), with their usual
# seconds on this 2-core machine under `make test` (--durations, a quiet machine): each pytest-xdist
# worker starts with a share of them (``lanes``), so that they run beside each other and everything else,
# not one after another.
LONG = {
    "test_serve.py::test_serve_runs": 150,
    "test_scale.py::": 140,
    "test_pool.py::test_a_worker_killed": 120,
    "test_install.py::": 110,
    "test_hostile_inbox.py::test_any_inbox_night": 80,
    "test_pool.py::test_two_workers": 75,
    "test_pages.py::": 50,  # each case: a partnership, LibreOffice and Chromium printing it
    "test_round.py::": 45,
    "test_replacements.py::test_a_forged": 35,
    "test_serve.py::test_an_os_scheduler": 30,
    "test_workspace_engine.py::test_commands_share": 25,
    "test_staging.py::test_a_form_saved_over": 25,
    "test_fast_path.py::test_fast_equals_reference": 25,
    "test_instruments.py::test_the_demo_runs": 20,
    "test_intake_properties.py::test_any_mutated_batch": 20,
}
SCALE_FILES = ("test_scale.py", "test_pool.py")  # the 'scale' tests: at most SCALE_AT_ONCE at once


# What `make check` leaves out, for an edit loop of seconds: every test of a real server, a real client
# program or an installed `clb` in a subprocess (marked `integration` here, not by hand, so a new test
# that starts one cannot slip into the fast tier).
SERVICES = {"prefect_engine", "served_engine", "smtp", "mailbox", "dovecot"}
INTEGRATION_MARKS = {"flow", "clients", "scale"}
INTEGRATION_FILES = (
    "test_scale.py",
    "test_pool.py",
    "test_serve.py",
    "test_install.py",
    "test_pages.py",
    "test_round.py",
    "test_hostile_inbox.py",
    "test_replacements.py",
    "test_editions.py",
    "test_workspace_engine.py",
    "test_instruments.py",
    "test_exits.py",
    "test_crash.py",
    "test_staging.py",
    "test_fetch.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        marks = {mark.name for mark in item.iter_markers()}
        fixtures = set(getattr(item, "fixturenames", ()))
        if marks & INTEGRATION_MARKS or fixtures & SERVICES or item.path.name in INTEGRATION_FILES:
            item.add_marker(pytest.mark.integration)
    items[:] = lanes(items, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


def weight(item) -> float:
    return next((seconds for key, seconds in LONG.items() if key in item.nodeid), 0)


def lanes(items: list, workers: int) -> list:
    """The items in the order pytest-xdist's worksteal hands them out: each worker first gets a run of
    consecutive items (len // workers of what is left), and idle workers later steal from the end of the
    busiest one's queue. The long tests go at the head of those runs, longest first onto the least loaded
    worker, so that every worker starts on its share of them; a 'scale' test never starts a worker's run
    when SCALE_AT_ONCE of them already do (it would wait for a slot, idle), but follows another test."""
    long = sorted((item for item in items if weight(item)), key=lambda item: -weight(item))
    rest = [item for item in items if not weight(item)]
    heads: list[list] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for item in long:
        scale = item.path.name in SCALE_FILES
        starting = sum(1 for head in heads if head and head[0].path.name in SCALE_FILES)
        allowed = [w for w in range(workers) if not (scale and not heads[w] and starting >= SCALE_AT_ONCE)]
        chosen = min(allowed or range(workers), key=lambda w: loads[w])
        heads[chosen].append(item)
        loads[chosen] += weight(item)
    ordered, left = [], len(items)
    for worker, head in enumerate(heads):
        share = left // (workers - worker)
        ordered += head + rest[: max(0, share - len(head))]
        rest = rest[max(0, share - len(head)) :]
        left -= share
    return ordered + rest


def run_folder(tmp_path_factory) -> Path:
    """The test run's base folder, shared by all of pytest-xdist's workers (each has its own below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if base.name.startswith("popen-gw") else base


@pytest.fixture(autouse=True)
def _loads_take_turns(request, tmp_path_factory):
    """The 'scale' tests each start PostgreSQL, a Prefect server, workers and many runs: all three at once
    on a two-core machine starve every other test's server start, and one at a time makes them the
    suite's longest path (~10 minutes, most of it waiting for schedules and heartbeats). Across
    pytest-xdist's workers (they share the run's base folder) two run at once; the others go on beside."""
    if request.node.get_closest_marker("scale") is None:
        yield
        return
    import time

    from filelock import FileLock, Timeout

    slots = [FileLock(run_folder(tmp_path_factory) / f"scale-{n}.lock") for n in range(SCALE_AT_ONCE)]
    while True:
        for slot in slots:
            try:
                slot.acquire(timeout=0)
            except Timeout:
                continue
            try:
                yield
            finally:
                slot.release()
            return
        time.sleep(1)


@pytest.fixture(scope="session", autouse=True)
def _own_config_home(tmp_path_factory):
    """The audit trail's signing key (the user's configuration folder) and clb's cache in folders of the
    test run's."""
    import os

    os.environ["CLB_CONFIG_HOME"] = str(tmp_path_factory.mktemp("clb-config"))
    # Prefect's blank database, one for the whole run: pytest-xdist's workers share the run's base folder
    # (the blank is written whole by a rename, so two workers making it at once is harmless)
    os.environ["CLB_CACHE_HOME"] = str(run_folder(tmp_path_factory) / "clb-cache")
    # a workspace's engine that a test's command started stops soon after (each test also stops its own)
    os.environ["CLB_ENGINE_IDLE_SECONDS"] = "60"
    # the briefing's PDF is Chromium printing the page: made by the tests of it (test_briefing, test_install),
    # not on every night of every test that publishes figures (a browser start each)
    os.environ["CLB_BROWSER"] = "none"
    yield


OWN_FOLDERS = ("CLB_CONFIG_HOME", "CLB_CACHE_HOME", "CLB_ENGINE_IDLE_SECONDS", "CLB_BROWSER")  # the run's own


@pytest.fixture(autouse=True)
def _engines_stopped(request):
    """A workspace's engine started by a test's commands is stopped by its process id when the test ends
    (it would otherwise wait for its idle time, taking CPU from the tests after)."""
    folder = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if folder is not None:
        stop_engines(folder)


def stop_engines(folder: Path, seconds: float = 20) -> list[int]:
    """Stop every workspace engine whose record is under ``folder``; their process ids."""
    import json
    import os
    import signal
    import time

    from pipeline.processes import pid_alive

    stopped = []
    for record in folder.rglob("engine.json"):
        try:
            pid = int(json.loads(record.read_text(encoding="utf-8"))["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        try:  # an engine's process only (a test may name its own process as a stand-in)
            engine = b"pipeline.engine_server" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            engine = False
        if engine and pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            stopped.append(pid)
    deadline = time.monotonic() + seconds
    for pid in stopped:
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    return stopped


def outside_env() -> dict[str, str]:
    """This environment without Prefect's or clb's settings, as a command started by cron or a person
    sees it, but with the test run's own configuration and cache folders (never the real user's)."""
    import os

    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "CLB_")) or key in OWN_FOLDERS
    }


@pytest.fixture(scope="session")
def example_config() -> Config:
    return load_config(EXAMPLE_CONFIG)


INSTRUMENTS = ("CLB0.01", "ISR0.01")  # every instrument shipped: the end-to-end and property tests run each


def instrument_path(code: str) -> Path:
    """A shipped instrument's file by its code."""
    from pipeline.resources import find_instrument

    path = find_instrument(code)
    assert path is not None, code
    return path


def copy_example_config(target: Path) -> Path:
    """The example partnership's config/ at ``target``, its round ending on ``TEST_DEADLINE``."""
    from pipeline.init import set_deadline

    shutil.copytree(EXAMPLE_CONFIG, target)
    set_deadline(target / "partnership.yaml", TEST_DEADLINE)
    return target


def example_workspace(root: Path, issue: bool = False, instrument: str = "CLB0.01") -> Path:
    """A workspace at ``root`` holding a copy of the example partnership, with ``instrument`` (its own
    suggested practices, as clb init --instrument makes it), its forms issued if asked."""
    if issue:  # a copy of the one issued in this process: issuing 15 forms takes seconds, a copy milliseconds
        shutil.copytree(_issued_once(instrument), root)
        return root
    copy_example_config(root / "config")
    if instrument != "CLB0.01":
        shutil.copy2(instrument_path(instrument), root / "config" / "instrument.yaml")
        (root / "config" / "practices.yaml").unlink()
    for folder in ("inbox", "outbox"):
        (root / folder).mkdir()
    return root


_ISSUED: dict[str, Path] = {}


def _issued_once(instrument: str) -> Path:
    """The example partnership with its forms issued, made once per test process and instrument (under
    the test run's audit key: made after the session's folders are set)."""
    import atexit
    import tempfile

    if instrument not in _ISSUED:
        folder = tempfile.mkdtemp(prefix="clb-issued-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        root = Path(folder) / "ws"
        example_workspace(root, instrument=instrument)
        issue_forms_here(root)
        _ISSUED[instrument] = root
    return _ISSUED[instrument]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh workspace holding a copy of the example partnership."""
    return example_workspace(tmp_path / "ws")


def roster_text(rows: list[list[str]], header: str = "organisation,name,email,role") -> str:
    buffer = io.StringIO()
    buffer.write(header + "\n")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


@pytest.fixture
def write_roster(workspace: Path) -> Callable[..., Path]:
    """Replace the workspace roster with the given rows (and header)."""

    def write(rows: list[list[str]], header: str = "organisation,name,email,role") -> Path:
        path = workspace / "config" / "roster.csv"
        path.write_text(roster_text(rows, header), encoding="utf-8")
        return path

    return write


@pytest.fixture
def edit_settings(workspace: Path) -> Callable[..., Path]:
    """Change keys of the workspace's partnership.yaml (None removes a key)."""

    def edit(**changes: object) -> Path:
        path = workspace / "config" / "partnership.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    return edit


SHARED = ("CLB_TEST_PREFECT_URL", "CLB_TEST_PREFECT_AUTH", "CLB_TEST_PREFECT_HOME")  # the run's one server


@pytest.hookimpl(trylast=True)  # after pytest's tmp_path plugin has made the run's factory
def pytest_configure(config):
    """Under pytest-xdist, the controller starts the run's one Prefect server (clb's own, temporary) as
    the run begins, and its workers share it: one server's start, migration and idle services instead of
    one per worker (each costs CPU the tests need on two cores). Not for a run of the fast tier alone, which
    uses none. It dies with the controller (``--parent``), and is stopped by its process id at the end."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    if "not integration" in (config.option.markexpr or ""):
        return
    import tempfile

    from pipeline.engine import blank_database, launch

    # the run's cache (the workers' too: _own_config_home): Prefect's blank database is made once per run,
    # by this server's first start, unless this machine's own cache has it already (a copy is taken)
    yours = blank_database()
    os.environ["CLB_CACHE_HOME"] = str(config._tmp_path_factory.getbasetemp() / "clb-cache")
    if yours.is_file():
        blank_database().parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(yours, blank_database())
    home = Path(tempfile.mkdtemp(prefix="clb-test-prefect-"))
    server = launch(home, home / "server.log", temporary=True)  # not waited for: it starts as workers do
    config._clb_server = server
    os.environ[SHARED[0]], os.environ[SHARED[1]] = server.url, server.auth  # the workers inherit these
    os.environ[SHARED[2]] = str(server.home)


def pytest_unconfigure(config):
    server = getattr(config, "_clb_server", None)
    if server is not None:
        server.stop()
        shutil.rmtree(server.home, ignore_errors=True)


@dataclass
class _Shared:
    """The controller's server, as a worker sees it: its address, login and home (its database)."""

    url: str
    auth: str
    home: Path

    def wait_ready(self, seconds: float) -> None:
        import time

        from pipeline.engine import answers, database_file, keep_blank_database

        deadline = time.monotonic() + seconds
        while not answers(self.url, seconds=2):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the run's Prefect server at {self.url} did not answer in {seconds:.0f} s")
            time.sleep(0.5)
        keep_blank_database(database_file(self.home))  # when it started from nothing: the run's blank one


@pytest.fixture(scope="session")
def _test_server(tmp_path_factory):
    """The Prefect server the flows the tests call and the installed `clb` commands use: the run's one
    (``pytest_configure``) under pytest-xdist, else one of clb's own for this process (pipeline.engine: a
    temporary one, its database a copy of the blank one)."""
    if os.environ.get(SHARED[0]):
        shared = _Shared(os.environ[SHARED[0]], os.environ[SHARED[1]], Path(os.environ[SHARED[2]]))
        shared.wait_ready(seconds=600)  # beside the load tests' servers, a start can take minutes
        yield shared
        return
    from pipeline.engine import launch

    home = tmp_path_factory.mktemp("served-prefect")
    server = launch(home, home / "server.log", temporary=True)
    server.wait_ready(seconds=600)  # beside the load tests' servers, a start can take minutes: not the point here
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prefect_engine(_test_server):
    """A real Prefect engine for the flows this process calls (as Prefect's prefect_test_harness does,
    on the process's own server instead of a second one migrated from nothing)."""
    import prefect.context
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    api = {PREFECT_API_URL: _test_server.url, PREFECT_API_AUTH_STRING: _test_server.auth}
    global_context = prefect.context._temporary_global_settings_context  # where copied contexts look too
    with temporary_settings(updates=api), global_context(prefect.context.get_settings_context()):
        yield _test_server


@pytest.fixture(scope="session")
def served_engine(_test_server):
    """For the tests that run the installed `clb` commands: the environment that points them at the
    process's server (each then starts in seconds, not twenty)."""
    import os

    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env |= {"PREFECT_API_URL": _test_server.url, "PREFECT_API_AUTH_STRING": _test_server.auth, "COLUMNS": "200"}
    return env


def issue_forms_here(root: Path, reissue: tuple[str, ...] = ()):
    """The issue-forms stage without the engine (the flow itself is tested in test_flows)."""
    from pipeline.stages import issue_forms
    from pipeline.workspace import Workspace

    return issue_forms(Workspace.at(root), reissue=reissue)


@pytest.fixture
def issued(workspace: Path) -> Path:
    """A workspace whose 15 example leaders have been issued their forms (a copy of one issued once)."""
    shutil.rmtree(workspace)
    return example_workspace(workspace, issue=True)


def wait_for_port(port: int, process: object, seconds: float) -> bool:
    """Whether something listens on 127.0.0.1:``port`` within ``seconds`` while ``process`` (a Popen)
    is still running: for the servers the tests start."""
    import socket
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:  # type: ignore[attr-defined]
                return False
            time.sleep(0.1)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """The test SMTP server process, and what it has received."""

    def __init__(self, folder: Path, *extra: str) -> None:
        import subprocess
        import sys

        self.folder = folder
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parent / "smtp_server.py"),
                "--port",
                str(self.port),
                "--folder",
                str(folder),
                *extra,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"

    def received(self) -> list[tuple[dict, bytes]]:
        import json

        return [
            (json.loads(path.with_suffix(".json").read_text()), path.read_bytes())
            for path in sorted(self.folder.glob("*.eml"))
        ]

    def control(self, **settings: object) -> None:
        import json

        (self.folder / "control.json").write_text(json.dumps(settings))

    def stop(self) -> None:
        import os
        import signal

        os.kill(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=10)


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path / "smtp")
    yield server
    server.stop()
