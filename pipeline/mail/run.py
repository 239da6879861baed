"""One `clb send` run without the engine: choose the transport, plan, deliver, report."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from pipeline.config import Config
from pipeline.contracts import SendReport
from pipeline.mail.sending import deliver, plan, singular
from pipeline.mail.transport import EmlTransport, SmtpTransport
from pipeline.privacy.audit import record
from pipeline.state import open_state
from pipeline.workspace import Workspace


def mail_run(
    space: Workspace,
    config: Config,
    kind: str,
    dry_run: bool = False,
    resend: bool = False,
    today: dt.date | None = None,
    **timing: Any,
) -> SendReport:
    """Send (or, with no SMTP host, write as .eml) one kind of message; ``dry_run`` writes .eml files and
    records nothing."""
    engine = open_state(space.database)
    outgoing, skipped = plan(kind, space, engine, config, today or dt.date.today(), resend)
    folder = space.outbox / "mail"
    if dry_run:
        results = deliver(outgoing, EmlTransport(folder / "dry-run"), None, config, written=True, **timing)
        mode = f"dry run: .eml files in {folder / 'dry-run'}, nothing recorded"
    elif not config.settings.mail.host:
        results = deliver(outgoing, EmlTransport(folder), engine, config, written=True, **timing)
        mode = f"no SMTP host set: drafts to send yourself in {folder / singular(kind)}"
    else:
        mail = config.settings.mail
        results = deliver(outgoing, SmtpTransport(mail), engine, config, **timing)
        mode = f"sent through {mail.host}:{mail.port} ({mail.security})"
    outcome = Counter(result["status"] for result in results)
    how = "dry-run" if dry_run else ("drafts" if not config.settings.mail.host else "smtp")
    record(space, "send", kind=kind, mode=how, results=dict(sorted(outcome.items())), skipped=len(skipped))
    return {"kind": kind, "mode": mode, "results": results, "skipped": skipped}
