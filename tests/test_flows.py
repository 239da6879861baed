"""The real flows on the real Prefect engine (few tests: the engine is slow to start)."""

from __future__ import annotations

import re

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
    assert asyncio.run(task_runs()) == ["issue-forms"]


def test_clb_forms_command_end_to_end(prefect_engine, workspace, monkeypatch):
    from pipeline.cli import app

    monkeypatch.setenv("PREFECT_HOME", str(workspace / "state" / "prefect"))
    result = CliRunner().invoke(app, ["forms", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "New" in result.output and "15" in result.output
    assert str(workspace / "outbox" / "forms" / "2026-Q4") in result.output.replace("\n", "")
    again = CliRunner().invoke(app, ["forms", "--workspace", str(workspace)])
    assert again.exit_code == 0
    assert re.search(r"Unchanged\s+15\b", again.output), again.output


def test_nightly_flow_on_the_engine(prefect_engine, issued):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from pipeline.flows import nightly
    from tests.intake_helpers import LEADER, OTHER, drop, filled

    drop(issued, "a.xlsx", filled(issued, LEADER))
    drop(issued, "b.xlsx", filled(issued, OTHER, {1: "comfortable"}))
    state = nightly(workspace=str(issued), return_state=True)
    assert state.is_completed()
    report = state.result()
    assert [a["file"] for a in report["accepted"]] == ["a.xlsx"]
    assert [q["file"] for q in report["quarantined"]] == ["b.xlsx"]
    assert (issued / "outbox" / "runs" / report["run_id"] / "summary.json").exists()

    async def artifacts() -> list[str]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
                )
            )
            return sorted(artifact.key for artifact in found)

    assert asyncio.run(artifacts()) == ["comparison-workbook", "nightly-decisions", "nightly-summary", "round-page"]
    assert any(path.endswith("facilitator.xlsx") for path in report["outputs"])


def test_clb_nightly_and_check_commands(prefect_engine, issued, monkeypatch):
    from pipeline.cli import app
    from tests.intake_helpers import LEADER, OTHER, drop, filled

    monkeypatch.setenv("PREFECT_HOME", str(issued / "state" / "prefect"))
    good = drop(issued, "good.xlsx", filled(issued, LEADER))
    bad = drop(issued, "bad.xlsx", filled(issued, OTHER, {1: "comfortable"}))
    check = CliRunner().invoke(app, ["check", str(good), str(bad), "--workspace", str(issued)], env={"COLUMNS": "200"})
    assert check.exit_code == 1, check.output
    assert (
        "Would be" in check.output
        and "accepted" in check.output
        and "quarantined" in check.output
        and "missing-tick" in check.output
    )
    assert good.exists() and bad.exists()  # check touches nothing

    result = CliRunner().invoke(app, ["nightly", "--workspace", str(issued)], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output  # done, and a quarantined file needs the facilitator (not 4: failed)
    assert "1 accepted, 1 quarantined, 0 duplicates, 0 waiting" in result.output
    assert "Some files need you (above): exit code 1." in result.output


def test_the_nightly_flow_fetches_the_mailbox_first(prefect_engine, issued, monkeypatch):
    """With mail.imap set, the night starts by taking the mailbox's returns (a real Dovecot here)."""
    from pipeline.flows import nightly
    from tests.imap_server import Dovecot
    from tests.intake_helpers import LEADER, filled
    from tests.test_fetch import message, use_mailbox

    server = Dovecot()
    try:
        use_mailbox(issued, server.port)
        for key, value in server.environ().items():
            monkeypatch.setenv(key, value)
        server.append(message(LEADER, "My form", [("CLB form.xlsx", filled(issued, LEADER))], "<1@council.example>"))
        report = nightly(workspace=str(issued))
    finally:
        server.stop()
    assert [item["sender"] for item in report["fetched"]["saved"]] == [LEADER]
    assert [item["leader_id"] for item in report["accepted"]] == [LEADER]
