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

from pipeline.reports.comparison import org_tables
from pipeline.reports.data import Answer
from pipeline.reports.publication import changed_leaders, may_publish

K = 3
KEYS = ("comfortable", "stretched", "panicked")


def edition(example_config, roster: dict[str, str], answers: dict[str, str]) -> dict:
    """What the shareable edition shows of perspective 1, built by the real code: the partnership's counts
    (None when withheld) and any organisation's row."""
    others = {n: "comfortable" for n in range(2, 8)}
    published = [
        Answer(leader, leader, roster[leader], {1: answer, **others}, [], "", "") for leader, answer in answers.items()
    ]
    tables = org_tables(published, example_config.instrument, K, shareable=True)
    hidden = tables.partnership_hidden[1]
    total = None if hidden.any() else tuple(int(tables.partnership[1][key]) for key in KEYS)
    return {"total": total, "rows": {row[0]: tuple(row[2:5]) for row in tables.rows if row[1] == 1}}


def consistent(roster: dict[str, str], respondents: list[str], shown: dict) -> list[dict[str, str]]:
    """Every assignment of answers to the respondents that gives exactly what the edition shows."""
    found = []
    for guess in itertools.product(KEYS, repeat=len(respondents)):
        trial = dict(zip(respondents, guess, strict=True))
        if shown["total"] is not None and _counts(trial.values()) != shown["total"]:
            continue
        if all(
            _counts(a for leader, a in trial.items() if roster[leader] == label) == row
            for label, row in shown["rows"].items()
        ):
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
    assert shown["rows"] == {}  # no organisation's own figures are shared
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
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=8), data=st.data())
def test_no_answer_can_be_pinned_in_any_small_partnership(example_config, sizes, data):
    """2 to 8 organisations of 1 to 6 leaders, any of them (up to 8, for the enumeration) responding."""
    roster = partnership(sizes)
    leaders = sorted(roster)
    respondents = data.draw(st.lists(st.sampled_from(leaders), unique=True, min_size=1, max_size=min(8, len(leaders))))
    answers = {leader: data.draw(st.sampled_from(KEYS)) for leader in respondents}
    shown = edition(example_config, roster, answers)
    assert attack(roster, answers, shown) == []


# ---------------------------------------------------------------- several editions: the two-refresh attack


Slot = tuple[str, int]  # one answer one leader returned: (leader, night)


def editions(nights: list[dict[str, str]], k: int = K) -> list[tuple[tuple[int, int, int], list[Slot]] | None]:
    """Perspective 1 after each night, by the real publication rule: the counts partners see and the
    answers (slots) they count, or None before the first publication. A night maps leaders to the answer
    they return that night; a second return from a leader replaces the first."""
    current: dict[str, Slot] = {}
    answer_of: dict[Slot, str] = {}
    published: dict[str, Slot] | None = None
    shown: list[tuple[tuple[int, int, int], list[Slot]] | None] = []
    for night, returned in enumerate(nights):
        for leader, answer in returned.items():
            current[leader] = (leader, night)
            answer_of[(leader, night)] = answer
        ids = {slot: number for number, slot in enumerate(sorted(answer_of))}
        now = {leader: (ids[slot], answer_of[slot]) for leader, slot in current.items()}
        if may_publish(now, {leader: ids[slot] for leader, slot in published.items()} if published else None, k):
            published = dict(current)
        if published is None:
            shown.append(None)
        else:
            slots = sorted(published.values())
            shown.append((_counts(answer_of[slot] for slot in slots), slots))
    return shown


def attack_editions(nights: list[dict[str, str]], shown: list) -> list[tuple]:
    """Every (insiders, victim slot) the attacker pins down, knowing who returned on which night (not
    what), their own and one colleague's answers, and every edition."""
    slots = sorted((leader, night) for night, returned in enumerate(nights) for leader in returned)
    truth = {slot: nights[slot[1]][slot[0]] for slot in slots}
    views = [view for view in shown if view is not None]
    worlds = []
    for guess in itertools.product(KEYS, repeat=len(slots)):
        world = dict(zip(slots, guess, strict=True))
        if all(_counts(world[slot] for slot in members) == seen for seen, members in views):
            worlds.append(world)
    assert truth in worlds
    pinned = []
    leaders = sorted({leader for leader, _ in slots})
    for insiders in itertools.combinations(leaders, min(2, len(leaders))):
        known = [w for w in worlds if all(w[s] == truth[s] for s in slots if s[0] in insiders)]
        for slot in slots:
            if slot[0] not in insiders and len({w[slot] for w in known}) < 2:
                pinned.append((insiders, slot))
    return pinned


def test_one_late_return_leaves_the_edition_unchanged():
    first = {"a": "comfortable", "b": "comfortable", "c": "stretched", "d": "stretched", "e": "panicked"}
    first |= {"f": "panicked"}
    shown = editions([first, {"g": "panicked"}])
    assert shown[0] is not None and shown[0][0] == (2, 2, 2) and shown[1] == shown[0]


def test_a_layer_of_late_returns_all_alike_is_not_published():
    first = {"a": "comfortable", "b": "comfortable", "c": "stretched", "d": "stretched", "e": "panicked"}
    first |= {"f": "panicked"}
    late = {"g": "panicked", "h": "panicked", "i": "panicked"}  # three late, all panicked: k changed, unsafe
    shown = editions([first, late])
    assert shown[1] == shown[0]
    assert attack_editions([first, late], shown) == []


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_no_answer_can_be_pinned_across_any_sequence_of_editions(data):
    """Any return order across several nights, replacements included: comparing the editions pins no one."""
    leaders = [f"L{i}" for i in range(data.draw(st.integers(3, 6)))]
    nights = []
    slots = 0
    for _ in range(data.draw(st.integers(1, 4))):
        returned = data.draw(st.lists(st.sampled_from(leaders), unique=True, max_size=len(leaders)))
        returned = returned[: max(0, 8 - slots)]
        slots += len(returned)
        nights.append({leader: data.draw(st.sampled_from(KEYS)) for leader in returned})
    shown = editions(nights)
    assert attack_editions(nights, shown) == []


def test_publication_needs_k_changed_answers_that_are_safe_together():
    answers = dict(zip("abcdef", ["comfortable"] * 2 + ["stretched"] * 2 + ["panicked"] * 2, strict=True))
    current = {leader: (i, answer) for i, (leader, answer) in enumerate(answers.items())}
    assert may_publish(current, None, K)
    assert not may_publish({leader: current[leader] for leader in "abc"}, None, K)  # 2 + 1: unsafe
    published = {leader: rid for leader, (rid, _) in current.items()}
    assert not may_publish({**current, "g": (9, "stretched")}, published, K)
    assert changed_leaders({"a": 1}, {"b": 2}) == ["a", "b"]
