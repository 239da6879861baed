"""Mail: one kind of message to every leader who should get it now (sent, or written as drafts), a
sample to the facilitator, and drafts the facilitator sent themselves."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline.config import Config
from pipeline.privacy.audit import record
from pipeline.stages.base import addresses, draft_stems, opened, workspace_config
from pipeline.stages.outputs import refresh_outputs
from pipeline.state import Engine
from pipeline.workspace import Workspace

if TYPE_CHECKING:
    from pipeline.contracts import SendReport


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
        if results and not dry_run:  # the round page and the tracker say what the mail log says, now
            refresh_outputs(space, engine, config, today)
        how = "dry-run" if dry_run else ("drafts" if not config.settings.mail.host else "smtp")
        record(space, "send", engine, kind=kind, mode=how, results=dict(sorted(outcome.items())), skipped=len(skipped))
    return {"kind": kind, "mode": mode, "results": results, "skipped": skipped, "warning": warning}


def send_test(space: Workspace, kind: str, to: str, today: dt.date | None = None) -> tuple[str, str]:
    """One sample of this kind as it would go now, to ``to`` (the facilitator) instead of the leader,
    recorded nowhere (``mail.sample``). Returns (whose message it is, what happened)."""
    from pipeline.mail.sample import send_sample

    with opened(space) as engine:
        config = workspace_config(space, engine)
        return send_sample(space, engine, config, kind, to, today or dt.date.today())


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
