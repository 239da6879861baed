"""Anonymity for the shareable edition: which figures partners may see.

The threat (README, "Anonymity"): a partner knows the roster (who belongs to which organisation), their
own answers, every shareable edition they have received, and possibly the answers of one colleague who
shares theirs; assume too that they know who has responded. Nothing shown may fix any other leader's
answer on any perspective: for every leader and perspective, at least two answers must stay consistent
with everything shown.

Each perspective's figures are published as blocks of leaders, each block with its exact counts of
comfortable / stretched / a bit panicked: the partnership as a whole, the organisations shown on their
own, and the rest (the organisations withheld, whose counts together are the partnership's minus the
shown ones). Within a block the attacker cannot tell its members apart, so a member's answer is fixed
exactly when, once the (at most two) known answers are taken out, the rest of the block all share one
answer. Hence the rule, for every block of respondents that can be worked out from what is shown:

1. At least k respondents (k = ``min_group_size``); organisations with fewer are pooled first.
2. **No class disclosure**: every answer given by anyone in the block is *not* given by at least MARGIN
   (= 3) of its respondents. With 2 answers known to the attacker, at least one unknown leader of the
   block still answered something else, so no one's answer is fixed. This is the SDC Handbook's group
   (class) disclosure, "all respondents of a group share one category", with an allowance for the two
   respondents whose answers the attacker holds.
3. A block that fails is withheld whole (all three counts and shares): a single withheld cell could be
   recovered from the block's number of respondents. Organisations are withheld smallest first until the
   rest (the partnership minus the organisations shown) passes too; the partnership failing withholds
   the perspective.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

OTHER = "Other organisations"
MARGIN = 3  # the attacker's own answer, one colleague's, and one more


def pool_small_groups(sizes: dict[str, int], k: int) -> dict[str, str]:
    """Each organisation's row label: its own name, or OTHER when it is too small to show alone."""
    small = {org for org, n in sizes.items() if n < k}
    shown = sorted((org for org in sizes if org not in small), key=lambda org: (sizes[org], org))
    while small and 0 < sum(sizes[org] for org in small) < k and shown:
        small.add(shown.pop(0))
    return {org: (OTHER if org in small else org) for org in sizes}


def safe(counts: Sequence[int], k: int) -> bool:
    """Whether a block's exact counts may be shown: enough respondents, and no answer so common that the
    rest of the block, less two known answers, would all share it."""
    total = sum(counts)
    return total >= k and all(total - count >= MARGIN for count in counts if count > 0)


def shown_groups(groups: Mapping[str, Sequence[int]], k: int) -> set[str]:
    """The groups whose exact counts may be shown beside the partnership's: each safe on its own, and the
    rest (the partnership less those shown) safe or empty. None when the partnership itself is not safe."""
    width = len(next(iter(groups.values()), ()))
    total = [sum(counts[i] for counts in groups.values()) for i in range(width)]
    if not safe(total, k):
        return set()
    shown = sorted((g for g, counts in groups.items() if safe(counts, k)), key=lambda g: (sum(groups[g]), g))
    while shown:
        rest = [total[i] - sum(groups[g][i] for g in shown) for i in range(width)]
        if sum(rest) == 0 or safe(rest, k):
            break
        shown.pop(0)  # the smallest shown group joins the withheld rest
    return set(shown)
