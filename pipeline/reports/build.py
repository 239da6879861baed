"""The outputs of a nightly run, from the state: both comparison editions, the letters, the index.

Called after intake has committed, so everything here is derived and can always be made again: a run
killed while writing outputs loses nothing, and the next run writes them anew.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from jinja2 import Environment

from pipeline.config import Config
from pipeline.contracts import Headline, Held, Withheld
from pipeline.failures import check_workbook, doing
from pipeline.files import atomic_write, settle, share, waiting_beside, write_output
from pipeline.names import safe_segment, unique_stems
from pipeline.reports.aggregate import Totals, tally
from pipeline.reports.briefing import Row, briefing_paths, render_briefing, rows_of
from pipeline.reports.data import Answer, RoundData, whom_counted, withheld_rule
from pipeline.reports.letters import (
    LETTER_TEMPLATES,
    Context,
    inputs_hash,
    letter_context,
    letter_templates,
    load_practices,
    render_letter,
    template_text,
)
from pipeline.reports.publication import ERASED, Edition, may_publish, perspective_key
from pipeline.rounds import closes_on, publishes, standing
from pipeline.state import (
    Engine,
    IssuedLeader,
    LetterRecord,
    Publication,
    ResponseRow,
    accepted_notes,
    answers_of,
    current_answers,
    get_meta,
    kept_round_figures,
    latest_responses_before,
    leaders_of_round,
    letter_hashes,
    mail_records,
    now,
    publication_history,
    quarantined_files,
    record_letters,
    record_publication,
    response_rows,
    round_closed,
    round_first_seen,
    set_meta,
)
from pipeline.templating import environment
from pipeline.workspace import Workspace

if TYPE_CHECKING:  # the workbook libraries load only on a night that writes workbooks
    from pipeline.reports.figures import Figure


def _answers(rows: list[ResponseRow], leaders: dict[str, IssuedLeader]) -> list[Answer]:
    found = []
    for row in rows:
        leader = leaders.get(row.leader_id)
        found.append(
            Answer(
                leader_id=row.leader_id,
                name=leader.name if leader else row.leader_id,
                organisation=leader.organisation if leader else "(unknown)",
                answers=row.answers,
                log=row.log,
                received_at=row.received_at,
                sha256=row.sha256,
                file=row.file,
            )
        )
    return found


def round_data(engine: Engine, config: Config, run_id: str) -> tuple[RoundData, RoundData]:
    """The facilitator's data and the shareable edition's, publishing a new edition when allowed."""
    settings, k = config.settings, config.settings.min_group_size
    leaders = leaders_of_round(engine, settings.round)
    rows = response_rows(engine, settings.round)
    answers = _answers(rows, leaders)
    closed = round_closed(engine, settings.round)
    shown = published_editions(engine, config, run_id, rows, publishes(settings, closed is not None))
    answered = {
        p.number: sum(1 for a in answers if a.answers.get(p.number) is not None) for p in config.instrument.perspectives
    }
    full = RoundData(
        partnership=settings.partnership,
        round=settings.round,
        run_id=run_id,
        generated_at=now(),
        min_group_size=k,
        instrument=config.instrument,
        answers=answers,
        roster=list(config.roster),
        issued=leaders,
        quarantined=quarantined_files(engine, settings.round),
        earlier=latest_responses_before(engine, settings.round),
        mail=mail_states(engine, settings.round),
        senders=accepted_notes(engine, settings.round, "sent-by-another", "entered"),
        rounds=earlier_rounds(engine, settings.round),
        published_counts=shown.counts,
        published_respondents=shown.respondents,
        counted=shown.counted,
        answered=answered,
        returned=len(answers),
        closed_at=closed.at if closed else "",
        closed_by=closed.by if closed else "",
        closes_on=closes_on(settings).isoformat(),
        publishing=settings.shareable,
        published_note=(
            f"Partners' figures as last published on {shown.latest.published_at[:10]}, from "
            f"{shown.respondents} leaders' responses."
            if shown.latest
            else ""
        ),
    )
    shareable = dataclasses.replace(
        full,
        run_id=shown.latest.run_id if shown.latest else run_id,
        generated_at=shown.latest.published_at if shown.latest else "2000-01-01T00:00:00+00:00",
        answers=[],
        roster=[],
        issued={},
        quarantined=[],
        earlier={},
        mail={},
        senders={},
        counted={},
    )
    return full, shareable


def earlier_rounds(engine: Engine, round_id: str) -> dict[str, Totals]:
    """Each earlier round's totals per row and answer: counted from its leaders' current answers, or,
    once retention has removed those, as kept in round_figures."""
    counted = {other: tally(sets) for other, sets in current_answers(engine, other_than=round_id).items()}
    return kept_round_figures(engine, round_id) | counted


def mail_states(engine: Engine, round_id: str) -> dict[str, dict[str, str]]:
    """Each leader's latest message of each kind, in the words of the mail log (drafted, sent, deferred,
    refused): what the round page and the response tracker say, never 'sent' for a draft."""
    states: dict[str, dict[str, str]] = {}
    for record in mail_records(engine, round_id):  # in the order they were made: the latest wins
        if record.status != "pending":
            states.setdefault(record.leader_id, {})[record.kind] = record.status
    return states


@dataclasses.dataclass
class Shown:
    """What partners are shown of the round: per row, the counts of its latest edition; how many leaders
    those count; each leader's answers as counted there (for their letter); the latest edition."""

    counts: dict[int, dict[str, int]]
    respondents: int
    counted: dict[str, dict[int, str | None]]
    latest: Publication | None


