"""Anonymity for the shareable edition: which counts partners may see.

The threat (docs/outputs.md, "Anonymity"): a partner knows the roster (who belongs to which organisation), their
own answers, every shareable edition they have received, and possibly the answers of one colleague who
shares theirs; assume too that they know who has responded. Nothing shown may fix any other leader's
answer on any perspective: for every leader and perspective, at least two answers must stay consistent
with everything shown.

Counts are shown for blocks of leaders that the attacker cannot tell apart: the partnership's respondents
in an edition, and (``publication``) the leaders who changed between two editions. A member's answer is
fixed exactly when, once the (at most two) known answers are taken out, the rest of the block all share
one answer. Hence ``safe``: a block's counts may be shown when

1. at least k of its leaders answered (k = ``min_group_size``), and
2. every answer given in it is *not* given by at least MARGIN (= 3) of them: with two answers known to the
   attacker, at least one unknown leader still answered something else. This is group (class) disclosure,
   "all respondents of a group share one category", with an allowance for the two answers the attacker
   holds. A block that fails is withheld whole: one withheld cell would come back from the block's size.
"""

from __future__ import annotations

from collections.abc import Sequence

MARGIN = 3  # the attacker's own answer, one colleague's, and one more
HIDDEN = "[c]"  # what a withheld figure shows in a cell (a row holds None: ``figures.FigureRow``)


def safe(counts: Sequence[int], k: int) -> bool:
    """Whether a block's exact counts may be shown: enough respondents, and no answer so common that the
    rest of the block, less two known answers, would all share it."""
    total = sum(counts)
    return total >= k and all(total - count >= MARGIN for count in counts if count > 0)
