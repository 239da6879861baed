"""One orchestration per stage, as plain functions over a workspace: issue the forms, take in the
inbox, build the outputs. The Prefect flows wrap each in one task, and the tests and the benchmarks call
them directly, so the order of steps is written once (a copy per caller would drift).

Intake and outputs are separate stages: intake never imports the reports, and the nightly flow chains
the two (``nightly`` here does the same without the engine).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Config, load_config
from pipeline.privacy.audit import record
from pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pipeline.contracts import Accepted, RunReport, SendReport
    from pipeline.forms.issuing import IssueSummary
    from pipeline.intake.inbox import Night

Progress = Callable[[int, int], None]  # (done, total)
Timings = dict[str, float]  # step -> seconds, for the benchmarks and the log


def workspace_config(space: Workspace) -> Config:
    """The workspace's config, with the roster rows of leaders who asked to be forgotten left out (they
    are named nowhere clb writes, even before the facilitator removes their row)."""
    from pipeline.privacy.tombstones import without_forgotten
    from pipeline.state import open_state

    return without_forgotten(load_config(space.config), open_state(space.database))


def _config(space: Workspace, config: Config | None) -> Config:
    return config if config is not None else workspace_config(space)


class _Clock:
    """Seconds per step, into ``timings`` when given."""

    def __init__(self, timings: Timings | None) -> None:
        self.timings, self.mark = timings, time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[step] = now - self.mark
        self.mark = now


def issue_forms(
    space: Workspace,
    config: Config | None = None,
    reissue: Sequence[str] = (),
    run_id: str | None = None,
    progress: Progress | None = None,
    timings: Timings | None = None,
) -> IssueSummary:
    """Plan every roster leader's form (new, reissued, updated or unchanged), write those that need it
    from one template built for the round, and record them in one transaction."""
    from pipeline.forms.issuing import file_sha256, issued_records, plan_forms, shared_fields, summarise, write_forms
    from pipeline.forms.template import FormTemplate
    from pipeline.privacy.retention import remember_deadline
    from pipeline.privacy.tombstones import forgotten_on, leave_out, pseudonym, salt
    from pipeline.state import active_forms, open_state, record_forms

    clock = _Clock(timings)
    engine = open_state(space.database)
    config = config if config is not None else load_config(space.config)
    gone = forgotten_on(engine, [leader.id for leader in config.roster])
    config = leave_out(config, gone)
    key = salt(engine)
    by_pseudonym = {pseudonym(engine, leader.id, key): leader.id for leader in config.roster}
    wanted = [by_pseudonym.get(item, item) for item in reissue]  # the CLI hands Prefect pseudonyms
    issued = active_forms(engine, config.settings.round)
    plan = plan_forms(config, issued, wanted, file_hash=lambda path: file_sha256(space.root / path))
    clock.lap("plan")
    written: dict[str, str] = {}
    if plan.count("unchanged") < len(plan.forms):
        template = FormTemplate(config.instrument, shared_fields(config))
        clock.lap("template")
        total = len(plan.forms)
        written = write_forms(plan, template, space.root, progress=lambda done: progress and progress(done, total))
    clock.lap("write")
    record_forms(engine, issued_records(plan, written, run_id=run_id))
    remember_deadline(engine, config)
    clock.lap("record")
    summary = summarise(plan, written)
    summary.forgotten = [{"email": email, "on": day} for email, day in sorted(gone.items())]
    record(
        space,
        "forms-issued",
        round=summary.round,
        form_version=summary.form_version,
        new=summary.new,
        reissued=summary.reissued,
        updated=summary.updated,
        written=summary.written,
        forgotten_on_roster=len(gone),
    )
    return summary


def take_in(space: Workspace, config: Config | None = None, run_id: str | None = None) -> Night:
    """The inbox, chunk by chunk, each chunk a run of its own from reading to clearing (see
    ``pipeline.intake.inbox``); the night holds every chunk's report."""
    from pipeline.forms.layout import FormSpec
    from pipeline.intake.confirm import confirm_by_mail
    from pipeline.intake.inbox import new_run_id, open_night, take_chunk
    from pipeline.state import open_state

    config = _config(space, config)
    engine = open_state(space.database)
    night = open_night(space, engine, config, run_id or new_run_id())
    spec = FormSpec.of(config.instrument)
    for index, chunk in enumerate(night.chunks()):
        night.reports.append(take_chunk(space, engine, config, night, index, chunk, spec))
    night.confirmed = confirm_by_mail(space, engine, config)  # held returns their leaders sent again
    return night


def build_outputs(
    space: Workspace, night: Night, config: Config | None = None, today: dt.date | None = None
) -> RunReport:
    """Both comparison editions, the letters that changed and their index; then the night's report,
    which lists them with the round's figures, published as the run's summary and the latest."""
    from pipeline.intake.inbox import finish_report
    from pipeline.reports.build import write_outputs
    from pipeline.state import open_state

    config = _config(space, config)
    outputs, headline = write_outputs(space, open_state(space.database), config, night.run_id, today)
    report = finish_report(space, night, outputs, headline)
    codes = Counter(p["code"] for q in report["quarantined"] for p in q["problems"])
    record(
        space,
        "nightly",
        run_id=report["run_id"],
        round=headline["round"],
        accepted=len(report["accepted"]),
        quarantined=len(report["quarantined"]),
        duplicates=len(report["duplicates"]),
        waiting=len(report["waiting"]),
        problem_codes=dict(sorted(codes.items())),
        files_written=len(outputs),
    )
    return report


