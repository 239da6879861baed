"""What every job shares: the workspace's database opened once per job (or the engine a caller
already has), the config without forgotten leaders, how a step is run, the clock of a job's steps, the
time in names, and the leaders a command names (addresses, or the pseudonyms the flows are given)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from pipeline.config import Config, load_config
from pipeline.state import Engine, database
from pipeline.workspace import Workspace

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


class Clock:
    """Seconds per step, into ``timings`` when given."""

    def __init__(self, timings: Timings | None) -> None:
        self.timings, self.mark = timings, time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[step] = now - self.mark
        self.mark = now


def pseudonyms(space: Workspace, emails: Sequence[str]) -> dict[str, str]:
    """Each address (or 'all') as Prefect may be given it: a salted pseudonym (``issue_forms`` reads it)."""
    from pipeline.privacy.tombstones import pseudonym, salt

    with opened(space) as engine:
        key = salt(engine)
        return {email if email == "all" else pseudonym(engine, email, key): email for email in emails}


def moment() -> str:
    """Now, as it goes into a name: ``20261203T201500``."""
    from pipeline.state import now

    return now().replace(":", "").replace("-", "")[:15]


def stamped(prefix: str) -> str:
    """The id of work done outside a night (``rebuilt-20261203T201500``): what did it, and when."""
    return f"{prefix}-{moment()}"


def addresses(engine: Engine, config: Config, given: Sequence[str]) -> list[str]:
    """Roster addresses from what a command was given: addresses, or their pseudonyms (``pseudonyms``)."""
    from pipeline.privacy.tombstones import pseudonym, salt

    if not given:
        return []
    key = salt(engine)
    by_pseudonym = {pseudonym(engine, leader.id, key): leader.id for leader in config.roster}
    return [by_pseudonym.get(item, item) for item in given]


def draft_stems(config: Config) -> dict[str, str]:
    """Each leader's drafts' name, by address: ``<organisation>/<name>``, as their form and letter."""
    from pipeline.names import unique_stems

    return unique_stems((leader.email.casefold(), leader.organisation, leader.name) for leader in config.roster)
