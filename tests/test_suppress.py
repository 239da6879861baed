"""Shareable figures: no withheld count can be worked out from what is shown, by a patient attacker."""

from __future__ import annotations

import itertools

import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.reports.publication import changed_leaders, should_publish
from pipeline.reports.suppress import OTHER, hide, pool_small_groups

K = 3


def with_total(counts: list[list[int]]) -> pd.DataFrame:
    frame = pd.DataFrame(counts, columns=["comfortable", "stretched", "panicked"])
    frame.loc["total"] = frame.sum(axis=0)
    return frame


def feasible_values(frame: pd.DataFrame, mask: pd.DataFrame) -> dict[tuple[int, int], set[int]]:
    """Every value each hidden cell can take, given the shown cells, the row totals (each group's number of
    respondents is published) and that the groups add up to the partnership row. A withheld figure may be
    anything from 0 to its row's total."""
    values, hidden = frame.to_numpy(), mask.to_numpy()
    cells = [(r, c) for r in range(values.shape[0]) for c in range(values.shape[1]) if hidden[r, c]]
    row_totals = values.sum(axis=1)
    found: dict[tuple[int, int], set[int]] = {cell: set() for cell in cells}
    ranges = [range(int(row_totals[r]) + 1) for r, _ in cells]
    for guess in itertools.product(*ranges):
        trial = values.copy()
        for (r, c), v in zip(cells, guess, strict=True):
            trial[r, c] = v
        if (trial.sum(axis=1) != row_totals).any():
            continue
        if (trial[:-1].sum(axis=0) != trial[-1]).any():
            continue
        for cell, v in zip(cells, guess, strict=True):
            found[cell].add(v)
    return found


def test_a_lone_small_count_takes_a_partner_with_it():
    frame = with_total([[4, 1, 3], [5, 0, 3]])
    mask = hide(frame, K)
    assert mask.loc[0, "stretched"]  # the 1
    assert mask.to_numpy().sum(axis=1).tolist().count(1) == 0
    assert all(count != 1 for count in mask.to_numpy().sum(axis=0))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), min_size=3, max_size=3), min_size=1, max_size=3))
def test_no_withheld_count_can_be_worked_out(rows):
    assume(all(sum(row) >= K for row in rows))  # smaller groups are pooled before they reach a table
    frame = with_total(rows)
    mask = hide(frame, K)
    values = frame.to_numpy()
    assert ((values > 0) & (values < K) <= mask.to_numpy()).all(), "every small count is withheld"
    if mask.to_numpy().sum() > 4:
        return  # the brute force below would take too long; the line rule is still asserted above
    for cell, options in feasible_values(frame, mask).items():
        assert len(options) >= 2, f"cell {cell} of {rows} can be worked out"


def test_small_organisations_are_pooled_until_the_pool_is_big_enough():
    assert pool_small_groups({"A": 5, "B": 1, "C": 1, "D": 1}, K) == {"A": "A", "B": OTHER, "C": OTHER, "D": OTHER}
    labels = pool_small_groups({"A": 5, "B": 4, "C": 1}, K)
    assert labels == {"A": "A", "B": OTHER, "C": OTHER}  # 1 alone is too few: the smallest shown joins it
    assert pool_small_groups({"A": 3, "B": 3}, K) == {"A": "A", "B": "B"}


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(1, 8), min_size=1, max_size=6))
def test_every_shown_group_and_the_pool_have_at_least_k(sizes):
    labels = pool_small_groups(sizes, K)
    groups: dict[str, int] = {}
    for org, label in labels.items():
        groups[label] = groups.get(label, 0) + sizes[org]
    assert all(size >= K for size in groups.values()) or sum(sizes.values()) < K


def test_publication_moves_only_in_steps_of_k():
    assert not should_publish({"a": 1, "b": 2}, None, K)
    assert should_publish({"a": 1, "b": 2, "c": 3}, None, K)
    published = {"a": 1, "b": 2, "c": 3}
    assert not should_publish({**published, "d": 4}, published, K)
    assert not should_publish({**published, "d": 4, "a": 9}, published, K)
    assert should_publish({**published, "d": 4, "a": 9, "b": 10}, published, K)
    assert changed_leaders({"a": 1}, {"b": 2}) == 2