def send_notices(space: Workspace, config: Config | None = None) -> SendReport:
    """Tell each leader whose accepted return was replaced, at their roster address (sent, or drafted
    when no SMTP host is set): every night, so that nobody's answers change without their knowing."""
    from pipeline.mail.run import mail_run

    return mail_run(space, _config(space, config), "notices")


def nightly(space: Workspace, config: Config | None = None, run_id: str | None = None) -> RunReport:
    """A nightly run without the engine: intake, then outputs, the replacement notices, then the
    retention policy when one is set (the ``nightly`` flow chains the same)."""
    from pipeline.intake.inbox import save_report

    config = _config(space, config)
    report = build_outputs(space, take_in(space, config, run_id), config)
    report["notices"] = send_notices(space, config)
    if config.settings.retention.configured:
        report["purged"] = purge(space, config)
    save_report(space, report)
    return report


def rebuild_outputs(space: Workspace, rounds: Sequence[str], config: Config | None = None) -> list[str]:
    """Build the outputs of each of ``rounds`` again from the state as it is now, as if they had never
    been built (after clb forget has removed a leader from them); the current round's last."""
    from pipeline.reports.build import write_outputs
    from pipeline.state import delete_meta, now, open_state

    config = _config(space, config)
    engine = open_state(space.database)
    current = config.settings.round
    written: list[str] = []
    run_id = "rebuilt-" + now().replace(":", "").replace("-", "")[:15]
    for round_id in [*sorted(set(rounds) - {current}), current]:
        delete_meta(engine, f"outputs:{round_id}")
        settings = config.settings.model_copy(update={"round": round_id})
        outputs, _ = write_outputs(space, engine, dataclasses.replace(config, settings=settings), run_id)
        written += outputs
    return written


@dataclasses.dataclass
class Forgotten:
    """What ``forget`` did: what it removed, in words, and the files still to remove (empty once done)."""

    lines: list[str]
    left: list[str]


def forget(space: Workspace, email: str, confirm: Callable[[list[str]], bool] = lambda lines: True) -> Forgotten:
    """Erase one leader everywhere (pipeline/privacy/forget.py), then build again the outputs of every
    round they were in. ``confirm`` is shown what would go and says whether to go ahead. What is to be
    erased is recorded in the state first; what could not be removed stays recorded, and running it again
    finishes the job. Nothing found (or not confirmed): nothing done, no lines."""
    from pipeline.privacy.forget import describe, erase, find
    from pipeline.privacy.tombstones import pseudonym
    from pipeline.state import compact, end_erasure, open_state, pending_erasure, record_erasure

    engine = open_state(space.database)
    leader = email.strip().casefold()
    found = find(space, engine, leader)
    pending = pending_erasure(engine, leader)
    if pending is not None:
        found.add_plan(space, pending)
    lines = describe(found)
    on_roster = any(item.id == found.email for item in load_config(space.config).roster)
    if not (found.found or found.files or on_roster or pending is not None):
        return Forgotten([], [])
    if not confirm(lines):
        return Forgotten([], [])
    record_erasure(engine, found.email, found.plan(space))  # before anything is removed
    left = erase(space, engine, found)
    rebuild_outputs(space, sorted(found.rounds))
    if left:
        found.files = set(left)
        record_erasure(engine, found.email, found.plan(space))
        return Forgotten(lines, sorted(space.relative(path) for path in left))
    end_erasure(engine, found.email)
    compact(engine)  # the to-do, names and all, overwritten and vacuumed with the rest
    record(
        space,
        "forget",
        leader=pseudonym(engine, found.email),  # the tombstone's hash: which erasure, never who
        rows=found.rows,
        files=len(found.files),
        rounds=sorted(found.rounds),
    )
    return Forgotten(lines, [])


def accept(space: Workspace, path: Path, config: Config | None = None) -> Accepted:
    """clb accept: a return held for confirmation accepted on the facilitator's word, recorded in the
    audit trail, and the round's outputs built again with it."""
    from pipeline.intake.confirm import accept_file
    from pipeline.state import open_state

    config = _config(space, config)
    entry = accept_file(space, open_state(space.database), config, path)
    rebuild_outputs(space, [config.settings.round], config)
    record(space, "accept", sha256=entry["sha256"], supersedes=entry["supersedes"])
    return entry


def purge(
    space: Workspace, config: Config | None = None, today: dt.date | None = None, dry_run: bool = False
) -> list[str]:
    """Apply the retention policy (pipeline/privacy/retention.py): what is due is removed, and the
    outputs of a round whose returns went are built again without its user logs. Returns what was (or,
    with ``dry_run``, would be) removed, in words."""
    from pipeline.privacy.retention import apply, plan
    from pipeline.state import open_state

    config = _config(space, config)
    engine = open_state(space.database)
    steps = plan(space, engine, config, today or dt.date.today())
    if dry_run or not steps:
        return [step.describe() for step in steps]
    apply(space, engine, config, steps)
    gone = {step.round for step in steps if step.kind == "answers"}
    rebuilt = {step.round for step in steps if step.kind == "returns" and step.round} - gone
    if rebuilt:
        rebuild_outputs(space, sorted(rebuilt), config)
    record(
        space,
        "purge",
        steps=[{"kind": step.kind, "round": step.round, "files": len(step.files), "rows": step.rows} for step in steps],
    )
    return [step.describe() for step in steps]
