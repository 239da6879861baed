"""The night, in order, and its steps that are not outputs: fetch the mailbox, take in the inbox,
close the round when it is due."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pipeline.config import Config
from pipeline.privacy.audit import record
from pipeline.stages.base import Step, opened, plainly, workspace_config
from pipeline.stages.mail import send
from pipeline.stages.outputs import build_outputs
from pipeline.stages.people import purge
from pipeline.state import Closed, Engine, forms_for_round
from pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pipeline.contracts import Fetched, FetchFailed, RunReport
    from pipeline.intake.batch import Night
    from pipeline.mail.fetch import FetchReport


def nightly(
    space: Workspace,
    config: Config | None = None,
    run_id: str | None = None,
    step: Step[Any] = plainly,
    close: bool = False,
    today: dt.date | None = None,
) -> RunReport:
    """The night, in order: the mailbox's returns fetched (when one is set), the inbox taken in, the
    round closed when ``close`` is asked or its last day has passed, the outputs built, leaders told of
    replaced returns, the retention policy applied (when one is set), and the night's report saved whole."""
    from pipeline.night import save_report

    with opened(space) as engine:
        config = step("load-config", workspace_config)(space, engine) if config is None else config
        fetched = step("fetch-returns", fetch_for_night)(space, config, engine) if config.settings.mail.imap else None
        night = step("take-in-returns", take_in)(space, config, run_id, engine)
        step("close-round", close_when_due)(space, config, close, today, engine)
        report: RunReport = step("build-outputs", build_outputs)(space, night, config, today, engine)
        report["notices"] = step("send-notices", send)(space, "notices", config, engine=engine)
        if fetched is not None:
            report["fetched"] = fetched
        if config.settings.retention.configured:
            report["purged"] = step("apply-retention", purge)(space, config, None, False, engine)
        step("save-run-report", save_report)(space, report, engine)
    return report


def close_when_due(
    space: Workspace, config: Config, asked: bool, today: dt.date | None = None, engine: Engine | None = None
) -> Closed | None:
    """Close the round when the facilitator asks (``clb close``) or its last day has passed; a closed
    round stays closed. Returns its close, or None while it is open."""
    from pipeline.rounds import due_to_close
    from pipeline.state import close_round, round_closed

    with opened(space, engine) as engine:
        round_id = config.settings.round
        closed = round_closed(engine, round_id)
        if closed is None and (asked or due_to_close(config.settings, today or dt.date.today())):
            closed = close_round(engine, round_id, "clb close" if asked else "the deadline")
            record(space, "round-closed", engine, round=round_id, by=closed.by)
        return closed


def fetch(space: Workspace, config: Config | None = None, engine: Engine | None = None) -> FetchReport:
    """The returns mailbox's new attachments into inbox/ (``clb fetch``); raises FetchError when the
    mailbox cannot be used."""
    from pipeline.mail.fetch import fetch_returns

    with opened(space, engine) as engine:
        return fetch_returns(space, engine, config if config is not None else workspace_config(space, engine))


def fetch_for_night(space: Workspace, config: Config, engine: Engine | None = None) -> Fetched | FetchFailed:
    """The night's fetch: a mailbox that cannot be reached costs the fetch, never the night (what is
    already in the inbox is still taken in), and the run report says why."""
    import logging

    from pipeline.mail.fetch import FetchError

    try:
        return fetch(space, config, engine).as_dict()
    except FetchError as exc:
        logging.getLogger("clb").warning("fetching returns failed: %s", exc)
        return {"error": str(exc)}


def take_in(
    space: Workspace, config: Config | None = None, run_id: str | None = None, engine: Engine | None = None
) -> Night:
    """The inbox, chunk by chunk, each chunk a run of its own from reading to clearing (see
    ``pipeline.intake.inbox``); then the held returns their leaders have since sent themselves."""
    from pipeline.forms.layout import FormSpec
    from pipeline.intake.confirm import confirm_by_mail
    from pipeline.intake.inbox import new_run_id, open_night, take_chunk

    with opened(space, engine) as engine:
        config = config if config is not None else workspace_config(space, engine)
        night = open_night(space, engine, config, run_id or new_run_id())
        spec = FormSpec.of(config.instrument)
        # the round's forms, once for all the chunks (a night of 10,000 returns loaded 10,000 forms for each
        # of its 20 chunks): the night holds the workspace, so none is issued or revoked meanwhile. Not kept
        # in the Night, which lives on while the outputs are built, at the night's peak of memory. Most
        # nights find the inbox empty: then no form is needed
        issued = forms_for_round(engine, config.settings.round) if night.ready else {}
        for index, chunk in enumerate(night.chunks()):
            night.reports.append(take_chunk(space, engine, config, night, index, chunk, spec, issued))
        night.confirmed = confirm_by_mail(space, engine, config)
    return night
