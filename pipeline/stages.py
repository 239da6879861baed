"""The table of contents: one plain function per job, its steps in order. Issue the forms; the night
(fetch, take in, build the outputs, tell leaders of replacements, apply retention); send; accept a held
return; forget a leader; purge; and what the commands only read (status, check, the audit trail).

The flows (``pipeline.flows``) wrap these functions and nothing else, the CLI calls flows or these, and
the tests and benchmarks call them directly, so each job's order is written once. A job opens the state
database once (``state.database``), passes the engine down, and disposes of it when it ends; a job given
an ``engine`` uses it instead (one job inside another). ``nightly`` runs each step through ``step``:
Prefect tasks in the flow, a plain call elsewhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline.config import Config, load_config
from pipeline.privacy.audit import record
from pipeline.state import Closed, Engine, database
from pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pipeline.config import Leader
    from pipeline.contracts import Accepted, Fetched, FetchFailed, Held, RunReport, SendReport
    from pipeline.forms.issuing import IssueSummary
    from pipeline.intake.batch import Night
    from pipeline.intake.check import CheckResult
    from pipeline.mail.fetch import FetchReport
    from pipeline.mail.status import LeaderStatus, Unplaced
    from pipeline.privacy.audit import Entry
    from pipeline.state import FormRecord

Progress = Callable[[int, int], None]  # (done, total)
Timings = dict[str, float]  # step -> seconds, for the benchmarks and the log
T = TypeVar("T")
Step = Callable[[str, Callable[..., T]], Callable[..., T]]  # (step name, function) -> how it is run


def plainly(name: str, function: Callable[..., T]) -> Callable[..., T]:
    """A step run as a plain call (the flows give Prefect tasks instead)."""
    return function


@contextmanager
def opened(space: Workspace, engine: Engine | None = None) -> Iterator[Engine]:
    """The engine a job runs on: the one it was given, or the workspace's database for this job."""
    if engine is not None:
        yield engine
        return
    with database(space.database) as engine:
        yield engine


def workspace_config(space: Workspace, engine: Engine | None = None) -> Config:
    """The workspace's config, with the roster rows of leaders who asked to be forgotten left out (they
    are named nowhere clb writes, even before the facilitator removes their row)."""
    from pipeline.privacy.tombstones import without_forgotten

    with opened(space, engine) as engine:
        return without_forgotten(load_config(space.config), engine)


class _Clock:
    """Seconds per step, into ``timings`` when given."""

    def __init__(self, timings: Timings | None) -> None:
        self.timings, self.mark = timings, time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[step] = now - self.mark
        self.mark = now


# ---------------------------------------------------------------- issuing forms


def pseudonyms(space: Workspace, emails: Sequence[str]) -> dict[str, str]:
    """Each address (or 'all') as Prefect may be given it: a salted pseudonym (``issue_forms`` reads it)."""
    from pipeline.privacy.tombstones import pseudonym, salt

    with opened(space) as engine:
        key = salt(engine)
        return {email if email == "all" else pseudonym(engine, email, key): email for email in emails}


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

    clock = _Clock(timings)
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


# ---------------------------------------------------------------- the night


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
        for index, chunk in enumerate(night.chunks()):
            night.reports.append(take_chunk(space, engine, config, night, index, chunk, spec))
        night.confirmed = confirm_by_mail(space, engine, config)
    return night