def published_editions(
    engine: Engine, config: Config, run_id: str, rows: list[ResponseRow], publishing: bool = True
) -> Shown:
    """Each row (perspective) from its own latest edition, publishing a new one where ``may_publish``
    allows it against every edition partners have seen (pipeline/reports/publication.py); with
    ``publishing`` false (the round is open and figures wait for its close), only what was published."""
    round_id, k = config.settings.round, config.settings.min_group_size
    current = {row.leader_id: row.id for row in rows}
    values_by_id: dict[int, dict[int, str | None]] = {row.id: row.answers for row in rows}
    histories = {
        p.number: publication_history(engine, perspective_key(round_id, p.number))
        for p in config.instrument.perspectives
    }
    older = {
        rid for history in histories.values() for h in history for rid in h.response_ids.values() if rid is not None
    }
    values_by_id |= answers_of(engine, {rid for rid in older if rid is not None} - values_by_id.keys())
    shown = Shown({}, 0, {}, None)
    members: set[str] = set()
    for p in config.instrument.perspectives:
        history = histories[p.number]
        values = {rid: answers.get(p.number) for rid, answers in values_by_id.items()}
        editions = [Edition(h.response_ids, h.counts if h.counts is not None else _counted(h, values)) for h in history]
        now_counted = {leader: (rid, values[rid]) for leader, rid in current.items()}
        if publishing and may_publish(editions, now_counted, values, k):
            chosen = {leader: rid for leader, (rid, answer) in now_counted.items() if answer is not None}
            tally = dict(Counter(answer for _, answer in now_counted.values() if answer is not None))
            record_publication(engine, perspective_key(round_id, p.number), run_id, chosen, tally)
            history = [*history, Publication(run_id, now(), dict(chosen), tally)]
            editions.append(Edition(dict(chosen), tally))
        if not history:
            continue
        latest = history[-1]
        shown.counts[p.number] = dict(editions[-1].counts)
        members |= set(latest.response_ids)
        for leader, rid in latest.response_ids.items():
            if rid is not None and not leader.startswith(ERASED):
                shown.counted.setdefault(leader, {})[p.number] = values.get(rid)
        if shown.latest is None or latest.published_at > shown.latest.published_at:
            shown.latest = latest
    shown.respondents = len(members)
    return shown


