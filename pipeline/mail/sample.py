"""A sample to the facilitator first (`clb send KIND --test-to ME`): one leader's message as it would go
now, addressed to the facilitator and titled as a test, through the SMTP server when one is set, else as
a draft in outbox/mail/test/. Nothing is recorded: the sent log, the tracker and status never see it."""

from __future__ import annotations

import datetime as dt
import email.utils

from pipeline.config import Config
from pipeline.mail.compose import sender
from pipeline.mail.sending import plan
from pipeline.mail.transport import (
    SAMPLE_OF,
    SAMPLES,
    EmlTransport,
    PermanentMailError,
    SmtpTransport,
    TransientMailError,
)
from pipeline.settings import EMAIL_RE
from pipeline.state import Engine
from pipeline.workspace import Workspace


def send_sample(
    space: Workspace, engine: Engine, config: Config, kind: str, to: str, today: dt.date
) -> tuple[str, str]:
    """(whose message it is, what happened); ("", why) when nobody would get this kind now. Raises
    ValueError for an address that is not one."""
    if not EMAIL_RE.match(to):
        raise ValueError(f"--test-to {to!r} is not an email address like name@example.org")
    outgoing, skipped, _ = plan(kind, space, engine, config, today, resend=True, early=True)
    if not outgoing:
        return "", f"no {kind} to sample: " + (skipped[0]["why"] if skipped else "nobody would get one")
    first = outgoing[0]
    mail, _ = first.build()
    del mail["To"]
    mail["To"] = email.utils.formataddr((config.settings.facilitator.name, to))
    subject = str(mail["Subject"])
    del mail["Subject"]
    mail["Subject"] = f"[test: as {first.leader.name} would get it] {subject}"
    mail[SAMPLE_OF] = first.leader.email  # clb forget finds the sample by it; retention clears samples
    settings = config.settings.mail
    transport = SmtpTransport(settings) if settings.host else EmlTransport(space.outbox / "mail" / SAMPLES)
    try:
        said = transport.send(mail, sender(config)[1], to)
    except (PermanentMailError, TransientMailError) as exc:
        said = f"not sent: {exc}"
    finally:
        transport.close()
    return first.leader.name, said
