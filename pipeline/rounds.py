"""A round's life, as plain rules: open from `clb forms`, chasing once invitations have gone, closed by
`clb close` or by the first nightly run after the deadline and its grace (``close_after_days``). Closing
runs a final intake, publishes the partners' figures (by default the only time they are published) and
makes the letters final. A return after the close is still taken in and shown to the facilitator; it
reaches partners only by the rule for later editions (pipeline/reports/publication.py)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pipeline.settings import Settings


class Stage(StrEnum):
    OPEN = "open"  # forms issued, no invitation sent yet
    CHASING = "chasing"  # invitations sent: returns come in, reminders go
    CLOSED = "closed"


def closes_on(settings: Settings) -> dt.date:
    """The last day of the round: the nightly run after it closes the round."""
    return settings.deadline + dt.timedelta(days=settings.close_after_days)


def due_to_close(settings: Settings, today: dt.date) -> bool:
    return today > closes_on(settings)


def deadline_problem(settings: Settings, today: dt.date) -> str | None:
    """Why forms cannot be issued with this deadline: one in the past would be printed on every form."""
    if settings.deadline >= today:
        return None
    return (
        f"the deadline {settings.deadline:%d %B %Y} (deadline: in config/partnership.yaml) is in the past, and "
        "every form would print it: write the date leaders should return their form by, as YYYY-MM-DD, then "
        "run clb forms again"
    )


def standing(settings: Settings, closed_at: str, closed_by: str, invited: bool) -> tuple[Stage, str]:
    """Where the round stands (``closed_at`` "" while open), and that in a sentence for the facilitator:
    what clb status and the night's report say."""
    if closed_at:
        return Stage.CLOSED, stage_text(settings, Stage.CLOSED, closed_at[:10], closed_by)
    now_at = Stage.CHASING if invited else Stage.OPEN
    return now_at, stage_text(settings, now_at, "", "")


def publishes(settings: Settings, closed: bool) -> bool:
    """Whether partners' figures may get a new edition now: after the close, or every night by choice."""
    return closed or settings.shareable == "nightly"


def stage_text(settings: Settings, stage_now: Stage, closed_on: str, by: str) -> str:
    """Where the round stands, in a sentence for the facilitator (clb status, the night's report)."""
    last = closes_on(settings)
    grace = f" and {settings.close_after_days} days' grace" if settings.close_after_days else ""
    if stage_now is Stage.CLOSED:
        return (
            f"The round closed on {closed_on} ({by}): partners' figures are final; later returns are still taken "
            "in. Send the letters: clb send letters."
        )
    when = (
        "Partners' figures are published every night the rules allow (shareable: nightly)."
        if settings.shareable == "nightly"
        else "Partners' figures and the letters wait for the close."
    )
    if stage_now is Stage.OPEN:
        return f"The round is open; no invitation has gone yet: clb send invitations. {when}"
    return (
        f"The round is open until {last:%d %B %Y} (the deadline{grace}); the first nightly run after it closes it, "
        f"or clb close sooner. {when}"
    )