def build_outputs(
    space: Workspace,
    night: Night,
    config: Config | None = None,
    today: dt.date | None = None,
    engine: Engine | None = None,
) -> RunReport:
    """Both comparison editions, the letters that changed and their index; then the night's report,
    which lists them with the round's figures, published as the run's summary and the latest."""
    from pipeline.night import finish_report
    from pipeline.reports.build import write_outputs

    with opened(space, engine) as engine:
        config = config if config is not None else workspace_config(space, engine)
        outputs, headline, held = write_outputs(space, engine, config, night.run_id, today)
        report = finish_report(space, night, outputs, headline, engine, held)
        codes = Counter(p["code"] for q in report["quarantined"] for p in q["problems"])
        record(
            space,
            "nightly",
            engine,
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


def moment() -> str:
    """Now, as it goes into a name: ``20261203T201500``."""
    from pipeline.state import now

    return now().replace(":", "").replace("-", "")[:15]


def stamped(prefix: str) -> str:
    """The id of work done outside a night (``rebuilt-20261203T201500``): what did it, and when."""
    return f"{prefix}-{moment()}"


def rebuild_outputs(
    space: Workspace, rounds: Sequence[str], config: Config | None = None, engine: Engine | None = None
) -> tuple[list[str], list[Held]]:
    """Build the outputs of each of ``rounds`` again from the state as it is now, as if they had never
    been built (after clb forget has removed a leader from them); the current round's last. With the
    outputs another program held open: their new editions went beside them."""
    from pipeline.reports.build import write_outputs
    from pipeline.state import delete_meta

    with opened(space, engine) as engine:
        config = config if config is not None else workspace_config(space, engine)
        current = config.settings.round
        written: list[str] = []
        held: list[Held] = []
        run_id = stamped("rebuilt")
        for round_id in [*sorted(set(rounds) - {current}), current]:
            delete_meta(engine, f"outputs:{round_id}")
            settings = config.settings.model_copy(update={"round": round_id})
            made = write_outputs(space, engine, dataclasses.replace(config, settings=settings), run_id)
            written += made.paths
            held += made.held
    return written, held


# ---------------------------------------------------------------- mail


def send(
    space: Workspace,
    kind: str,
    config: Config | None = None,
    dry_run: bool = False,
    resend: bool = False,
    today: dt.date | None = None,
    engine: Engine | None = None,
    early: bool = False,
    to: Sequence[str] = (),
    **timing: Any,
) -> SendReport:
    """Send (or, with no SMTP host, write as .eml drafts) one kind of message to every leader who should
    get it now; ``dry_run`` writes .eml files and records nothing; ``early``: letters before the round
    has closed (``clb send letters --now``), with a warning; ``to``: only these leaders (addresses, or
    their pseudonyms: what the flow is given)."""
    from pipeline.mail.sending import deliver, plan, singular
    from pipeline.mail.transport import EmlTransport, SmtpTransport

    with opened(space, engine) as engine:
        config = config if config is not None else workspace_config(space, engine)
        only = addresses(engine, config, to)
        outgoing, skipped, warning = plan(kind, space, engine, config, today or dt.date.today(), resend, early, only)
        folder = space.outbox / "mail"
        stems = draft_stems(config)
        if dry_run:
            results = deliver(outgoing, EmlTransport(folder / "dry-run", stems), None, config, written=True, **timing)
            mode = f"dry run: .eml files in {folder / 'dry-run'}, nothing recorded"
        elif not config.settings.mail.host:
            results = deliver(outgoing, EmlTransport(folder, stems), engine, config, written=True, **timing)
            mode = f"no SMTP host set: drafts to send yourself in {folder / singular(kind)}"
        else:
            mail = config.settings.mail
            results = deliver(outgoing, SmtpTransport(mail), engine, config, **timing)
            mode = f"sent through {mail.host}:{mail.port} ({mail.security})"
        outcome = Counter(result["status"] for result in results)
        if results and not dry_run:  # the letters index and the tracker say what the mail log says, now
            refresh_outputs(space, engine, config, today)
        how = "dry-run" if dry_run else ("drafts" if not config.settings.mail.host else "smtp")
        record(space, "send", engine, kind=kind, mode=how, results=dict(sorted(outcome.items())), skipped=len(skipped))
    return {"kind": kind, "mode": mode, "results": results, "skipped": skipped, "warning": warning}


def addresses(engine: Engine, config: Config, given: Sequence[str]) -> list[str]:
    """Roster addresses from what a command was given: addresses, or their pseudonyms (``pseudonyms``)."""
    from pipeline.privacy.tombstones import pseudonym, salt

    if not given:
        return []
    key = salt(engine)
    by_pseudonym = {pseudonym(engine, leader.id, key): leader.id for leader in config.roster}
    return [by_pseudonym.get(item, item) for item in given]


def send_test(space: Workspace, kind: str, to: str, today: dt.date | None = None) -> tuple[str, str]:
    """One sample of this kind as it would go now, to ``to`` (the facilitator) instead of the leader,
    recorded nowhere (``mail.sample``). Returns (whose message it is, what happened)."""
    from pipeline.mail.sample import send_sample

    with opened(space) as engine:
        config = workspace_config(space, engine)
        return send_sample(space, engine, config, kind, to, today or dt.date.today())


def refresh_outputs(space: Workspace, engine: Engine, config: Config, today: dt.date | None = None) -> None:
    """The round's outputs made again after mail was sent or marked sent, so that the letters index and
    the response tracker say at once what clb status says (only what changed is written)."""
    from pipeline.reports.build import write_outputs

    write_outputs(space, engine, config, stamped("sent"), today)


def draft_stems(config: Config) -> dict[str, str]:
    """Each leader's drafts' name, by address: ``<organisation>/<name>``, as their form and letter."""
    from pipeline.names import unique_stems

    return unique_stems((leader.email.casefold(), leader.organisation, leader.name) for leader in config.roster)


def mark_sent(space: Workspace, kind: str, to: Sequence[str] = ()) -> int:
    """The facilitator sent this kind's drafts themselves (to ``to`` only, when given): from now on they
    count as sent."""
    from pipeline.mail.sending import singular
    from pipeline.state import mark_drafts_sent

    with opened(space) as engine:
        config = workspace_config(space, engine)
        note = f"sent by the facilitator from the draft (recorded {dt.date.today().isoformat()})"
        leaders = [address.strip().casefold() for address in to] or None
        marked = mark_drafts_sent(engine, config.settings.round, singular(kind), note, leaders)
        if marked:
            refresh_outputs(space, engine, config)
        record(space, "send", engine, kind=kind, mode="marked-sent", results={"sent": marked}, skipped=0)
    return marked


# ---------------------------------------------------------------- a held return, a leader forgotten, retention


def accept(space: Workspace, path: Path, config: Config | None = None) -> Accepted:
    """clb accept: a return held for confirmation accepted on the facilitator's word, recorded in the
    audit trail, and the round's outputs built again with it."""
    from pipeline.intake.confirm import accept_file

    with opened(space) as engine:
        config = config if config is not None else workspace_config(space, engine)
        entry = accept_file(space, engine, config, path)
        rebuild_outputs(space, [config.settings.round], config, engine)
        record(space, "accept", engine, sha256=entry["sha256"], supersedes=entry["supersedes"])
    return entry


@dataclasses.dataclass(frozen=True)
class Entered:
    """What ``enter`` wrote: the filled form in the inbox, and the kept source's sha256 (or "")."""

    leader: str
    file: str
    source: str


def enter(space: Workspace, email: str, answers: str, log: str = "", source: Path | None = None) -> Entered:
    """clb enter: a leader's answers, as the facilitator read them from paper, a scan or an email, written
    into a copy of their issued form in inbox/entered/ (pipeline/intake/entered.py), for the next nightly
    run to check and take in as their return; the source kept in the archive; the audit trail records it
    (the form's and the source's sha256: which return, never whose answers)."""
    from pipeline.intake.entered import EntryRefused, keep_source, parse_answers, write_entry
    from pipeline.intake.staging import archive_path
    from pipeline.state import record_source

    with opened(space) as engine:
        config = workspace_config(space, engine)
        chosen = parse_answers(config.instrument, answers)
        found = _with_form(engine, config, email)
        if found is None:
            raise EntryRefused(_no_form(email, config))
        leader, form = found
        kept = keep_source(space.root, source) if source is not None else ""
        if source is not None:  # a receipt of theirs: clb forget and the retention policy remove it too
            size = source.stat().st_size
            record_source(
                engine, stamped("entered"), leader.id, form.round, source.name, kept, size, archive_path(kept)
            )
        written, sha256 = write_entry(space.root, form.path, config.instrument, chosen, log, moment())
        record(space, "enter", engine, sha256=sha256, source=kept or None)
    return Entered(leader.name, written, kept)


def _with_form(engine: Engine, config: Config, email: str) -> tuple[Leader, FormRecord] | None:
    """The roster leader of ``email`` (as typed: any case, spaces round it) and their form of the round."""
    from pipeline.state import active_forms

    leader = next((item for item in config.roster if item.id == email.strip().casefold()), None)
    form = active_forms(engine, config.settings.round).get(leader.id) if leader else None
    return (leader, form) if leader is not None and form is not None else None


def _no_form(email: str, config: Config) -> str:
    return f"{email} has no form in round {config.settings.round}: check the address, or run clb forms"


class NotPlaceable(ValueError):
    """clb assign was given a file that is not an unplaced quarantined one, or an address with no form."""


def assign(space: Workspace, path: Path, email: str) -> str:
    """clb assign: a quarantined file no leader's form or address placed (the same bytes as ``path``: its
    quarantine copy, or the attachment saved anywhere) placed with the leader of ``email`` on the
    facilitator's word, with a note, shown beside them from now on (the outputs are built again); the
    audit trail records it. The leader's name."""
    from pipeline.problems import Code, problem
    from pipeline.state import assign_receipt, now, quarantined_receipts

    with opened(space) as engine:
        config = workspace_config(space, engine)
        round_id = config.settings.round
        found = _with_form(engine, config, email)
        if found is None:
            raise NotPlaceable(_no_form(email, config))
        leader, _ = found
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        receipts = quarantined_receipts(engine, sha256)
        if not receipts:
            raise NotPlaceable(f"{path} is not a quarantined file (clb assign takes a copy from outbox/quarantine/)")
        received_id, owner = receipts[-1]
        if owner is not None:
            raise NotPlaceable(f"{path} is already shown as {owner}'s")
        note = problem(Code.ASSIGNED, leader=leader.name, date=now()[:10]).record()
        assign_receipt(engine, received_id, leader.id, round_id, note)
        rebuild_outputs(space, [round_id], config, engine)  # the tracker shows it beside them now
        record(space, "assign", engine, sha256=sha256)
    return leader.name


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
    from pipeline.state import compact, end_erasure, pending_erasure, record_erasure

    with opened(space) as engine:
        leader = email.strip().casefold()
        found = find(space, engine, leader)
        pending = pending_erasure(engine, leader)
        if pending is not None:
            found.add_plan(space, pending)
        lines = describe(found)
        on_roster = any(item.id == found.email for item in load_config(space.config).roster)
        if not (found.found or found.files or on_roster or pending is not None) or not confirm(lines):
            return Forgotten([], [])
        record_erasure(engine, found.email, found.plan(space))  # before anything is removed
        left = erase(space, engine, found)
        _, held = rebuild_outputs(space, sorted(found.rounds), engine=engine)
        # an output open in another program still shows them: removed by the next run, once it is closed
        left += [space.root / entry["file"] for entry in held]
        if left:
            found.files = set(left)
            record_erasure(engine, found.email, found.plan(space))
            return Forgotten(lines, sorted(space.relative(path) for path in left))
        end_erasure(engine, found.email)
        compact(engine)  # the to-do, names and all, overwritten and vacuumed with the rest
        record(
            space,
            "forget",
            engine,
            leader=pseudonym(engine, found.email),  # the tombstone's hash: which erasure, never who
            rows=found.rows,
            files=len(found.files),
            rounds=sorted(found.rounds),
        )
    return Forgotten(lines, [])


def purge(
    space: Workspace,
    config: Config | None = None,
    today: dt.date | None = None,
    dry_run: bool = False,
    engine: Engine | None = None,
) -> list[str]:
    """Apply the retention policy (pipeline/privacy/retention.py): what is due is removed, and the
    outputs of a round whose returns went are built again without its user logs. Returns what was (or,
    with ``dry_run``, would be) removed, in words."""
    from pipeline.privacy.retention import apply, plan

    with opened(space, engine) as engine:
        config = config if config is not None else workspace_config(space, engine)
        steps = plan(space, engine, config, today or dt.date.today())
        if dry_run or not steps:
            return [step.describe() for step in steps]
        apply(space, engine, config, steps)
        gone = {step.round for step in steps if step.kind == "answers"}
        rebuilt = {step.round for step in steps if step.kind == "returns" and step.round} - gone
        if rebuilt:
            rebuild_outputs(space, sorted(rebuilt), config, engine)
        done = [{"kind": step.kind, "round": step.round, "files": len(step.files), "rows": step.rows} for step in steps]
        record(space, "purge", engine, steps=done)
    return [step.describe() for step in steps]


# ---------------------------------------------------------------- what the commands read


def check(space: Workspace, files: list[Path]) -> list[CheckResult]:
    """clb check: the nightly checks on files the facilitator names, recording nothing but the audit line."""
    from pipeline.intake.check import check_files

    results = check_files(space, load_config(space.config), files)
    record(space, "check", files=len(results), acceptable=sum(1 for result in results if result.acceptable))
    return results


@dataclasses.dataclass
class Status:
    """Where every leader of the round stands (clb status), named only if still on the roster."""

    partnership: str
    round: str
    rows: list[LeaderStatus]
    totals: dict[str, int]
    forgotten_on_roster: int
    erasures_unfinished: list[str]  # when each unfinished erasure started
    stage_text: str = ""  # where the round stands (pipeline.rounds)
    unplaced: list[Unplaced] = dataclasses.field(default_factory=list)  # files we could not place


def status(space: Workspace) -> Status | None:
    """Read-only: None when nothing has happened in the workspace yet."""
    from pipeline.mail.status import leader_status, totals, unplaced_files
    from pipeline.privacy.tombstones import forgotten_on, leave_out
    from pipeline.rounds import standing
    from pipeline.state import open_state_readonly, pending_erasures, round_closed

    config = load_config(space.config)
    engine = open_state_readonly(space.database)
    if engine is None:
        return None
    try:
        gone = forgotten_on(engine, [leader.id for leader in config.roster])
        config = leave_out(config, gone)  # named nowhere, on screen neither
        rows = leader_status(engine, config)
        settings = config.settings
        closed = round_closed(engine, settings.round)
        invited = any(row.invitation in ("drafted", "sent") for row in rows)
        _, words = standing(settings, closed.at if closed else "", closed.by if closed else "", invited)
        return Status(
            settings.partnership,
            settings.round,
            rows,
            totals(rows),
            len(gone),
            pending_erasures(engine),
            words,
            unplaced_files(engine, settings.round),
        )
    finally:
        engine.dispose()


def audit_entries(space: Workspace) -> list[Entry]:
    from pipeline.privacy.audit import entries

    return list(entries(space))


def verify_audit(space: Workspace) -> tuple[int, str | None]:
    from pipeline.privacy.audit import verify

    return verify(space)
