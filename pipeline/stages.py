"""One orchestration per stage, as plain functions over a workspace: issue the forms, take in the
inbox, build the outputs. The Prefect flows wrap each in one task, and the tests and the benchmarks call
them directly, so the order of steps is written once (a copy per caller would drift).

Intake and outputs are separate stages: intake never imports the reports, and the nightly flow chains
the two (``nightly`` here does the same without the engine).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pipeline.config import Config, load_config
from pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pipeline.contracts import RunReport
    from pipeline.forms.issuing import IssueSummary
    from pipeline.intake.inbox import Night

Progress = Callable[[int, int], None]  # (done, total)
Timings = dict[str, float]  # step -> seconds, for the benchmarks and the log


def _config(space: Workspace, config: Config | None) -> Config:
    return config if config is not None else load_config(space.config)


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
    from pipeline.state import active_forms, open_state, record_forms

    clock = _Clock(timings)
    config = _config(space, config)
    engine = open_state(space.database)
    issued = active_forms(engine, config.settings.round)
    plan = plan_forms(config, issued, reissue, file_hash=lambda path: file_sha256(space.root / path))
    clock.lap("plan")
    written: dict[str, str] = {}
    if plan.count("unchanged") < len(plan.forms):
        template = FormTemplate(config.instrument, shared_fields(config))
        clock.lap("template")
        total = len(plan.forms)
        written = write_forms(plan, template, space.root, progress=lambda done: progress and progress(done, total))
    clock.lap("write")
    record_forms(engine, issued_records(plan, written, run_id=run_id))
    clock.lap("record")
    return summarise(plan, written)


def take_in(space: Workspace, config: Config | None = None, run_id: str | None = None) -> Night:
    """The inbox, chunk by chunk, each chunk a run of its own from reading to clearing (see
    ``pipeline.intake.inbox``); the night holds every chunk's report."""
    from pipeline.forms.layout import FormSpec
    from pipeline.intake.inbox import new_run_id, open_night, take_chunk
    from pipeline.state import open_state

    config = _config(space, config)
    engine = open_state(space.database)
    night = open_night(space, engine, config, run_id or new_run_id())
    spec = FormSpec.of(config.instrument)
    for index, chunk in enumerate(night.chunks()):
        night.reports.append(take_chunk(space, engine, config, night, index, chunk, spec))
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
    return finish_report(space, night, outputs, headline)


def nightly(space: Workspace, config: Config | None = None, run_id: str | None = None) -> RunReport:
    """A nightly run without the engine: intake, then outputs (the ``nightly`` flow chains the same)."""
    config = _config(space, config)
    return build_outputs(space, take_in(space, config, run_id), config)
