"""Messages, built from Jinja2 templates with an HTML body and a plain-text alternative.

Every recipient address comes from the roster by leader id (and a leader id from a form's token), never
from anything inside a returned file.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from email.message import EmailMessage

from jinja2 import Environment

from pipeline.config import Config, Leader
from pipeline.names import safe_segment
from pipeline.text import deadline_text

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
SUBJECTS = {  # {tool}: the instrument's code
    "invitation": "your {tool} self-assessment form",
    "reminder": "reminder: please return your {tool} form by {deadline}",
    "letter": "your {tool} feedback letter",
    "correction": "please correct your {tool} form",
    "notice": "your {tool} answers were replaced",
}


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes


def sender(config: Config) -> tuple[str, str]:
    settings = config.settings
    return settings.facilitator.name, settings.mail.sender or settings.facilitator.email


def subject(config: Config, kind: str) -> str:
    settings = config.settings
    what = SUBJECTS[kind].format(deadline=deadline_text(settings.deadline), tool=config.instrument.code)
    return f"{settings.partnership}, round {settings.round}: {what}"


def message(
    config: Config, kind: str, leader: Leader, html: str, text: str, attachment: Attachment | None
) -> EmailMessage:
    """One message to one roster leader."""
    name, address = sender(config)
    mail = EmailMessage()
    mail["From"] = email.utils.formataddr((name, address))
    mail["To"] = email.utils.formataddr((leader.name, leader.email))
    mail["Reply-To"] = config.settings.mail.reply_to or config.settings.facilitator.email
    mail["Subject"] = subject(config, kind)
    mail["Date"] = email.utils.formatdate(localtime=False)
    mail["Message-ID"] = email.utils.make_msgid(domain=address.rsplit("@", 1)[1])
    mail["X-CLB-Kind"] = kind
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    if attachment is not None:
        mail.add_attachment(attachment.data, maintype=XLSX[0], subtype=XLSX[1], filename=attachment.filename)
    return mail


def form_message(
    config: Config, templates: Environment, kind: str, leader: Leader, form: bytes, already: str = ""
) -> EmailMessage:
    """An invitation or a reminder, with the leader's own form attached; ``already``: what a reminder
    says they sent before (a return we could not accept)."""
    settings = config.settings
    context = {
        "name": leader.name,
        "partnership": settings.partnership,
        "round": settings.round,
        "deadline": deadline_text(settings.deadline),
        "facilitator_name": settings.facilitator.name,
        "facilitator_email": settings.facilitator.email,
        "min_group_size": settings.min_group_size,
        "already": already,
        **config.instrument.message_words(),
    }
    html = templates.get_template(f"{kind}.html.j2").render(**context)
    text = templates.get_template(f"{kind}.txt.j2").render(**context)
    return message(config, kind, leader, html, text, Attachment(form_filename(config, leader), form))


def form_filename(config: Config, leader: Leader) -> str:
    """The name a leader's form is attached under: "CLB0.01 form - Ada Lovelace.xlsx"."""
    return f"{safe_segment(config.instrument.code)} form - {safe_segment(leader.name)}.xlsx"
