"""Beyond one machine: each workspace's deployments in a Prefect work pool, run by Prefect's own workers.

`clb serve` suits one facilitator: one process serves the schedules. An organisation with dozens of
partnerships runs a Prefect server (on PostgreSQL: `clb serve --database`), registers every workspace's
``nightly`` and ``reminders`` deployments to a *process* work pool (`clb deploy --pool clb`), and starts
as many `clb worker --pool clb` as it needs, on any machine that sees the workspace folders. Nothing here
schedules or queues anything: Prefect does. The deployments name their flows by module path
(``pipeline.flows.nightly``), so a worker needs clb installed, not a copy of any code.

One run per workspace at a time, whatever the number of workers: each workspace has a global
concurrency limit of one slot (``workspace_slot``), which its flows take for their whole run when they
run from a deployment, besides the workspace's file lock. A second run waits for the slot; it does not
fail. The slot is leased, so a worker killed mid-run frees it when the lease runs out.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.workspace import Workspace

DEFAULT_POOL = "clb"


def workspace_slot(space: Workspace) -> str:
    """The name of the workspace's concurrency limit: its folder's name, and a hash of its full path (two
    partnerships' folders may share a name on different disks)."""
    digest = hashlib.sha256(str(space.root).encode("utf-8")).hexdigest()[:10]
    return f"clb-workspace-{space.root.name[:40]}-{digest}"


def deploy(spaces: Sequence[Workspace], pool: str = DEFAULT_POOL) -> list[str]:
    """Register each workspace's deployments to the process work pool ``pool`` (made when missing), with
    their cron schedules and time zones, and give each workspace its concurrency limit of one. Run again
    after changing a schedule: deployments are updated in place. Returns the deployments' names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.deployments.runner import deploy as prefect_deploy
    from prefect.exceptions import ObjectNotFound
    from prefect.types.entrypoint import EntrypointType

    from pipeline.serve import deployments

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    ensure_slots(spaces)
    found = deployments(spaces, entrypoint_type=EntrypointType.MODULE_PATH)
    prefect_deploy(*found, work_pool_name=pool, print_next_steps_message=False, ignore_warnings=True)
    return [deployment.name for deployment in found]


def ensure_slots(spaces: Sequence[Workspace]) -> None:
    """Each workspace's concurrency limit of one slot, made when missing (by clb deploy and clb serve)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        for space in spaces:
            with contextlib.suppress(ObjectAlreadyExists):  # made before
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=workspace_slot(space), limit=1, active=True)
                )


def worker_command(pool: str = DEFAULT_POOL, limit: int | None = None) -> list[str]:
    """Prefect's own process worker for ``pool``, from this installation."""
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect), "worker", "start", "--pool", pool, "--type", "process"]
    if limit is not None:
        command += ["--limit", str(limit)]
    return command


def run_worker(pool: str = DEFAULT_POOL, limit: int | None = None) -> int:
    """Run a worker until it is stopped (Ctrl-C, SIGTERM); its exit code."""
    return subprocess.call(worker_command(pool, limit), env=os.environ.copy())
