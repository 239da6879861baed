"""When the shareable edition may change: the defence against comparing two nightly refreshes.

If the shareable figures followed every return, a partner could compare yesterday's edition with today's
and read one late leader's answers off the difference. So the shareable edition is published from a
snapshot of responses, and a new snapshot replaces it only when at least k leaders' responses differ from
the last published one (new leaders, or leaders whose answers were replaced). Between publications the
shareable file is rebuilt from the same snapshot, so it does not change at all. The facilitator edition
always shows everything. The price: partners' figures can trail the facilitator's by up to k-1 returns.
"""

from __future__ import annotations


def changed_leaders(current: dict[str, int], published: dict[str, int]) -> int:
    """How many leaders' counted responses differ between two snapshots (leader id -> response id)."""
    return sum(1 for leader in current.keys() | published.keys() if current.get(leader) != published.get(leader))


def should_publish(current: dict[str, int], published: dict[str, int] | None, k: int) -> bool:
    """A first publication needs k responses; after that, k changed responses."""
    if published is None:
        return len(current) >= k
    return changed_leaders(current, published) >= k
