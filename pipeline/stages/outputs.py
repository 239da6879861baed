"""The outputs (comparison editions, the briefing, letters, the round page) built from the state: after
a night, again from nothing for rounds a leader was removed from, and after mail was sent."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.config import Config
from pipeline.privacy.audit import record
from pipeline.stages.base import opened, stamped, workspace_config
from pipeline.state import Engine
from pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pipeline.contracts import Headline, Held, RunReport
    from pipeline.intake.batch import Night


def build_outputs(
    space: Workspace,
    night: Night,
    config: Config | None = None,
    today: dt.date | None = None,
    engine: Engine | None = None,
) -> RunReport:
    """Both comparison editions, the briefing, the letters that changed and the round page; then the
    night's report, which lists them with the round's figures, published as the run's summary and the
    latest."""
    from pipeline.night import finish_report

    with opened(space, engine) as engine:
        config = config if config is not None else workspace_config(space, engine)
        outputs, headline, held = write_current(space, engine, config, night.run_id, today)
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
        for round_id in sorted(set(rounds) - {current}):
            delete_meta(engine, f"outputs:{round_id}")
            settings = config.settings.model_copy(update={"round": round_id})
            made = write_outputs(space, engine, dataclasses.replace(config, settings=settings), run_id)
            written += made.paths
            held += made.held
        delete_meta(engine, f"outputs:{current}")
        delete_meta(engine, f"round-page:{current}")  # files it links to may be gone
        paths, _, more = write_current(space, engine, config, run_id)
        written += paths
        held += more
    return written, held


def refresh_outputs(space: Workspace, engine: Engine, config: Config, today: dt.date | None = None) -> None:
    """The round's outputs made again after mail was sent or marked sent, so that the round page and
    the response tracker say at once what clb status says (only what changed is written)."""
    write_current(space, engine, config, stamped("sent"), today)


def write_current(
    space: Workspace, engine: Engine, config: Config, run_id: str, today: dt.date | None = None
) -> tuple[list[str], Headline, list[Held]]:
    """The current round's outputs (``reports.build.write_outputs``), then the round page from what they
    were made of: what was written, the round's headline figures, and the outputs held open."""
    from pipeline.reports.build import write_outputs
    from pipeline.stages.page import write_round_page

    made = write_outputs(space, engine, config, run_id, today)
    page = write_round_page(space, engine, config, made.full, made.shareable, today)
    return [*made.paths, *([page] if page else [])], made.headline, made.held
