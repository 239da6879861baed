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

A worker or machine that dies mid-run leaves its flow run "Running" for ever unless something notices:
flow runs from a worker send Prefect heartbeats (``HEARTBEAT_SECONDS``), and two Prefect automations
(``ensure_automations``, made by `clb deploy`) mark a clb run whose heartbeats stop as crashed, and put a
crashed clb run back on the schedule, where any worker takes it again. The run starts over from the top,
which is safe: a nightly run killed at any point and run again ends as an uninterrupted one would (the
crash tests). A run that keeps stopping is not started more than ``ATTEMPTS`` times
(``flows._one_at_a_time`` fails it instead, with a message).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pipeline.config import load_config
from pipeline.names import safe_segment
from pipeline.workspace import ATTEMPTS, Workspace, workspace_slot

DEFAULT_POOL = "clb"
HEARTBEAT_SECONDS = 30  # Prefect's shortest interval between a flow run's heartbeats
SILENT_SECONDS = 90  # three heartbeats missed: the run's process is gone (clb deploy --crash-after)
FEWEST_SILENT_SECONDS = 45  # one and a half heartbeats: any less and a busy live run could be marked crashed
CRASHED = "clb: mark silent runs crashed"
AGAIN = "clb: run crashed runs again"


def deployments(spaces: Sequence[Workspace], entrypoint_type: Any = None) -> list[Any]:
    """A nightly and a reminders deployment per workspace, with the workspace's own schedules.
    ``entrypoint_type``: how a worker finds the flow (``pipeline.pool`` names it by module path)."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from pipeline.flows import nightly, send_reminders

    how = entrypoint_type or EntrypointType.FILE_PATH
    found = []
    for space in spaces:
        schedule = load_config(space.config).settings.schedule
        name = safe_segment(space.root.name)
        for flow, prefix, cron in (
            (nightly, "nightly", schedule.nightly),
            (send_reminders, "reminders", schedule.reminders),
        ):
            deployment = flow.to_deployment(
                name=f"{prefix}-{name}",
                schedule=Cron(cron, timezone=schedule.timezone),
                parameters={"workspace": str(space.root)},
                tags=["clb", name],
                entrypoint_type=how,
            )
            found.append(deployment)
    return found


def deploy(spaces: Sequence[Workspace], pool: str = DEFAULT_POOL, crash_after: int = SILENT_SECONDS) -> list[str]:
    """Register each workspace's deployments to the process work pool ``pool`` (made when missing), with
    their cron schedules and time zones, and give each workspace its concurrency limit of one. Run again
    after changing a schedule: deployments are updated in place. A run silent for ``crash_after`` seconds
    is marked crashed and run again (``ensure_automations``). Returns the deployments' names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.deployments.runner import deploy as prefect_deploy
    from prefect.exceptions import ObjectNotFound
    from prefect.types.entrypoint import EntrypointType

    found = deployments(spaces, entrypoint_type=EntrypointType.MODULE_PATH)
    with get_client(sync_client=True) as client:
        _refuse_name_clashes(client, found)
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    ensure_slots(spaces)
    ensure_automations(max(crash_after, FEWEST_SILENT_SECONDS))
    prefect_deploy(*found, work_pool_name=pool, print_next_steps_message=False, ignore_warnings=True)
    return [deployment.name for deployment in found]


class DeploymentClash(Exception):
    """Two workspaces would share deployments: their folders have the same name."""


def _refuse_name_clashes(client: Any, found: Sequence[Any]) -> None:
    """A deployment is named for its workspace's folder: refuse two workspaces of one name, among those
    given or against a deployment already on the server for a workspace at another path (deploying would
    quietly move that partnership's nights to this one)."""
    from prefect.exceptions import ObjectNotFound

    seen: dict[str, str] = {}
    for deployment in found:
        path = str(deployment.parameters["workspace"])
        earlier = seen.setdefault(deployment.name, path)
        if earlier == path:
            try:
                earlier = str(
                    client.read_deployment_by_name(f"{deployment.flow_name}/{deployment.name}").parameters["workspace"]
                )
            except (ObjectNotFound, KeyError):
                continue
        if earlier != path:
            raise DeploymentClash(
                f"{path} and {earlier} would share the deployment '{deployment.name}': their folders have the "
                "same name. Rename one of the folders, then run clb deploy again."
            )


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


def ensure_automations(silent: int = SILENT_SECONDS) -> None:
    """The two automations that recover clb's runs from a dead worker, made or brought up to date: a run
    with no heartbeat for ``silent`` seconds is marked crashed, and a crashed run is scheduled again. They
    concern flow runs tagged ``clb`` only (every clb deployment's runs are)."""
    from datetime import timedelta

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore as Automation
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    ours = ResourceSpecification({"prefect.resource.id": "prefect.tag.clb", "prefect.resource.role": "tag"})
    runs = ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"})
    ends = {f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed")}
    wanted = [
        Automation(
            name=CRASHED,
            description=f"A running clb run that has sent no heartbeat for {silent} s is marked crashed "
            "(its worker or machine stopped). Made by clb deploy.",
            trigger=EventTrigger(
                match=runs,
                match_related=ours,
                after={"prefect.flow-run.Running", "prefect.flow-run.heartbeat"},
                expect={"prefect.flow-run.heartbeat", *ends},
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=timedelta(seconds=silent),
            ),
            actions=[
                ChangeFlowRunState(
                    name=None,
                    force=False,
                    state=StateType.CRASHED,
                    message=f"No heartbeat for {silent} s: the worker running it stopped.",
                )
            ],
        ),
        Automation(
            name=AGAIN,
            description=f"A crashed clb run is scheduled again, for any worker (up to {ATTEMPTS} runs in all). "
            "Made by clb deploy.",
            trigger=EventTrigger(
                match=runs,
                match_related=ours,
                expect={"prefect.flow-run.Crashed"},
                posture=Posture.Reactive,
                threshold=1,
                within=timedelta(0),
            ),
            actions=[
                ChangeFlowRunState(
                    force=False,
                    state=StateType.SCHEDULED,
                    name="AwaitingRetry",
                    message="Crashed: scheduled again; the run starts over, which is safe.",
                )
            ],
        ),
    ]
    with get_client(sync_client=True) as client:
        for automation in wanted:
            found = client.read_automations_by_name(automation.name)
            if found:
                client.update_automation(found[0].id, automation)
            else:
                client.create_automation(automation)


def worker_command(pool: str = DEFAULT_POOL, limit: int | None = None) -> list[str]:
    """Prefect's own process worker for ``pool``, from this installation."""
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect), "worker", "start", "--pool", pool, "--type", "process"]
    if limit is not None:
        command += ["--limit", str(limit)]
    return command


def run_worker(pool: str = DEFAULT_POOL, limit: int | None = None, served: str = "") -> NoReturn:
    """Become Prefect's worker (this process, so that stopping or killing `clb worker` by its process id
    stops the worker itself: POSIX only, so `clb worker` refuses on Windows). Its flow runs send
    heartbeats, so that a run whose worker dies is noticed (``ensure_automations``), and inherit ``served``
    (``workspace.served_list``): the workspaces they may run."""
    from pipeline.workspace import SERVED

    environment = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS), **os.environ, SERVED: served}
    command = worker_command(pool, limit)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, environment)
