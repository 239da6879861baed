"""When partners' figures may change: the defence against comparing editions.

Partners keep every shareable edition they receive, so what one edition adds to the last must be as safe
as a table on its own. Each perspective is published on its own, from a snapshot of responses: its
first snapshot only when the counts of all its answers pass ``suppress.safe``, and a new one only when
the answers that changed since the last (new returns, and the new answers of replaced ones) number at
least k and pass ``safe`` themselves. Every published count is then a sum of such layers, each safe, and
a difference between two editions is a layer or a sum of layers: no comparison of editions pins a leader
down. Between publications a perspective is rebuilt from the same snapshot, so the edition does not
change at all. The price: partners' figures trail the facilitator's until enough varied answers have
come in, which the About sheet says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from pipeline.reports.suppress import safe


def perspective_key(round_id: str, number: int) -> str:
    """The publications of one perspective of a round are recorded under this key."""
    return f"{round_id}#perspective-{number}"


def counts(answers: Iterable[str | None]) -> list[int]:
    """How many gave each answer that was given (``safe`` needs no zeros, nor which answer is which)."""
    return list(Counter(answer for answer in answers if answer is not None).values())


def changed_leaders(current: Mapping[str, int], published: Mapping[str, int]) -> list[str]:
    """The leaders whose counted response differs between two snapshots (leader id -> response id)."""
    return sorted(
        leader for leader in current.keys() | published.keys() if current.get(leader) != published.get(leader)
    )


def may_publish(current: Mapping[str, tuple[int, str | None]], published: Mapping[str, int] | None, k: int) -> bool:
    """Whether one perspective may show ``current`` (leader id -> (response id, answer)) to partners who
    have seen ``published`` (leader id -> response id), or nothing yet."""
    answered = {leader: item for leader, item in current.items() if item[1] is not None}
    if published is None:
        return safe(counts(answer for _, answer in answered.values()), k)
    changed = changed_leaders({leader: rid for leader, (rid, _) in answered.items()}, published)
    layer = [answered[leader][1] for leader in changed if leader in answered]
    return len(changed) >= k and safe(counts(layer), k)
