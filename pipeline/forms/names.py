"""File and folder names made from roster text.

A roster is typed by people: names may hold slashes, dots, Windows device names, emoji or non-Latin
script. The result must stay one readable path segment on Windows, macOS and Linux, and never climb out
of the folder it is joined to.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SEGMENT = 80
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_SPACES = re.compile(r"\s+")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


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
