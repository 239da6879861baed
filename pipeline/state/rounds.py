"""A round's close, as the state records it: when, and how (by `clb close`, or by the nightly run once
the deadline and its grace had passed). A round is closed once; later returns are still taken in."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Engine

from pipeline.state.schema import get_meta, now, set_meta


@dataclass(frozen=True)
class Closed:
    """When a round closed, and what closed it ("clb close" or "the deadline")."""

    at: str
    by: str


def _key(round_id: str) -> str:
    return f"round-closed:{round_id}"


def round_closed(engine: Engine, round_id: str) -> Closed | None:
    """The round's close, or None while it is open."""
    kept = get_meta(engine, _key(round_id))
    if kept is None:
        return None
    found = json.loads(kept)
    return Closed(str(found["at"]), str(found["by"]))


def close_round(engine: Engine, round_id: str, by: str) -> Closed:
    """Record the round's close, once: closing a closed round keeps its first close."""
    earlier = round_closed(engine, round_id)
    if earlier is not None:
        return earlier
    closed = Closed(now(), by)
    set_meta(engine, _key(round_id), json.dumps({"at": closed.at, "by": closed.by}))
    return closed
