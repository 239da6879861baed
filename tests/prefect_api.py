"""Prefect's REST API straight from the test process, for everything the work-pool tests ask of the
server: a Python process with Prefect's client (the test process's Prefect settings belong to its own
engine) costs seconds of CPU to start, a request milliseconds."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from datetime import datetime


def api(port: int, path: str, body: dict | None = None, auth: str = "", method: str = "POST") -> object:
    """The JSON answer of ``path`` (under /api) on the server at 127.0.0.1:``port``, with its login."""
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    data = None if method == "GET" else json.dumps(body or {}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api{path}", data=data, headers=headers, method=method)
    for attempt in range(5):  # SQLite under a busy server answers 503 now and then: Prefect's clients retry too
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or attempt == 4:
                raise
            time.sleep(1 + attempt)
    return None


def described(run: dict, deployments: dict[str, str] | None = None) -> dict[str, object]:
    """A flow run as the tests compare it (the deployment by name when ``deployments`` are given)."""
    return {
        "id": run["id"],
        "name": run["name"],
        "workspace": (run.get("parameters") or {}).get("workspace"),
        "state": run.get("state_type"),
        "state_name": run.get("state_name"),
        "expected": run.get("expected_start_time"),
        "start": run.get("start_time"),
        "end": run.get("end_time"),
        "deployment": (deployments or {}).get(str(run["deployment_id"]), str(run["deployment_id"])),
        "run_count": run["run_count"],
    }


def flow_runs(port: int, auth: str, ids: list[str]) -> list[dict]:
    """Those flow runs, described."""
    found = api(port, "/flow_runs/filter", {"flow_runs": {"id": {"any_": ids}}}, auth)
    return [described(run) for run in found]  # type: ignore[union-attr]


def nightly_due(port: int, auth: str, moment: datetime) -> list[dict]:
    """Every nightly run expected to start at ``moment`` or before, its deployment by name."""
    deployments = {item["id"]: item["name"] for item in api(port, "/deployments/filter", {}, auth)}  # type: ignore[union-attr]
    body = {
        "flows": {"name": {"any_": ["nightly"]}},
        "flow_runs": {"expected_start_time": {"before_": moment.isoformat()}},
        "limit": 200,
    }
    return [described(run, deployments) for run in api(port, "/flow_runs/filter", body, auth)]  # type: ignore[union-attr]


def ask(port: int, auth: str, command: str, *names: str) -> object:
    """``trigger NAME…`` starts a run of each deployment ("flow/deployment") now: their ids; ``slots NAME`` a
    global concurrency limit; ``history ID`` the states a flow run went through; ``automations`` the
    automations' names; ``deployments`` each deployment's schedules, and the completed flow runs."""
    if command == "trigger":
        ids = []
        for name in names:
            deployment = api(port, f"/deployments/name/{name}", auth=auth, method="GET")
            run = api(port, f"/deployments/{deployment['id']}/create_flow_run", {}, auth)  # type: ignore[index]
            ids.append(run["id"])  # type: ignore[index]
        return ids
    if command == "history":
        states = api(port, f"/flow_run_states/?flow_run_id={names[0]}", auth=auth, method="GET")
        return [{"type": s["type"], "name": s["name"], "message": s["message"]} for s in states]  # type: ignore[union-attr]
    if command == "automations":
        return sorted(item["name"] for item in api(port, "/automations/filter", {}, auth))  # type: ignore[union-attr]
    if command == "deployments":
        found = {
            item["name"]: sorted(json.dumps(s["schedule"], sort_keys=True) for s in item["schedules"])
            for item in api(port, "/deployments/filter", {}, auth)  # type: ignore[union-attr]
        }
        done = api(port, "/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}, auth)
        return {"deployments": found, "completed": [run["id"] for run in done]}  # type: ignore[union-attr]
    if command == "slots":
        limit = api(port, f"/v2/concurrency_limits/{names[0]}", auth=auth, method="GET")
        return {"limit": limit["limit"], "active_slots": limit["active_slots"]}  # type: ignore[index]
    raise ValueError(command)
