"""The real flows on the real Prefect engine (few tests: the engine is slow to start)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipeline.state import active_forms, open_state

pytestmark = pytest.mark.flow


def test_issue_forms_flow_on_the_engine(prefect_engine, workspace):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from pipeline.flows import issue_forms

    state = issue_forms(workspace=str(workspace), return_state=True)
    assert state.is_completed()
    summary = state.result()
    assert (summary.new, summary.written) == (15, 15)
    forms = active_forms(open_state(workspace / "state" / "clb.sqlite"), "2026-Q4")
    assert len(forms) == 15 and all(record.run_id == str(state.state_details.flow_run_id) for record in forms.values())
    assert len(list((workspace / "outbox" / "forms" / "2026-Q4").rglob("*.xlsx"))) == 15

    import asyncio

    async def task_runs() -> list[str]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
            )
            return sorted(run.name.rsplit("-", 1)[0] for run in runs)

    # batches, never one task run per leader
    assert asyncio.run(task_runs()) == ["load-config", "plan-forms", "record-forms", "write-forms"]


def test_clb_forms_command_end_to_end(prefect_engine, workspace, monkeypatch):
    from pipeline.cli import app

    monkeypatch.setenv("PREFECT_HOME", str(workspace / "state" / "prefect"))
    result = CliRunner().invoke(app, ["forms", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "New" in result.output and "15" in result.output
    assert str(workspace / "outbox" / "forms" / "2026-Q4") in result.output.replace("\n", "")
    again = CliRunner().invoke(app, ["forms", "--workspace", str(workspace)])
    assert again.exit_code == 0
    assert "Unchanged        │    15" in again.output
