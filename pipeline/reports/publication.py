"""When partners' figures may change: the defence against comparing editions.

Partners keep every shareable edition they receive, and may know who returned when, who replaced a
return, who was forgotten, their own answers and one colleague's. Each perspective is published on its
own, as the counts of one *edition*: which leaders' responses it counts (``members``) and how many gave
each answer (``counts``). A new edition is published only when

1. at least k leaders' counted responses differ from the last edition's (k = ``min_group_size``;
   for the first edition, at least k answered), and
2. no leader's answer, in any edition, can be worked out from all the editions together, by a partner
   holding any two leaders' answers: ``pinned`` finds none.

Why (2) is checked over the whole history, and how. Every counted response is a *slot*: a value (the
answer) that is counted in a run of consecutive editions, from the one that first counted it to the one
that stopped counting it (its leader replaced it, or was forgotten), or to the candidate edition. What
partners learn is each edition's counts. A slot's answer is safe when some other assignment of answers,
equal on the two insiders' slots, gives the very same counts in every edition. Such an assignment can be
built from the truth by changing a few slots along a *cycle*: the victim's slot moves from v to w over
its editions; to keep every count, a slot counted over the same editions moves from w to v; or a slot
counted from the same edition on (still counted) moves from w to v, and a slot first counted when the
victim's stopped moves from v to w; and so on. In general: on the timeline of editions, a slot counted
from edition a to edition b is an edge a→b if its value is v and b→a if it is w; the victim (v, a→b)
is safe when a path leads from b back to a. With additions only, every cycle is two slots of one layer,
and this is exactly the earlier rule (a layer of at least k whose answers leave MARGIN = 3 leaders with
another answer than any one). With replacements and erasures it is what makes a count that falls (a
replaced "a bit panicked") show only when enough other changes hide whose answer left.

The insiders are handled exactly: for a victim, if some w's graph carries a flow of more than twice the
slots any one leader has in it, no two insiders can cut it; otherwise every pair of leader kinds (leaders
with slots in the same groups are alike) is tried. A forgotten leader's slots stay in the history with
their place in the counts but no name (``ERASED``); their answers, which ``clb forget`` deletes, are
recovered as any assignment that gives the published counts, which is enough for the proof.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.reports.suppress import safe

ERASED = "erased:"  # the prefix of a forgotten leader's place among an edition's members
MAX_UNKNOWN = 8  # forgotten leaders' answers recovered by trying every assignment (categories ** this)


def perspective_key(round_id: str, number: int) -> str:
    """The publications of one perspective of a round are recorded under this key."""
    return f"{round_id}#perspective-{number}"


def counts(answers: Iterable[str | None]) -> list[int]:
    """How many gave each answer that was given (``safe`` needs no zeros, nor which answer is which)."""
    return list(Counter(answer for answer in answers if answer is not None).values())


def changed_leaders(current: Mapping[str, int | None], published: Mapping[str, int | None]) -> list[str]:
    """The leaders whose counted response differs between two editions (leader id -> response id)."""
    return sorted(
        leader for leader in current.keys() | published.keys() if current.get(leader) != published.get(leader)
    )


@dataclass(frozen=True)
class Edition:
    """One published edition of one perspective: whose responses it counts (a forgotten leader as
    ``erased:<n>`` with no response id) and how many gave each answer."""

    members: dict[str, int | None]
    counts: dict[str, int] = field(default_factory=dict)


def may_publish(
    history: Sequence[Edition],
    current: Mapping[str, tuple[int, str | None]],
    values: Mapping[int, str | None],
    k: int,
) -> bool:
    """Whether one perspective may show ``current`` (leader id -> (response id, answer)) to partners who
    have seen ``history`` (its editions, oldest first). ``values``: the answer of every response id the
    history counts (a forgotten leader's are missing)."""
    answered = {leader: item for leader, item in current.items() if item[1] is not None}
    if not history:
        return safe(counts(answer for _, answer in answered.values()), k)
    members: dict[str, int | None] = {leader: rid for leader, (rid, _) in answered.items()}
    if len(changed_leaders(members, history[-1].members)) < k:
        return False
    candidate = Edition(members, dict(Counter(answer for _, answer in answered.values() if answer is not None)))
    known = {**values, **{rid: answer for rid, answer in answered.values()}}
    slots = timeline([*history, candidate], known)
    return slots is not None and not pinned(slots)


@dataclass(frozen=True)
class Slot:
    """A counted response: whose, its answer, and the editions [start, end) that count it."""

    leader: str
    value: str
    start: int
    end: int


def timeline(editions: Sequence[Edition], values: Mapping[int, str | None]) -> list[Slot] | None:
    """Every counted response as a slot with its run of editions; the forgotten leaders' answers
    recovered from the counts. None when that cannot be done (then nothing new is published)."""
    runs: dict[tuple[str, int | None], list[int]] = defaultdict(list)
    for index, edition in enumerate(editions):
        for leader, rid in edition.members.items():
            runs[(leader, rid)].append(index)
    slots: list[Slot] = []
    unknown: list[tuple[str, int, int]] = []
    for (leader, rid), indexes in runs.items():
        if indexes != list(range(indexes[0], indexes[-1] + 1)):
            return None  # counted, dropped, counted again: not a shape the proof covers
        value = values.get(rid) if rid is not None else None
        if value is None:
            unknown.append((leader, indexes[0], indexes[-1] + 1))
        else:
            slots.append(Slot(leader, value, indexes[0], indexes[-1] + 1))
    if unknown:
        recovered = _recover(editions, slots, unknown)
        if recovered is None:
            return None
        slots += recovered
    return slots


def _recover(editions: Sequence[Edition], slots: list[Slot], unknown: list[tuple[str, int, int]]) -> list[Slot] | None:
    """Answers for the slots whose answer is not kept, such that every edition's counts come out as
    published (any such assignment serves: the true one is among them)."""
    if len(unknown) > MAX_UNKNOWN:
        return None
    residual: list[Counter[str]] = []
    for index, edition in enumerate(editions[:-1]):  # the candidate counts no forgotten leader
        left = Counter(edition.counts)
        left.subtract(slot.value for slot in slots if slot.start <= index < slot.end)
        residual.append(left)
    categories = sorted({value for edition in editions for value in edition.counts} | {s.value for s in slots})
    for guess in itertools.product(categories, repeat=len(unknown)):
        trial = [Counter[str]() for _ in residual]
        for value, (_, start, end) in zip(guess, unknown, strict=True):
            for index in range(start, min(end, len(residual))):
                trial[index][value] += 1
        if all(+trial[i] == +residual[i] for i in range(len(residual))):
            return [Slot(leader, value, start, end) for value, (leader, start, end) in zip(guess, unknown, strict=True)]
    return None


Group = tuple[int, int, str]  # (start, end, value): slots alike on the timeline


def pinned(slots: Sequence[Slot], insiders: int = 2) -> bool:
    """Whether some slot's answer is fixed by the editions for a partner holding any ``insiders`` leaders'
    answers (nodes: the editions' numbers, and one past the newest for slots still counted)."""
    groups: Counter[Group] = Counter((slot.start, slot.end, slot.value) for slot in slots)
    kinds: Counter[tuple[Group, ...]] = Counter()  # a leader kind: the groups of its slots
    by_leader: dict[str, list[Group]] = defaultdict(list)
    for slot in slots:
        by_leader[slot.leader].append((slot.start, slot.end, slot.value))
    for leader_groups in by_leader.values():
        kinds[tuple(sorted(leader_groups))] += 1
    categories = sorted({slot.value for slot in slots})
    for kind in kinds:  # a victim: a leader of this kind, one slot of theirs
        for victim in set(kind):
            if not _safe_victim(victim, kind, groups, kinds, categories, insiders):
                return True
    return False


def _safe_victim(
    victim: Group,
    kind: tuple[Group, ...],
    groups: Counter[Group],
    kinds: Counter[tuple[Group, ...]],
    categories: list[str],
    insiders: int,
) -> bool:
    start, end, value = victim
    alternatives = [w for w in categories if w != value]
    others = Counter(kinds)
    others[kind] -= 1  # the victim's own leader is not an insider
    base = Counter(groups)
    base[victim] -= 1  # the victim's slot itself is the edge that closes the cycle
    for w in alternatives:  # quick: a flow no two insiders can cut
        widest = max((sum(1 for g in k if g[2] in (value, w)) for k, n in others.items() if n > 0), default=0)
        if _max_flow(base, value, w, end, start) > insiders * widest:
            return True
    pool = [k for k, n in others.items() for _ in range(min(n, insiders))]
    for chosen in set(itertools.combinations(sorted(pool), min(insiders, len(pool)))):
        capacity = Counter(base)
        for leader_kind in chosen:
            capacity.subtract(leader_kind)
        if not any(_max_flow(capacity, value, w, end, start, need=1) for w in alternatives):
            return False
    return True


def _max_flow(capacity: Mapping[Group, int], v: str, w: str, source: int, sink: int, need: int | None = None) -> int:
    """Edge-disjoint paths from ``source`` to ``sink`` on the timeline: a v-slot counted from a to b is
    an edge a→b, a w-slot one b→a (at most ``need`` found)."""
    residual: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for (a, b, value), n in capacity.items():
        if n <= 0:
            continue
        if value == v:
            residual[a][b] += n
        elif value == w:
            residual[b][a] += n
    flow = 0
    while need is None or flow < need:
        parent: dict[int, int] = {source: source}
        queue = deque([source])
        while queue and sink not in parent:
            node = queue.popleft()
            for nxt, cap in residual[node].items():
                if cap > 0 and nxt not in parent:
                    parent[nxt] = node
                    queue.append(nxt)
        if sink not in parent:
            break
        path = _path(parent, sink)
        bottleneck = min(residual[parent[node]][node] for node in path)
        for node in path:
            residual[parent[node]][node] -= bottleneck
            residual[node][parent[node]] += bottleneck
        flow += bottleneck
    return flow


def _path(parent: Mapping[int, int], sink: int) -> list[int]:
    nodes, node = [], sink
    while parent[node] != node:
        nodes.append(node)
        node = parent[node]
    return nodes
