"""Shareable figures against an attacker: a partner who knows the roster, who responded, their
own answers and one colleague's, and reads the edition, can never pin another leader's answer.

The attacker is literal: it enumerates every assignment of answers to the respondents, keeps those
consistent with what the edition shows (as the real ``org_tables`` builds it) and with the answers it
holds, and checks that every other respondent keeps at least two possible answers.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.reports.data import Answer
from pipeline.reports.figures import org_tables
from pipeline.reports.publication import Edition, changed_leaders, may_publish
from pipeline.reports.suppress import safe

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


# ---------------------------------------------------------------- several editions: additions, replacements, erasures


@dataclass
class Night:
    """What happened before a night's run: returns (a leader's first, or one replacing their last) and
    erasures (clb forget)."""

    returns: dict[str, str] = field(default_factory=dict)
    erased: list[str] = field(default_factory=list)


@dataclass
class Shown:
    """What partners have seen of perspective 1: each published edition's counts and the slots (leader,
    night) it counts. The attacker is assumed to know the slots (who returned when), never their values."""

    editions: list[tuple[tuple[int, ...], tuple[tuple[str, int], ...]]]
    truth: dict[tuple[str, int], str]


def run_rule(nights: list[Night], k: int = K) -> Shown:
    """Perspective 1 night after night under the real rule (``publication.may_publish``), forgetting as
    clb forget does: the leader's place in earlier editions becomes an anonymous ``erased:`` member and
    their answers are deleted."""
    values: dict[int, str | None] = {}
    current: dict[str, int] = {}
    slot_of: dict[int, tuple[str, int]] = {}
    history: list[Edition] = []
    shown: list[tuple[tuple[int, ...], tuple[tuple[str, int], ...]]] = []
    truth: dict[tuple[str, int], str] = {}
    erased_rids: dict[str, int] = {}
    for night, happened in enumerate(nights):
        for leader, answer in happened.returns.items():
            rid = len(slot_of) + 1
            current[leader], values[rid], slot_of[rid] = rid, answer, (leader, night)
            truth[(leader, night)] = answer
        for leader in happened.erased:
            gone = {rid for rid, slot in slot_of.items() if slot[0] == leader}
            current.pop(leader, None)
            for rid in gone:
                values.pop(rid, None)
            history = [
                Edition(
                    {
                        (f"erased:{leader}" if rid in gone else who): (None if rid in gone else rid)
                        for who, rid in e.members.items()
                    },
                    e.counts,
                )
                for e in history
            ]
            erased_rids[leader] = max(gone) if gone else 0
        now = {leader: (rid, values[rid]) for leader, rid in current.items()}
        if may_publish(history, now, values, k):
            history.append(
                Edition({leader: rid for leader, (rid, _) in now.items()}, dict(Counter(v for _, v in now.values())))
            )
            members = tuple(sorted(slot_of[rid] for rid in history[-1].members.values() if rid is not None))
            shown.append((_counts(truth[slot] for slot in members), members))
        elif history and history[-1].members:  # the last edition stays; an erased member keeps its place
            last = shown[-1]
            shown.append(last)
    return Shown(shown, truth)


def run_old_rule(nights: list[Night], k: int = K) -> Shown:
    """The same nights under the rule before: a new layer published when its changed answers pass
    ``safe``, and clb forget taking the leader out of the published snapshot at once."""
    current: dict[str, tuple[str, int]] = {}
    published: dict[str, tuple[str, int]] | None = None
    truth: dict[tuple[str, int], str] = {}
    shown = []
    for night, happened in enumerate(nights):
        for leader, answer in happened.returns.items():
            current[leader] = (leader, night)
            truth[(leader, night)] = answer
        for leader in happened.erased:
            current.pop(leader, None)
            if published is not None:
                published.pop(leader, None)
        if published is None:
            ok = safe(_counts_list(truth[slot] for slot in current.values()), k)
        else:
            changed = [who for who in current.keys() | published.keys() if current.get(who) != published.get(who)]
            layer = [truth[current[who]] for who in changed if who in current]
            ok = len(changed) >= k and safe(_counts_list(layer), k)
        if ok:
            published = dict(current)
        if published is not None:
            members = tuple(sorted(published.values()))
            shown.append((_counts(truth[slot] for slot in members), members))
    return Shown(shown, truth)


def _counts_list(answers: Iterable[str]) -> list[int]:
    return [n for n in _counts(answers) if n]


def attack_history(shown: Shown) -> list[tuple[tuple[str, ...], tuple[str, int]]]:
    """Every (insiders, victim slot) the attacker pins: it enumerates every assignment of answers to the
    slots the editions count, keeps those that give every edition's counts, and for each pair of
    insiders (any two leaders, their answers known), each other slot must keep two possible answers."""
    import numpy as np

    slots = sorted({slot for _, members in shown.editions for slot in members})
    if not slots:
        return []
    index = {slot: i for i, slot in enumerate(slots)}
    worlds = np.array(list(itertools.product(range(len(KEYS)), repeat=len(slots))), dtype=np.int8)
    keep = np.ones(len(worlds), dtype=bool)
    for seen, members in set(shown.editions):
        columns = worlds[:, [index[slot] for slot in members]]
        for key, count in enumerate(seen):
            keep &= (columns == key).sum(axis=1) == count
    worlds = worlds[keep]
    true = np.array([KEYS.index(shown.truth[slot]) for slot in slots], dtype=np.int8)
    assert (worlds == true).all(axis=1).any(), "the truth must be consistent with what is shown"
    leaders = sorted({leader for leader, _ in slots})
    pinned = []
    for insiders in itertools.combinations(leaders, min(2, len(leaders))):
        theirs = [index[slot] for slot in slots if slot[0] in insiders]
        known = worlds[(worlds[:, theirs] == true[theirs]).all(axis=1)] if theirs else worlds
        for slot in slots:
            if slot[0] not in insiders and len(np.unique(known[:, index[slot]])) < 2:
                pinned.append((insiders, slot))
    return pinned


def six_alike() -> dict[str, str]:
    return dict(zip("abcdef", ["comfortable"] * 2 + ["stretched"] * 2 + ["panicked"] * 2, strict=True))


def test_a_replaced_answer_was_revealed_by_the_old_rule_and_is_not_by_the_new():
    """The issue's case: six leaders, 2/2/2; then a replaces panicked by comfortable, and five new return
    (2 comfortable, 3 stretched). The old rule published (5, 5, 1): a count fell, and a's earlier answer
    was "a bit panicked" for anyone who knows a returned twice."""
    first = six_alike() | {"a": "panicked", "e": "comfortable"}
    second = Night(
        {"a": "comfortable", "g": "comfortable", "h": "comfortable", "i": "stretched"}
        | {"j": "stretched", "k": "stretched"}
    )
    nights = [Night(first), second]
    old = run_old_rule(nights)
    assert [seen for seen, _ in old.editions] == [(2, 2, 2), (5, 5, 1)]
    assert any(slot == ("a", 0) for _, slot in attack_history(old))
    new = run_rule(nights)
    assert [seen for seen, _ in new.editions] == [(2, 2, 2), (2, 2, 2)]  # partners keep the last safe edition
    assert attack_history(new) == []


def test_a_forgotten_leader_was_revealed_by_the_old_rule_and_is_not_by_the_new():
    nights = [Night(six_alike()), Night(erased=["a"])]
    old = run_old_rule(nights)
    assert [seen for seen, _ in old.editions] == [(2, 2, 2), (1, 2, 2)]
    assert any(slot == ("a", 0) for _, slot in attack_history(old))
    new = run_rule(nights)
    assert [seen for seen, _ in new.editions] == [(2, 2, 2), (2, 2, 2)]
    assert attack_history(new) == []


def test_enough_other_changes_publish_a_replacement_safely():
    """A replacement is published once the change partners can compute pins nobody: here a's move from
    comfortable to stretched hides among three new comfortable answers and two earlier ones of each
    other kind."""
    second = {"a": "stretched", "g": "comfortable", "h": "comfortable", "j": "comfortable", "i": "stretched"}
    shown = run_rule([Night(six_alike()), Night(second | {"k": "panicked"})])
    assert [seen for seen, _ in shown.editions] == [(2, 2, 2), (4, 4, 3)]  # the new edition came out
    assert attack_history(shown) == []


def test_a_replacement_the_insiders_could_read_is_held_back():
    """The same move, but with only two new comfortable answers: two insiders holding those two would
    read a's first answer off the editions (the old rule published it)."""
    second = {"a": "stretched"} | dict(
        zip("ghijk", ["comfortable", "panicked", "stretched", "comfortable", "panicked"], strict=True)
    )
    nights = [Night(six_alike()), Night(second)]
    assert (("g", "j"), ("a", 0)) in attack_history(run_old_rule(nights))
    shown = run_rule(nights)
    assert [seen for seen, _ in shown.editions] == [(2, 2, 2), (2, 2, 2)]


