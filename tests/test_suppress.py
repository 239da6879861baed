"""Shareable figures against an attacker (issue 9): a partner who knows the roster, who responded, their
own answers and one colleague's, and reads the edition, can never pin another leader's answer.

The attacker is literal: it enumerates every assignment of answers to the respondents, keeps those
consistent with what the edition shows (as the real ``org_tables`` builds it) and with the answers it
holds, and checks that every other respondent keeps at least two possible answers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.reports.aggregate import Answer
from pipeline.reports.comparison import org_tables
from pipeline.reports.publication import changed_leaders, should_publish
from pipeline.reports.suppress import MARGIN, OTHER, safe, shown_groups

K = 3
KEYS = ("comfortable", "stretched", "panicked")


def edition(example_config, roster: dict[str, str], answers: dict[str, str]) -> dict:
    """What the shareable edition shows of perspective 1, built by the real code: the partnership's counts
    (or None when withheld) and each shown row's counts by its label."""
    others = {n: "comfortable" for n in range(2, 8)}
    published = [
        Answer(leader, leader, roster[leader], {1: answer, **others}, [], "", "") for leader, answer in answers.items()
    ]
    tables = org_tables(published, example_config.instrument, K, shareable=True)
    hidden = tables.partnership_hidden[1]
    total = None if hidden.any() else tuple(int(tables.partnership[1][key]) for key in KEYS)
    rows = {row[0]: tuple(row[2:5]) for row in tables.rows if row[1] == 1}
    return {"total": total, "rows": rows}


def consistent(roster: dict[str, str], respondents: list[str], shown: dict) -> list[dict[str, str]]:
    """Every assignment of answers to the respondents that gives exactly what the edition shows."""
    named = {label for label in shown["rows"] if label != OTHER}
    found = []
    for guess in itertools.product(KEYS, repeat=len(respondents)):
        trial = dict(zip(respondents, guess, strict=True))
        if shown["total"] is not None and _counts(trial.values()) != shown["total"]:
            continue
        ok = True
        for label, counts in shown["rows"].items():
            members = [
                a
                for leader, a in trial.items()
                if (roster[leader] == label if label != OTHER else roster[leader] not in named)
            ]
            if _counts(members) != counts:
                ok = False
                break
        if ok:
            found.append(trial)
    return found


def _counts(answers: Iterable[str]) -> tuple[int, int, int]:
    answers = list(answers)
    return tuple(answers.count(key) for key in KEYS)  # type: ignore[return-value]


def attack(roster: dict[str, str], answers: dict[str, str], shown: dict) -> list[tuple[str, str, str]]:
    """(attacker, colleague, victim) for every victim whose answer the pair can pin down."""
    respondents = sorted(answers)
    worlds = consistent(roster, respondents, shown)
    assert any(w == answers for w in worlds), "the truth must be consistent with what is shown"
    pinned = []
    for insiders in itertools.combinations(respondents, min(2, len(respondents))):
        known = [w for w in worlds if all(w[i] == answers[i] for i in insiders)]
        for victim in respondents:
            if victim not in insiders and len({w[victim] for w in known}) < 2:
                pinned.append((*insiders, victim))
    return pinned


def partnership(sizes: list[int]) -> dict[str, str]:
    return {f"{chr(65 + o)}{i}": f"Org {chr(65 + o)}" for o, size in enumerate(sizes) for i in range(size)}


# ---------------------------------------------------------------- the cases the facilitator found


def test_a_whole_organisation_ticking_one_box_is_not_shown(example_config):
    """Tamesford: three leaders, all "stretched". Showing 0 / 3 / 0 names all three."""
    roster = partnership([3, 4])
    answers = {"A0": "stretched", "A1": "stretched", "A2": "stretched", "B0": "comfortable", "B1": "stretched"}
    answers |= {"B2": "panicked", "B3": "comfortable"}
    shown = edition(example_config, roster, answers)
    assert "Org A" not in shown["rows"]
    assert attack(roster, answers, shown) == []


def test_a_count_equal_to_the_roster_is_not_a_loophole(example_config):
    """Everyone on an organisation's roster responded, so partners know exactly who is counted."""
    roster = partnership([4, 4])
    answers = {leader: "comfortable" for leader in roster} | {"A0": "stretched", "B0": "panicked"}
    shown = edition(example_config, roster, answers)
    assert attack(roster, answers, shown) == []


def test_the_attacker_would_win_without_the_margin(example_config):
    """The attacker is not toothless: with the margin set aside, an insider pair pins a leader down."""
    roster = partnership([5])
    answers = {"A0": "stretched", "A1": "stretched", "A2": "comfortable", "A3": "comfortable", "A4": "comfortable"}
    naive = {"total": _counts(answers.values()), "rows": {"Org A": _counts(answers.values())}}
    assert ("A0", "A1", "A2") in attack(roster, answers, naive)
    assert edition(example_config, roster, answers)["total"] is None  # the real rule withholds it


# ---------------------------------------------------------------- any small partnership, any answers


@settings(max_examples=120, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4), data=st.data())
def test_no_answer_can_be_pinned_in_any_small_partnership(example_config, sizes, data):
    roster = partnership(sizes)
    leaders = sorted(roster)
    respondents = data.draw(st.lists(st.sampled_from(leaders), unique=True, min_size=1, max_size=min(7, len(leaders))))
    answers = {leader: data.draw(st.sampled_from(KEYS)) for leader in respondents}
    shown = edition(example_config, roster, answers)
    assert attack(roster, answers, shown) == []


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from("ABCDEFGH"), st.tuples(*[st.integers(0, 6)] * 3), min_size=2, max_size=8))
def test_every_block_shown_is_safe_and_so_is_the_rest(groups):
    """2 to 8 organisations of up to 6 leaders each (in counts): the blocks an attacker can read."""
    groups = {g: counts for g, counts in groups.items() if sum(counts)}
    shown = shown_groups(groups, K)
    total = [sum(c[i] for c in groups.values()) for i in range(3)]
    if not safe(total, K):
        assert shown == set()
        return
    rest = [total[i] - sum(groups[g][i] for g in shown) for i in range(3)]
    for block in [*(groups[g] for g in shown), rest] if sum(rest) else [groups[g] for g in shown]:
        n = sum(block)
        assert n >= K and all(n - c >= MARGIN for c in block if c)


def test_publication_moves_only_in_steps_of_k():
    assert not should_publish({"a": 1, "b": 2}, None, K)
    assert should_publish({"a": 1, "b": 2, "c": 3}, None, K)
    published = {"a": 1, "b": 2, "c": 3}
    assert not should_publish({**published, "d": 4}, published, K)
    assert not should_publish({**published, "d": 4, "a": 9}, published, K)
    assert should_publish({**published, "d": 4, "a": 9, "b": 10}, published, K)
    assert changed_leaders({"a": 1}, {"b": 2}) == 2
