"""File and folder names made from roster text.

A roster is typed by people: names may hold slashes, dots, Windows device names, emoji or non-Latin
script. The result must stay one readable path segment on Windows, macOS and Linux, and never climb out
of the folder it is joined to.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable

MAX_SEGMENT = 80
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_SPACES = re.compile(r"\s+")
# Windows' device names, with or without an extension: its superscript digits count as digits there
_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    "conin$",
    "conout$",
    *(f"{device}{digit}" for device in ("com", "lpt") for digit in "0123456789\u00b9\u00b2\u00b3"),
}


def safe_segment(text: str, fallback: str = "unnamed") -> str:
    """One safe path segment that still reads like ``text`` ("José Álvarez" stays "José Álvarez")."""
    cleaned = unicodedata.normalize("NFC", text)
    cleaned = "".join(ch for ch in cleaned if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"})
    cleaned = _FORBIDDEN.sub("-", cleaned)
    cleaned = _SPACES.sub(" ", cleaned).strip(" .-")
    if len(cleaned) > MAX_SEGMENT:
        cleaned = cleaned[:MAX_SEGMENT].rstrip(" .-")
    if not cleaned:
        cleaned = fallback
    if cleaned.split(".")[0].strip().casefold() in _RESERVED:
        cleaned = "_" + cleaned
    return cleaned


class NameClash(Exception):
    """Two people would get the same file name however it is made unique: a bug, so the run stops."""


def unique_stems(people: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """``<organisation>/<name>`` for each (key, organisation, name), no two alike even on a file system
    that ignores case. A name shared (after cutting and cleaning) is told apart by a tag that is never
    cut: the key (an email) when it fits, else a hash of it; a tag that still clashes grows longer."""
    base = {key: (safe_segment(organisation), safe_segment(name)) for key, organisation, name in people}
    stems = {key: f"{organisation}/{name}" for key, (organisation, name) in base.items()}
    level = {key: 0 for key in base}
    while True:
        counts = Counter(stem.casefold() for stem in stems.values())
        clashing = [key for key, stem in stems.items() if counts[stem.casefold()] > 1]
        if not clashing:
            return stems
        for key in clashing:
            level[key] += 1
            if level[key] > len(_TAGS):
                raise NameClash(f"no unique file name for {key!r}")  # two keys with one sha256
            organisation, name = base[key]
            tag = f" ({_TAGS[level[key] - 1](key)})"
            stems[key] = f"{organisation}/{safe_segment(name[: MAX_SEGMENT - len(tag)]) + tag}"


def _email_tag(key: str) -> str:
    tag = safe_segment(key)
    return tag if len(tag) <= MAX_SEGMENT // 2 else _hash_tag(key, 10)


def _hash_tag(key: str, length: int) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:length]


_TAGS: tuple[Callable[[str], str], ...] = (
    _email_tag,
    lambda key: _hash_tag(key, 16),
    lambda key: _hash_tag(key, 64),
)


def possible_stems(key: str, organisation: str, name: str) -> set[str]:
    """Every stem ``unique_stems`` can give this person, whatever names they shared: for finding their
    files when no record names them (clb forget after a run that stopped before recording them)."""
    organisation, name = safe_segment(organisation), safe_segment(name)
    stems = {f"{organisation}/{name}"}
    for make in _TAGS:
        tag = f" ({make(key)})"
        stems.add(f"{organisation}/{safe_segment(name[: MAX_SEGMENT - len(tag)]) + tag}")
    return stems


# Windows without long paths enabled refuses a path of more than 259 characters (MAX_PATH, 260, with its
# closing NUL), the folders above the workspace included. These are the longest places a leader's stem
# goes, with the longest of what surrounds it (a run's id, a superseded draft's date and number, a
# correction's tag), so that a roster whose stems fit them fits everywhere clb writes for a leader.
LONGEST_PLACES = (
    "outbox/letters/{round}/{stem}.html",
    "outbox/mail/invitation/superseded/{stem} 2026-12-31 235959 999.eml",
    "outbox/mail/correction/superseded/{stem} 2026-12-31 235959 999.eml",
    "outbox/corrections/20261231-235959-abcdef/{stem} 01234567.html",
)
WINDOWS_PATH_LIMIT = 259


def longest_path(root: str, round_id: str, stem: str) -> int:
    """The length of the longest path clb writes for a leader of this ``stem``, under ``root`` (absolute,
    as the system counts it: ``C:\\Users\\…``)."""
    longest = max(len(place.format(round=safe_segment(round_id), stem=stem)) for place in LONGEST_PLACES)
    return len(root.rstrip("\\/")) + 1 + longest


def too_long(root: str, round_id: str, stems: dict[str, str], limit: int) -> list[tuple[str, int]]:
    """Each (key, length) whose longest path would pass ``limit`` characters, longest first."""
    lengths = {key: longest_path(root, round_id, stem) for key, stem in stems.items()}
    return sorted(((key, n) for key, n in lengths.items() if n > limit), key=lambda item: (-item[1], item[0]))


def path_limit() -> int | None:
    """The longest path this system takes, where it is short enough to matter: Windows' 259 characters
    unless long paths are enabled (the LongPathsEnabled setting, which Python honours); None elsewhere
    (macOS and Linux take 1,024 and 4,096)."""
    import sys

    if sys.platform != "win32":
        return None
    try:  # pragma: no cover - Windows only
        import winreg

        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Control\FileSystem") as key:
            enabled, _ = winreg.QueryValueEx(key, "LongPathsEnabled")
        return None if enabled == 1 else WINDOWS_PATH_LIMIT
    except OSError:  # pragma: no cover - Windows only
        return WINDOWS_PATH_LIMIT