def test_one_late_return_leaves_the_edition_unchanged():
    first = six_alike()
    shown = run_rule([Night(first), Night({"g": "panicked"})])
    assert shown.editions[0][0] == (2, 2, 2) and shown.editions[1] == shown.editions[0]


def test_a_layer_of_late_returns_all_alike_is_not_published():
    late = {"g": "panicked", "h": "panicked", "i": "panicked"}  # three late, all panicked: k changed, unsafe
    shown = run_rule([Night(six_alike()), Night(late)])
    assert shown.editions[1] == shown.editions[0]
    assert attack_history(shown) == []


@st.composite
def histories(draw) -> list[Night]:
    """Several nights of returns, replacements and erasures, at most 12 slots (for the enumeration)."""
    leaders = [f"L{i}" for i in range(draw(st.integers(3, 9)))]
    nights: list[Night] = []
    slots = 0
    erased: set[str] = set()
    for _ in range(draw(st.integers(1, 4))):
        alive = [leader for leader in leaders if leader not in erased]
        returned = draw(st.lists(st.sampled_from(alive), unique=True, max_size=len(alive))) if alive else []
        returned = returned[: max(0, 12 - slots)]
        slots += len(returned)
        gone = draw(st.lists(st.sampled_from(alive), unique=True, max_size=1)) if alive and draw(st.booleans()) else []
        gone = [leader for leader in gone if leader not in returned]
        erased |= set(gone)
        nights.append(Night({leader: draw(st.sampled_from(KEYS)) for leader in returned}, gone))
    return nights


