"""The Prefect flows: orchestration only. Each task wraps one plain stage function; tasks work on whole
batches (Prefect records ~18 task runs a second here and drops the backlog at exit, so never one task
run per leader). Import this module only after ``workspace.configure_prefect``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from rich.progress import Progress

from pipeline.failures import PrivateFailure, kept_private
from pipeline.logs import log_path, workspace_logging
from pipeline.workspace import Workspace, WorkspaceBusy, workspace_lock

if TYPE_CHECKING:
    from pipeline.contracts import RunReport, SendReport
    from pipeline.forms.issuing import IssueSummary

T = TypeVar("T")

# The stages (openpyxl, pandas, lxml, Jinja2) are imported by the tasks that use them, not here: every clb
# command imports this module, and with clb serve running a whole command should take a few seconds.


def _dated(prefix: str) -> Callable[[], str]:
    return lambda: f"{prefix}-{dt.date.today().isoformat()}"


@contextmanager
def _reported(space: Workspace, what: str) -> Iterator[None]:
    """Log what ran to the workspace's file; on failure, say which run failed and where its log is. What
    reaches Prefect names no leader (``failures.kept_private``): the whole message is in the workspace's
    log and on the facilitator's screen (``RunFailed.detail``)."""
    workspace_logging(space)
    logger = logging.getLogger("clb")
    run_id = str(flow_run.get_id())
    logger.info("%s started (flow run %s, workspace %s)", what, run_id, space.root)
    try:
        yield
    except WorkspaceBusy:
        raise
    except Exception as exc:
        if isinstance(exc, PrivateFailure):
            public, detail = str(exc), exc.detail
        else:
            logger.error("%s failed: %s", what, exc, exc_info=True)
            public, detail = type(exc).__name__, str(exc)
        logger.error("%s failed (flow run %s)", what, run_id)
        raise RunFailed(
            f"{what} failed ({public}). Flow run {run_id}; the log is {log_path(space)}", detail=detail
        ) from None
    logger.info("%s finished (flow run %s)", what, run_id)


@contextmanager
def _one_at_a_time(space: Workspace) -> Iterator[None]:
    """Hold the workspace: its file lock, and when the run comes from a deployment (clb serve, or a worker
    of a work pool, perhaps on another machine), also its Prefect concurrency slot, so that a second run
    of the same workspace waits for the first whatever worker took it (pipeline/pool.py)."""
    from prefect.runtime import deployment

    if deployment.id is None:
        with workspace_lock(space, wait_seconds=30):
            yield
        return
    from prefect.concurrency.sync import concurrency
    from prefect.runtime import flow_run

    from pipeline.workspace import ATTEMPTS, LEASE_SECONDS, workspace_slot

    if flow_run.run_count > ATTEMPTS:
        raise RunFailed(
            f"this run has been started {flow_run.run_count} times and stopped each time before it finished "
            "(its worker or machine stopped, or ran out of memory): it is not started again. Look at the "
            "workers' logs, then start the run by hand."
        )
    with (
        concurrency(workspace_slot(space), occupy=1, lease_duration=LEASE_SECONDS),
        workspace_lock(space, wait_seconds=30),
    ):
        yield


class RunFailed(Exception):
    """A scheduled or manual run failed; the message names the run and its log (and no leader: Prefect
    records it); ``detail`` says what went wrong in full, for the screen."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class RunRefused(RunFailed):
    """A run from a deployment asked for a workspace that deployment was not made for."""


def _workspace(path: str) -> Workspace:
    """The run's workspace. A run from a deployment (clb serve, or a worker of a work pool) runs only the
    workspace its deployment was made for, and only one the serving process was started for: anyone
    with the API's login can ask Prefect for a run with other parameters, and such a run is refused here,
    before anything of that folder is read."""
    from prefect.runtime import deployment

    from pipeline.workspace import may_serve

    if deployment.id is not None:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            made_for = client.read_deployment(deployment.id).parameters.get("workspace")
        if path != made_for or not may_serve(path):
            raise RunRefused(
                f"refused: this run asks for the workspace {path!r}, but its deployment was made for "
                f"{made_for!r}, and this process serves only the workspaces it was started for; nothing "
                "was read. Someone called Prefect's API with other parameters: check who holds its login."
            )
    return Workspace.at(Path(path))


def _task(name: str, function: Callable[..., T]) -> Callable[..., T]:
    """One step of a stage as a Prefect task (``stages.Step``): a batch, never one per file; nothing
    cached or kept (its inputs and results hold personal data); its failure reaches Prefect as the step
    and the kind of error only (``failures.kept_private``)."""

    @functools.wraps(function)
    def step(*args: Any, **kwargs: Any) -> T:
        with kept_private(name.replace("-", " ")):
            return function(*args, **kwargs)

    made: Callable[..., T] = task(name=name, cache_policy=NO_CACHE, persist_result=False)(step)
    return made


def _issue_with_progress(space: Workspace, reissue: list[str]) -> IssueSummary:
    from pipeline import stages

    with Progress(transient=True) as bar:
        job = bar.add_task("Writing forms", total=None)
        return stages.issue_forms(
            space,
            None,
            reissue,
            run_id=str(flow_run.get_id()),
            progress=lambda done, total: bar.update(job, completed=done, total=total),
        )


@flow(name="issue-forms", flow_run_name=_dated("issue-forms"), log_prints=False, persist_result=False)
def issue_forms(workspace: str = ".", reissue: list[str] | None = None) -> IssueSummary:
    """Make a personalised form of the workspace's instrument for every leader on the roster."""
    space = _workspace(workspace)
    with _reported(space, "issuing forms"), _one_at_a_time(space):
        return _task("issue-forms", _issue_with_progress)(space, reissue or [])