def _counted(publication: Publication, values: dict[int, str | None]) -> dict[str, int]:
    """The counts of an edition recorded before counts were kept, from its responses' answers."""
    found = (values.get(rid) for rid in publication.response_ids.values() if rid is not None)
    return dict(Counter(answer for answer in found if answer is not None))


def report_paths(round_id: str) -> dict[str, str]:
    folder = f"outbox/reports/{safe_segment(round_id)}"
    return {
        "facilitator": f"{folder}/comparison-{safe_segment(round_id)}-facilitator.xlsx",
        "shareable": f"{folder}/comparison-{safe_segment(round_id)}-shareable.xlsx",
        "figures": f"{folder}/comparison-{safe_segment(round_id)}-shareable.csv",
    }


def write_workbooks(
    space: Workspace, full: RoundData, shareable: RoundData, figures: list[Figure]
) -> tuple[list[str], list[Held]]:
    """Both editions and the tidy figures, each checked whole before it replaces the last; with those
    another program held open, whose new editions went beside them (files.write_output)."""
    from pipeline.reports.comparison import facilitator_workbook, shareable_workbook
    from pipeline.reports.figures import figures_csv

    paths = report_paths(full.round)
    held: list[Held] = []

    def place(path: str, data: bytes, shared: bool) -> None:
        written = (
            _write_shared(space.root / path, data, space.outbox) if shared else write_output(space.root / path, data)
        )
        if written is not None:
            held.append({"file": path, "written_to": written.relative_to(space.root).as_posix()})

    with doing(f"writing {paths['facilitator']}"):
        data = facilitator_workbook(full)
        check_workbook(data, paths["facilitator"])
        place(paths["facilitator"], data, shared=False)
    with doing(f"writing {paths['shareable']}"):
        data = shareable_workbook(shareable, figures)
        check_workbook(data, paths["shareable"])
        place(paths["shareable"], data, shared=True)
    with doing(f"writing {paths['figures']}"):
        place(paths["figures"], figures_csv(figures), shared=True)
    written = [paths["facilitator"], paths["shareable"], paths["figures"]]
    return _as_written(written, held), held


def _as_written(paths: list[str], held: list[Held]) -> list[str]:
    """The paths as written: a held file's new edition where it went."""
    beside = {entry["file"]: entry["written_to"] for entry in held}
    return [beside.get(path, path) for path in paths]


def _write_shared(target: Path, data: bytes, outbox: Path) -> Path | None:
    """A shareable output: written only when it changed (partners compare editions by their bytes),
    and readable by others (pipeline.files.share), as the facilitator passes it on. Where it went
    instead, when another program held it (files.write_output)."""
    if target.exists() and target.read_bytes() == data and not waiting_beside(target):
        share(target, outbox)
        return None
    return write_output(target, data, shared_from=outbox)


def write_briefing(
    space: Workspace, engine: Engine, config: Config, shareable: RoundData, templates: Environment
) -> list[str]:
    """The partnership briefing (``reports.briefing``) when it changed, and its PDF where a browser can
    print it once partners' figures are published (before, the page only says they are not, and a
    browser's start is seconds of the night); both shared as the shareable workbook is. What was written."""
    from pipeline.pdf import PdfFailed, browser, html_to_pdf

    html_path, pdf_path = briefing_paths(shareable.round)
    instrument, k = config.instrument, shareable.min_group_size
    waiting = not publishes(config.settings, bool(shareable.closed_at))
    page = render_briefing(
        templates,
        instrument,
        shareable.partnership,
        shareable.round,
        rows_of(instrument, shareable.published_counts, k),
        load_practices(space.config / "practices.yaml", instrument),
        whom_counted(shareable),
        withheld_rule(shareable),
        shareable.closed_at[:10],
        _earlier_published(engine, config),
        waiting=waiting,
    ).encode("utf-8")
    html, pdf = space.root / html_path, space.root / pdf_path
    written: list[str] = []
    if not (html.exists() and html.read_bytes() == page):
        with doing(f"writing {html_path}"):
            _write_shared(html, page, space.outbox)
        written.append(html_path)
        pdf.unlink(missing_ok=True)  # never a PDF of another edition beside it
    program = None if waiting else browser()
    if program is not None and not pdf.exists():
        try:
            _write_shared(pdf, html_to_pdf(page, program), space.outbox)
            written.append(pdf_path)
        except PdfFailed as exc:
            logging.getLogger("clb").warning(
                "the briefing's PDF was not made (%s): print %s from a browser", exc, html_path
            )
    return written


