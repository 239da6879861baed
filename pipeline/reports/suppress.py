"""Anonymity for the shareable edition: which figures partners may see.

Leaders tick "a bit panicked" honestly only if their partners cannot work out who did. Two rules, applied
to each perspective's table of groups (organisations) by categories, with the partnership's totals:

1. Primary: a count of 1 to k-1 leaders is hidden (k = the configured minimum group size). Zeros show.
   An organisation with fewer than k respondents is not shown on its own: such organisations are pooled
   into one "Other organisations" row, and if the pool itself has 1 to k-1 respondents, the smallest
   shown organisation joins the pool.
2. Secondary: a hidden figure must not be recoverable by subtraction from its row or column totals. In
   any row or column holding exactly one hidden figure, the smallest other non-zero figure is hidden too,
   and this repeats until no row or column has a lone hidden figure.
"""

from __future__ import annotations

import pandas as pd

OTHER = "Other organisations"


def pool_small_groups(sizes: dict[str, int], k: int) -> dict[str, str]:
    """Each organisation's row label: its own name, or OTHER when it is too small to show alone."""
    small = {org for org, n in sizes.items() if n < k}
    shown = sorted((org for org in sizes if org not in small), key=lambda org: (sizes[org], org))
    while small and 0 < sum(sizes[org] for org in small) < k and shown:
        small.add(shown.pop(0))
    return {org: (OTHER if org in small else org) for org in sizes}


def hide(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """A mask (True = hidden) for a table of counts whose row and column totals are published."""
    values = table.to_numpy()
    mask = (values > 0) & (values < k)
    changed = True
    while changed:
        changed = False
        for axis in (0, 1):
            lines = range(mask.shape[0]) if axis == 0 else range(mask.shape[1])
            for line in lines:
                hidden = mask[line, :] if axis == 0 else mask[:, line]
                if hidden.sum() != 1:
                    continue
                row = values[line, :] if axis == 0 else values[:, line]
                candidates = [(row[i], i) for i in range(len(row)) if not hidden[i] and row[i] > 0]
                if not candidates:
                    candidates = [(row[i], i) for i in range(len(row)) if not hidden[i]]
                if not candidates:
                    continue
                _, index = min(candidates)
                if axis == 0:
                    mask[line, index] = True
                else:
                    mask[index, line] = True
                changed = True
    return pd.DataFrame(mask, index=table.index, columns=table.columns)
