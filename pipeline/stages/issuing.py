"""Issuing: every roster leader's form for the round (refused while the deadline has passed or a path
would be too long for this system), and the next round in the same workspace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.config import Config, load_config
from pipeline.privacy.audit import record
from pipeline.stages.base import Clock, Progress, Timings, addresses, opened
from pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pipeline.forms.issuing import IssueSummary


class DeadlinePassed(ValueError):
    """Forms would be written with a deadline in the past: the run cannot go on until it is set."""


class PathsTooLong(ValueError):
    """Leaders' files would pass the longest path this system takes: none is written until it is fixed."""


def paths_problem(space: Workspace, config: Config, limit: int | None = None) -> str | None:
    """Why some leaders' files could not be written on this system (Windows without long paths: 259
    characters, the workspace's folders included), and what to do; None when they all fit. ``limit``:
    this system's (``names.path_limit``) unless given."""
    from pipeline.names import path_limit, too_long, unique_stems

    limit = limit if limit is not None else path_limit()
    if limit is None:
        return None
    stems = unique_stems((leader.id, leader.organisation, leader.name) for leader in config.roster)
    over = too_long(str(space.root), config.settings.round, stems, limit)
    if not over:
        return None
    names = {leader.id: leader.name for leader in config.roster}
    key, longest = over[0]
    shorter = longest - limit
    return (
        f"{len(over)} leaders' files would have paths longer than this computer allows ({limit + 1} characters "
        f"with the folders above the workspace; the longest, for {names[key]}, would be {longest}). Move the "
        f"workspace to a folder at least {shorter} characters shorter (such as C:\\clb\\{space.root.name}), "
        "shorten the longest organisation or leader names in the roster, or ask your IT team to enable "
        "long paths in Windows (the setting LongPathsEnabled)"
    )


def issue_forms(
    space: Workspace,
    config: Config | None = None,
    reissue: Sequence[str] = (),
    run_id: str | None = None,
    progress: Progress | None = None,
    timings: Timings | None = None,
) -> IssueSummary:
    """Plan every roster leader's form (new, reissued, updated or unchanged), write those that need it
    from one template built for the round, and record them in one transaction. ``reissue``: addresses, or
    their pseudonyms (what the flow is given)."""
    from pipeline.forms.issuing import file_sha256, issued_records, plan_forms, shared_fields, summarise, write_forms
    from pipeline.forms.template import FormTemplate
    from pipeline.privacy.retention import remember_deadline
    from pipeline.privacy.tombstones import forgotten_on, leave_out
    from pipeline.rounds import deadline_problem
    from pipeline.state import active_forms, record_forms

    clock = Clock(timings)
    with opened(space) as engine:
        config = config if config is not None else load_config(space.config)
        gone = forgotten_on(engine, [leader.id for leader in config.roster])
        config = leave_out(config, gone)
        wanted = addresses(engine, config, reissue)
        issued = active_forms(engine, config.settings.round)
        plan = plan_forms(config, issued, wanted, file_hash=lambda path: file_sha256(space.root / path))
        clock.lap("plan")
        writing = plan.count("unchanged") < len(plan.forms)
        problem = deadline_problem(config.settings, dt.date.today())
        if problem and writing:
            raise DeadlinePassed(problem)
        problem = paths_problem(space, config)
        if problem and writing:
            raise PathsTooLong(problem)
        written: dict[str, str] = {}
        if writing:
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
            engine,
            round=summary.round,
            form_version=summary.form_version,
            new=summary.new,
            reissued=summary.reissued,
            updated=summary.updated,
            written=summary.written,
            forgotten_on_roster=len(gone),
        )
    return summary


class NewRoundRefused(ValueError):
    """The next round cannot start yet; the message says why and what to do."""


def new_round(space: Workspace, round_id: str, deadline: dt.date, today: dt.date | None = None) -> str:
    """The next round in this workspace: the same roster and settings, a new round id and deadline in
    partnership.yaml (its comments kept). The round before must be closed, so that its figures and letters
    are final; its answers stay, so letters show movement and Rounds compared fills. Returns the round
    it follows."""
    from pipeline.init import set_settings
    from pipeline.settings import ROUND_RE
    from pipeline.state import leaders_of_round, round_closed

    config = load_config(space.config)
    current = config.settings.round
    if not ROUND_RE.match(round_id):
        raise NewRoundRefused(
            f"{round_id!r} cannot be a round id: use letters, digits, '-', '_' or '.', starting and ending with "
            "a letter or digit (e.g. 2027-Q3)"
        )
    if deadline < (today or dt.date.today()):
        raise NewRoundRefused(f"the deadline {deadline} is in the past: give the date leaders return their form by")
    with opened(space) as engine:
        if round_id == current or leaders_of_round(engine, round_id):
            raise NewRoundRefused(f"round {round_id} has been run in this workspace already: choose a new id")
        if leaders_of_round(engine, current) and round_closed(engine, current) is None:
            raise NewRoundRefused(
                f"round {current} is still open: close it first with clb close (its partners' figures and "
                "letters are made final then), then start the next one"
            )
        set_settings(space.config / "partnership.yaml", round=round_id, deadline=deadline.isoformat())
        record(space, "round-new", engine, round=round_id, follows=current, deadline=deadline.isoformat())
    return current