@task(name="publish-run-report", cache_policy=NO_CACHE, persist_result=False)
def publish_report_task(workspace: Workspace, report: RunReport) -> None:
    """The run report as Prefect artifacts: a table of decisions and the headline figures. Prefect's
    database is outside what clb forget can erase, so they hold no personal data: files by their sha256,
    never by name, no leader, no text from a file. Names are in the run report in the workspace."""
    rows = [{"sha256": a["sha256"][:12], "decision": "accepted", "codes": ""} for a in report["accepted"]]
    rows += [{"sha256": d["sha256"][:12], "decision": "duplicate", "codes": ""} for d in report["duplicates"]]
    rows += [
        {"sha256": q["sha256"][:12], "decision": "quarantined", "codes": "; ".join(p["code"] for p in q["problems"])}
        for q in report["quarantined"]
    ]
    rows += [{"sha256": "", "decision": "waiting", "codes": ""} for _ in report["waiting"]]
    summary = workspace.outbox / "runs" / report["run_id"] / "summary.json"
    create_table_artifact(rows, key="nightly-decisions", description=f"Decisions of run {report['run_id']}: {summary}")
    figures = report["round"]
    published = figures["shareable_published_at"]
    create_markdown_artifact(
        f"## Round {figures['round']}\n\n"
        f"| | |\n|---|---|\n"
        f"| Accepted responses | {figures['responses']} of {figures['roster']} leaders |\n"
        f"| Outstanding | {figures['outstanding']} |\n"
        f"| Quarantined files (round) | {figures['quarantined_files']} |\n"
        f"| Shareable edition | {figures['shareable_responses']} responses"
        f"{', published ' + published[:10] if published else ''} |\n\n"
        f"**This run** ({report['run_id']}): {len(report['accepted'])} accepted, {len(report['quarantined'])} "
        f"quarantined, {len(report['duplicates'])} duplicates, {len(report['waiting'])} waiting; "
        f"{len(report['outputs'])} files written.",
        key="nightly-summary",
    )
    for path in report["outputs"]:
        if path.endswith(("facilitator.xlsx", "round.html")):
            key = "comparison-workbook" if path.endswith(".xlsx") else "round-page"
            create_link_artifact((workspace.root / path).as_uri(), link_text=path, key=key)


@flow(name="nightly", flow_run_name=_dated("nightly"), log_prints=False, persist_result=False)
def nightly(workspace: str = ".", close: bool = False) -> RunReport:
    """The night (``stages.nightly``), each step a task; then its report as Prefect artifacts. ``close``:
    the round closes after this night's intake (`clb close`), whatever its deadline."""
    from pipeline import stages

    space = _workspace(workspace)
    with _reported(space, "closing the round" if close else "nightly run"), _one_at_a_time(space):
        report = stages.nightly(space, step=_task, close=close)
        publish_report_task(space, report)
        logging.getLogger("clb").info(
            "run %s: %d accepted, %d quarantined, %d duplicates, %d waiting",
            report["run_id"],
            len(report["accepted"]),
            len(report["quarantined"]),
            len(report["duplicates"]),
            len(report["waiting"]),
        )
        return report


# ---------------------------------------------------------------- mail


def _send(
    workspace: str, kind: str, dry_run: bool, resend: bool, early: bool = False, to: list[str] | None = None
) -> SendReport:
    from pipeline import stages

    space = _workspace(workspace)
    with _reported(space, f"sending {kind}"), _one_at_a_time(space):
        return _task("send-mail", stages.send)(space, kind, None, dry_run, resend, early=early, to=to or [])


@flow(name="send-invitations", persist_result=False)
def send_invitations(
    workspace: str = ".", dry_run: bool = False, resend: bool = False, to: list[str] | None = None
) -> SendReport:
    """Email every leader their own form."""
    return _send(workspace, "invitations", dry_run, resend, to=to)


@flow(name="send-reminders", flow_run_name=_dated("reminders"), persist_result=False)
def send_reminders(
    workspace: str = ".", dry_run: bool = False, resend: bool = False, to: list[str] | None = None
) -> SendReport:
    """Remind the leaders who have not returned their form (at most every N days)."""
    return _send(workspace, "reminders", dry_run, resend, to=to)


@flow(name="send-letters", persist_result=False)
def send_letters(
    workspace: str = ".", dry_run: bool = False, resend: bool = False, now: bool = False, to: list[str] | None = None
) -> SendReport:
    """Email each leader their feedback letter, once the round has closed (``now``: before, with a warning)."""
    return _send(workspace, "letters", dry_run, resend, early=now, to=to)


@flow(name="send-corrections", persist_result=False)
def send_corrections(
    workspace: str = ".", dry_run: bool = False, resend: bool = False, to: list[str] | None = None
) -> SendReport:
    """Email each leader whose return was quarantined the problems to correct."""
    return _send(workspace, "corrections", dry_run, resend, to=to)


@flow(name="send-notices", persist_result=False)
def send_notices(
    workspace: str = ".", dry_run: bool = False, resend: bool = False, to: list[str] | None = None
) -> SendReport:
    """Tell each leader whose accepted return was replaced (every nightly run does it too)."""
    return _send(workspace, "notices", dry_run, resend, to=to)


SEND_FLOWS: dict[str, Callable[..., SendReport]] = {
    "invitations": send_invitations,
    "reminders": send_reminders,
    "letters": send_letters,
    "corrections": send_corrections,
    "notices": send_notices,
}
