"""Prefect client calls for the work-pool tests, run in their own process (the test process's Prefect
settings belong to its own engine): ``python -m tests.pool_client trigger NAME...`` starts a run of each
deployment now and prints their ids; ``slots NAME`` prints a global concurrency limit; ``history ID``
the states a flow run went through; ``automations`` the automations' names. (What the tests poll, a
run's state, they ask the REST API: tests/prefect_api.py.)"""

from __future__ import annotations

import json
import sys

from prefect.client.orchestration import get_client


def main() -> None:
    command, *names = sys.argv[1:]
    with get_client(sync_client=True) as client:
        if command == "trigger":
            ids = []
            for name in names:
                deployment = client.read_deployment_by_name(name)
                ids.append(str(client.create_flow_run_from_deployment(deployment.id).id))
            print(json.dumps(ids))
        elif command == "history":
            states = client.read_flow_run_states(names[0])
            print(json.dumps([{"type": s.type.value, "name": s.name, "message": s.message} for s in states]))
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
