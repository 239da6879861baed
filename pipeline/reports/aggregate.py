"""The round's accepted answers as tables: distributions, never averages of the categories.

Comfortable, stretched and a bit panicked are ordered categories, not numbers: every table counts
leaders per category, and percentages are of the leaders who answered that perspective.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pipeline.instrument import Instrument
from pipeline.reports.data import Answer

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Answer", "Totals", "long_table", "percentages", "summary", "tally"]

Totals = dict[tuple[int, str], int]  # (row number, answer key) -> how many leaders gave it


def tally(answer_sets: Iterable[Mapping[Any, str | None]]) -> Totals:
    """How many leaders gave each answer in each row, from their answers (row number -> key). Plain
    Python: a night with nothing new, and retention, count without loading pandas."""
    counts: Totals = {}
    for answers in answer_sets:
        for number, key in answers.items():
            if key:
                counts[(int(number), key)] = counts.get((int(number), key), 0) + 1
    return counts


def long_table(answers: list[Answer], instrument: Instrument) -> pd.DataFrame:
    """One row per leader and perspective: leader_id, organisation, perspective, answer."""
    import pandas as pd

    rows = [
        {
            "leader_id": a.leader_id,
            "organisation": a.organisation,
            "perspective": p.number,
            "answer": a.answers.get(p.number),
        }
        for a in answers
        for p in instrument.perspectives
    ]
    frame = pd.DataFrame(rows, columns=["leader_id", "organisation", "perspective", "answer"])
    return frame.dropna(subset=["answer"])


def distribution(frame: pd.DataFrame, instrument: Instrument, by: list[str]) -> pd.DataFrame:
    """Counts per category for each group of ``by`` (always every category, zeros included)."""
    import pandas as pd

    keys = [t.key for t in instrument.ticks]
    if frame.empty:
        index = pd.MultiIndex.from_tuples([], names=by) if len(by) > 1 else pd.Index([], name=by[0])
        return pd.DataFrame(0, index=index, columns=keys)
    table = frame.groupby([*by, "answer"]).size().unstack("answer", fill_value=0)
    return table.reindex(columns=keys, fill_value=0).astype(int)


def summary(frame: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Per perspective: counts for every category, and the number who answered."""
    table = distribution(frame, instrument, ["perspective"]).reindex(
        [p.number for p in instrument.perspectives], fill_value=0
    )
    table["answered"] = table.sum(axis=1)
    return table


def percentages(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Each category as a share of those who answered (0 where nobody did)."""
    import pandas as pd

    answered = table["answered"].replace(0, pd.NA)
    return table[keys].div(answered, axis=0).fillna(0.0).astype(float)
