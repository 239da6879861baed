"""A few verdicts kept by the bytes they were worked out from, so a round's returns are not checked again
where they are byte for byte the same.

Most of a returned form is the same in every return of a round: the theme, the styles, the workbook's
structure, the relationships, the sheets nobody types in. Whatever the guard or the reader works out from
such a part (that it inflates to these bytes and is safe, which parts are sheets, what the sheets are
called, which font a style uses) depends on those bytes and nothing else, so it is kept under them and
reused: a hostile file that differs by one byte is worked out afresh. Only small keys are kept, a few of
them, the least used out first (each return's own parts come once and go; the round's stay), so memory
stays bounded whatever arrives.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

KEEP_AT_MOST = 64 * 1024  # bytes in one key: a form's parts are a few KB; a bigger one is not a form's


class Memo(Generic[K, V]):
    """At most ``items`` values, each under a key made of bytes (and what else the value depends on)."""

    def __init__(self, items: int = 32) -> None:
        self._items = items
        self._kept: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()  # intake is one thread; this keeps the memo right if that changes
        EVERY_MEMO.append(self)

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._kept.get(key)
            if value is not None:
                self._kept.move_to_end(key)
            return value

    def put(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` under ``key``, whose bytes add up to ``size``, unless the key is too big."""
        if size > KEEP_AT_MOST:
            return
        with self._lock:
            if key not in self._kept and len(self._kept) >= self._items:
                self._kept.popitem(last=False)
            self._kept[key] = value

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


EVERY_MEMO: list[Memo[Any, Any]] = []  # each module's memos, for the tests that start with them empty


def forget_all() -> None:
    """Empty every memo: what follows is worked out afresh (tests compare the two)."""
    for memo in EVERY_MEMO:
        memo.clear()