@settings(max_examples=200, deadline=None)
@given(nights=histories())
def test_no_answer_can_be_pinned_across_any_returns_replacements_and_erasures(nights):
    """Any order of returns, replacements and erasures over several nights: comparing every edition
    partners were shown pins no one's answer, past or present."""
    assert attack_history(run_rule(nights)) == []


def test_a_pair_of_replacements_cannot_be_read_off_a_layer_they_came_from():
    """Two editions' worth of constraints on one slot (the case a rule checking each difference alone
    misses): a's first answer is in a layer with no panicked, and in a later change beside b's."""
    first = {"a": "comfortable", "b": "panicked", "c": "comfortable", "d": "stretched", "e": "stretched"}
    second = dict(
        zip("fghijk", ["comfortable", "stretched", "comfortable", "stretched", "comfortable", "stretched"], strict=True)
    )
    second["a"] = "stretched"
    third = {"a": "panicked", "b": "comfortable", "l": "stretched", "m": "comfortable"}
    shown = run_rule([Night(first), Night(second), Night(third)])
    assert attack_history(shown) == []


def test_publication_needs_k_changed_answers_that_are_safe_together():
    current = {leader: (i, answer) for i, (leader, answer) in enumerate(six_alike().items())}
    values = {rid: answer for rid, answer in current.values()}
    assert may_publish([], current, values, K)
    assert not may_publish([], {leader: current[leader] for leader in "abc"}, values, K)  # 2 + 1: unsafe
    published = [
        Edition(
            {leader: rid for leader, (rid, _) in current.items()}, {"comfortable": 2, "stretched": 2, "panicked": 2}
        )
    ]
    assert not may_publish(published, {**current, "g": (9, "stretched")}, {**values, 9: "stretched"}, K)
    assert changed_leaders({"a": 1}, {"b": 2}) == ["a", "b"]
