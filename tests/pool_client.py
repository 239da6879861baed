"""Prefect client calls for the work-pool tests, run in their own process (the test process's Prefect
settings belong to its own engine): ``python -m tests.pool_client trigger NAME...`` starts a run of each
deployment now and prints their ids; ``runs ID...`` prints those flow runs as JSON; ``slots NAME`` prints
a global concurrency limit; ``history ID`` the states a flow run went through; ``nightly-due ISO`` every
nightly run scheduled for that moment or before; ``automations`` the automations' names."""

from __future__ import annotations

import json
import sys

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterId,
)
from prefect.client.schemas.objects import FlowRun


def described(run: FlowRun, deployments: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "id": str(run.id),
        "name": run.name,
        "workspace": run.parameters.get("workspace"),
        "state": run.state_type.value if run.state_type else None,
        "state_name": run.state_name,
        "expected": run.expected_start_time.isoformat() if run.expected_start_time else None,
        "start": run.start_time.isoformat() if run.start_time else None,
        "end": run.end_time.isoformat() if run.end_time else None,
        "deployment": (deployments or {}).get(str(run.deployment_id), str(run.deployment_id)),
        "run_count": run.run_count,
    }


def main() -> None:
    command, *names = sys.argv[1:]
    with get_client(sync_client=True) as client:
        if command == "trigger":
            ids = []
            for name in names:
                deployment = client.read_deployment_by_name(name)
                ids.append(str(client.create_flow_run_from_deployment(deployment.id).id))
            print(json.dumps(ids))
        elif command == "runs":  # the given ones (the schedules make runs of their own, for later)
            found = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=names)))
            print(json.dumps([described(run) for run in found]))
        elif command == "history":
            states = client.read_flow_run_states(names[0])
            print(json.dumps([{"type": s.type.value, "name": s.name, "message": s.message} for s in states]))
        elif command == "nightly-due":
            from datetime import datetime

            deployments = {str(d.id): d.name for d in client.read_deployments()}
            due = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["nightly"])),
                flow_run_filter=FlowRunFilter(
                    expected_start_time=FlowRunFilterExpectedStartTime(before_=datetime.fromisoformat(names[0]))
                ),
                limit=200,
            )
            print(json.dumps([described(run, deployments) for run in due]))
        elif command == "automations":
            print(json.dumps(sorted(automation.name for automation in client.read_automations())))
        elif command == "deployments":  # each deployment with its schedules, and the past flow runs
            found = {
                deployment.name: [str(schedule.schedule) for schedule in deployment.schedules]
                for deployment in client.read_deployments()
            }
            past = [
                str(run.id) for run in client.read_flow_runs() if run.state_type and run.state_type.value == "COMPLETED"
            ]
            print(json.dumps({"deployments": found, "completed": past}))
        elif command == "slots":
            limit = client.read_global_concurrency_limit_by_name(names[0])
            print(json.dumps({"limit": limit.limit, "active_slots": limit.active_slots}))


if __name__ == "__main__":
    main()
