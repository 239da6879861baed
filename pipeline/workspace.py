"""Where a workspace keeps what, and the Prefect settings that make a run quiet and self-contained.

A workspace is a folder with ``config/``, ``inbox/``, ``outbox/`` and ``state/``. Everything a run
writes stays inside it, Prefect's own home included, so two partnerships never share state and a
backup is one folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PRIVATE_UMASK = 0o077


class WorkspaceError(Exception):
    """The folder given as a workspace cannot be used as one."""


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def at(cls, path: str | Path) -> Workspace:
        """The workspace at ``path``. From here on, what this process creates is its owner's only
        (umask 077): the workspace holds personal data. The few outputs made to be shared are opened
        up one by one (``files.share``)."""
        root = Path(path).expanduser().resolve()
        if not (root / "config").is_dir():
            raise WorkspaceError(
                f"{root} is not a clb workspace: it has no config/ folder. Make one there with "
                f"'clb init {path}', or give the workspace you meant with --workspace DIR."
            )
        os.umask(PRIVATE_UMASK)
        return cls(root)

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def database(self) -> Path:
        return self.state_dir / "clb.sqlite"

    @property
    def prefect_home(self) -> Path:
        return self.state_dir / "prefect"

    @property
    def server_file(self) -> Path:
        """Written by ``clb serve`` while it runs: where its Prefect server answers."""
        return self.state_dir / "server.json"

    def forms_dir(self, round_id: str) -> Path:
        return self.outbox / "forms" / round_id

    def relative(self, path: Path) -> str:
        """A path as stored in the state database: relative to the workspace, with forward slashes."""
        return path.relative_to(self.root).as_posix()

    def ensure(self) -> None:
        for folder in (self.inbox, self.outbox, self.state_dir):
            folder.mkdir(parents=True, exist_ok=True)


def prefect_environment(workspace: Workspace) -> dict[str, str]:
    """Settings for running Prefect without a server: its home inside the workspace, a startup timeout
    long enough for a cold first start (~27 s measured here), quiet console, no analytics (offline)."""
    return {
        "PREFECT_HOME": str(workspace.prefect_home),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    }


def configure_prefect(workspace: Workspace) -> str | None:
    """Apply ``prefect_environment`` before Prefect is imported; an operator's own settings win. While
    ``clb serve`` runs for this workspace, runs go to its server (with its login) instead of a temporary
    engine. Returns the server's address when one is used."""
    workspace.prefect_home.mkdir(parents=True, exist_ok=True)
    for key, value in prefect_environment(workspace).items():
        os.environ.setdefault(key, value)
    if "PREFECT_API_URL" in os.environ:
        return os.environ["PREFECT_API_URL"]
    found = running_server(workspace)
    if found is None:
        return None
    url, auth = found
    os.environ["PREFECT_API_URL"] = url
    if auth:
        os.environ["PREFECT_API_AUTH_STRING"] = auth
    return url


def server_answers(url: str, seconds: float = 1) -> bool:
    """Whether the Prefect server whose API is at ``url`` answers its health check now."""
    from pipeline.engine import answers

    return answers(url, seconds)


def running_server(workspace: Workspace) -> tuple[str, str] | None:
    """The address and login of the Prefect server ``clb serve`` runs for this workspace, if it is
    running and answers now; a file left by a server that stopped is ignored."""
    from pipeline.processes import pid_alive

    try:
        record = json.loads(workspace.server_file.read_text(encoding="utf-8"))
        url, pid, auth = str(record["url"]), int(record["pid"]), str(record.get("auth") or "")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not url.startswith("http://127.0.0.1:") and not url.startswith("http://localhost:"):
        return None  # only a server on this machine, as clb serve starts it
    if not pid_alive(pid):
        return None
    return (url, auth) if server_answers(url) else None


# What a run from a deployment may touch: set by clb serve and clb worker in their environment (which
# the flow runs they start inherit), never taken from Prefect's API, which anyone with its login can
# call with any parameters.
SERVED = "CLB_SERVED_WORKSPACES"


def served_list(workspaces: list[str], folders: list[str] | None = None) -> str:
    return json.dumps({"workspaces": sorted(workspaces), "folders": sorted(folders or [])})


def may_serve(path: str, environ: dict[str, str] | None = None) -> bool:
    """Whether this process was started to run ``path``'s flows: it is one of the workspaces clb serve
    or clb worker was given, or directly inside one of the worker's ``--workspaces-in`` folders."""
    text = (environ if environ is not None else os.environ).get(SERVED)
    if not text:
        return False
    try:
        served = json.loads(text)
        workspaces = [str(Path(item)) for item in served.get("workspaces", [])]
        folders = [str(Path(item)) for item in served.get("folders", [])]
    except (ValueError, AttributeError, TypeError):
        return False
    asked = Path(path)
    if not asked.is_absolute() or ".." in asked.parts:
        return False
    return str(asked) in workspaces or str(asked.parent) in folders


# A run from a deployment (clb serve, a worker of a work pool) also holds the workspace's Prefect global
# concurrency limit of one slot (flows._one_at_a_time), so that a second run of the same workspace waits
# for the first whatever worker took it (pipeline/pool.py makes the limits).
LEASE_SECONDS = 60  # a dead run's workspace slot is free again this long after its last renewal
ATTEMPTS = 3  # runs of one flow run, the first and two after crashes


def workspace_slot(space: Workspace) -> str:
    """The name of the workspace's concurrency limit: its folder's name, and a hash of its full path (two
    partnerships' folders may share a name on different disks)."""
    digest = hashlib.sha256(str(space.root).encode("utf-8")).hexdigest()[:10]
    return f"clb-workspace-{space.root.name[:40]}-{digest}"


class WorkspaceBusy(Exception):
    """Another run holds this workspace."""

    not_personal = True  # its message names a process, never a leader: it may reach Prefect as it is


@contextmanager
def workspace_lock(workspace: Workspace, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the workspace for one run. A second run waits up to ``wait_seconds``, then refuses with a
    message saying which run holds it (``state/run.holder``). The lock is an OS file lock (``filelock``:
    flock on POSIX, LockFileEx on Windows), so a killed run never leaves it held."""
    from filelock import FileLock, Timeout

    workspace.state_dir.mkdir(parents=True, exist_ok=True)
    holder = workspace.state_dir / "run.holder"
    lock = FileLock(workspace.state_dir / "run.lock", thread_local=False)
    try:
        lock.acquire(timeout=wait_seconds, poll_interval=0.2)
    except Timeout:
        try:
            who = holder.read_text(encoding="utf-8").strip()
        except OSError:
            who = ""
        raise WorkspaceBusy(
            f"{workspace.root} is in use by {who or 'another clb run'}. Wait for it to finish and run again."
        ) from None
    try:
        holder.write_text(f"process {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}", encoding="utf-8")
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()