def _earlier_published(engine: Engine, config: Config) -> tuple[str, list[Row]] | None:
    """The last round before this one whose partners' figures were published, and its rows."""
    current = config.settings.round
    seen = round_first_seen(engine)
    for round_id in sorted(
        (r for r in seen if r != current and seen[r] <= seen.get(current, "~")), key=seen.__getitem__, reverse=True
    ):
        counts = {}
        for p in config.instrument.perspectives:
            history = publication_history(engine, perspective_key(round_id, p.number))
            if history and history[-1].counts is not None:
                counts[p.number] = history[-1].counts
        if counts:
            return round_id, rows_of(config.instrument, counts, config.settings.min_group_size)
    return None


def partnership_context(figures: list[Figure]) -> dict[tuple[int, str], Context]:
    """The partnership figures a letter may quote: those the shareable edition shows, zeros aside."""
    return {
        (figure["perspective"], figure["category"]): Context(
            figure["count"], figure["respondents"] or 0, figure["answered_so_far"]
        )
        for figure in figures
        if not figure["withheld"] and figure["count"]
    }


def write_letters(
    space: Workspace,
    engine: Engine,
    config: Config,
    full: RoundData,
    shareable: RoundData,
    figures: list[Figure],
    today: dt.date,
    templates: Environment,
) -> list[str]:
    """Letters for leaders whose letter would change (the round page lists them all)."""
    source, letter = template_text(templates), letter_templates(templates)
    practices = load_practices(space.config / "practices.yaml", config.instrument)
    shown = partnership_context(figures)
    stored = letter_hashes(engine, full.round)
    folder = f"outbox/letters/{safe_segment(full.round)}"
    stems = unique_stems((a.leader_id, a.organisation, a.name) for a in full.answers)
    written: list[LetterRecord] = []
    outputs: list[str] = []
    counted = full.counted
    for answer in full.answers:
        context = letter_context(
            answer,
            config.instrument,
            practices,
            full.partnership,
            full.round,
            today,
            shown,
            full.earlier.get(answer.leader_id),
            counted.get(answer.leader_id),
        )
        stem = stems[answer.leader_id]
        html_path, text_path = f"{folder}/{stem}.html", f"{folder}/{stem}.txt"
        digest = inputs_hash({**context, "date": None}, source)
        if (
            stored.get(answer.leader_id) == digest
            and (space.root / html_path).exists()
            and (space.root / text_path).exists()
        ):
            continue
        with doing(f"writing the letter {html_path}", public=f"writing letter {len(written) + 1} of the round"):
            page, text = render_letter(context, letter)
            atomic_write(space.root / html_path, page.encode("utf-8"), durable=False)
            atomic_write(space.root / text_path, text.encode("utf-8"), durable=False)
        written.append(LetterRecord(answer.leader_id, digest, html_path, html_path))
        outputs += [html_path, text_path]
    settle([space.root / path for path in outputs])  # on the disk before the state says they are written
    record_letters(engine, full.round, written)
    return outputs


class Written(NamedTuple):
    """What ``write_outputs`` wrote: the paths (workspace-relative), the round's headline figures, the
    outputs another program held open, whose new editions went beside them, and what they were made from
    (the facilitator's data and partners', for the round page)."""

    paths: list[str]
    headline: Headline
    held: list[Held]
    full: RoundData
    shareable: RoundData


def write_outputs(
    space: Workspace, engine: Engine, config: Config, run_id: str, today: dt.date | None = None
) -> Written:
    """Everything a nightly run writes for people to read. A night with nothing new writes nothing,
    unless an earlier edition still waits beside a file that was held open."""
    full, shareable = round_data(engine, config, run_id)
    returned = {a.leader_id for a in full.answers}
    templates = environment(space.root)
    key = _fingerprint(space, config, full, shareable, templates)
    stored = get_meta(engine, f"outputs:{full.round}")
    paths = report_paths(full.round)
    briefing = briefing_paths(full.round)[0]
    unchanged = (
        stored == key
        and (space.root / briefing).exists()
        and all((space.root / p).exists() and not waiting_beside(space.root / p) for p in paths.values())
    )
    kept = get_meta(engine, f"outputs-withheld:{full.round}")
    outputs: list[str] = []
    held: list[Held] = []
    withheld: Withheld
    if unchanged and kept:  # a night with nothing new rewrites nothing, and loads no workbook library
        withheld = json.loads(kept)
    else:
        from pipeline.reports.figures import shareable_figures, withheld_share

        figures = shareable_figures(shareable)
        hidden, total = withheld_share(figures)
        withheld = {"withheld": hidden, "figures": total}
        if not unchanged:
            outputs, held = write_workbooks(space, full, shareable, figures)
            outputs += write_briefing(space, engine, config, shareable, templates)
            outputs += write_letters(
                space, engine, config, full, shareable, figures, today or dt.date.today(), templates
            )
        set_meta(engine, f"outputs-withheld:{full.round}", json.dumps(withheld))
        set_meta(engine, f"outputs:{full.round}", key)
    invited = any(kinds.get("invitation") in ("drafted", "sent") for kinds in full.mail.values())
    now_at, words = standing(config.settings, full.closed_at, full.closed_by, invited)
    headline: Headline = {
        "round": full.round,
        "responses": len(full.answers),
        "roster": len(full.roster),
        "outstanding": sum(1 for leader in full.roster if leader.id not in returned),
        "quarantined_files": len({q["id"] for q in full.quarantined}),
        "shareable_responses": shareable.published_respondents,
        "shareable_published_at": shareable.generated_at if shareable.published_counts else None,
        "shareable_withheld": withheld,
        "facilitator_withheld": {"withheld": 0},
        "stage": now_at.value,
        "closes_on": full.closes_on,
        "closed_at": full.closed_at or None,
        "stage_text": words,
    }
    return Written(outputs, headline, held, full, shareable)


def _fingerprint(
    space: Workspace, config: Config, full: RoundData, shareable: RoundData, templates: Environment
) -> str:
    """Everything the outputs are made from: when it is unchanged, so are they."""
    sources = template_text(templates, LETTER_TEMPLATES)
    practices = space.config / "practices.yaml"
    payload = {
        "answers": [(a.leader_id, a.sha256) for a in full.answers],
        "published": sorted((number, sorted(tally.items())) for number, tally in shareable.published_counts.items()),
        "counted": sorted((leader, sorted(answers.items())) for leader, answers in full.counted.items()),
        "quarantined": sorted({(q["id"], q["leader_id"] or "") for q in full.quarantined}),
        "roster": [(leader.id, leader.name, leader.organisation) for leader in config.roster],
        "settings": config.settings.model_dump(mode="json"),
        "instrument": config.instrument.fingerprint(),
        "practices": practices.read_text(encoding="utf-8") if practices.exists() else "",
        "templates": sources,
        "earlier": sorted(full.earlier),
        "mail": sorted((leader, sorted(kinds.items())) for leader, kinds in full.mail.items()),
        "senders": sorted((leader, notes) for leader, notes in full.senders.items()),
        "rounds": sorted((r, sorted(totals.items())) for r, totals in full.rounds.items()),
        "closed": full.closed_at,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode("utf-8")).hexdigest()
