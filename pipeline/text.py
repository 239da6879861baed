"""The one boundary for text that comes from outside: file names, zip part names, cell values, logs.

Anyone who can email the facilitator chooses these strings. A control character (ESC, BEL, a newline),
a non-character such as U+FFFE, a lone surrogate (what Python makes of a file name that is not UTF-8) or
a bidirectional override can break an XML part, forge a line in a reasons file, fail a JSON encoder,
recolour a terminal or make a name read backwards. ``visible`` turns every such character into an
escape a person can read (``\\x1b``, ``\\ufffe``, and ``\\xff`` for a raw byte of a non-UTF-8 name),
and does so reversibly, so a name stays evidence: ``original`` gives back the exact string, and
``os.fsencode(original(name))`` the exact bytes on disk. Text already clean passes unchanged.

Outside text is made visible once, where it enters (the inbox scan, the zip directory, the catalogue
of problems, the reader's user log); writers check with ``is_visible`` and never escape twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

# C0 and C1 controls and DEL; bidi embeddings, overrides and isolates; line and paragraph separators;
# surrogates (lone ones only exist in str made with surrogateescape or surrogatepass);
# non-characters (U+FDD0-U+FDEF and the last two code points of every plane).
_UNSAFE = (
    r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    r"\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"\\U{plane:04x}fffe\\U{plane:04x}ffff" for plane in range(1, 17))
)
_UNSAFE_LINES = _UNSAFE.replace(r"\x00-\x1f", r"\x00-\x08\x0b\x0c\x0e-\x1f")
_UNSAFE_RE = re.compile("[" + _UNSAFE + "]")
_UNSAFE_IN_LINES = re.compile("[" + _UNSAFE_LINES + "]")
# a backslash that would read as an escape once the text is made visible: it is doubled
_ESCAPE_LIKE = re.compile(r"\\(?=[xuU\\" + _UNSAFE + "])")
_ESCAPE_LIKE_LINES = re.compile(r"\\(?=[xuU\\" + _UNSAFE_LINES + "])")
_ESCAPES = re.compile(r"\\(?:\\|x([0-9a-f]{2})|u([0-9a-f]{4})|U([0-9a-f]{8}))")


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a non-UTF-8 file name (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: str, lines: bool = False) -> str:
    """``text`` with every unsafe character written as an escape; ``lines`` keeps tab, CR and LF (a
    user log may have several lines; a file name may not). A backslash that would read as the start of
    an escape is doubled, so that ``original`` can undo exactly what was done."""
    pattern = _UNSAFE_IN_LINES if lines else _UNSAFE_RE
    if "\\" not in text and not pattern.search(text):
        return text
    text = (_ESCAPE_LIKE_LINES if lines else _ESCAPE_LIKE).sub(r"\\\\", text)
    return pattern.sub(lambda match: _escape(match.group()), text)


def is_visible(text: str, lines: bool = False) -> bool:
    """True when ``text`` holds nothing unsafe (it may be written as it is). Every value a letter prints
    is checked, so the common cases are quick: printable ASCII, and short text seen before (the same
    perspective's or practice's words in every letter; text over 400 characters is never kept)."""
    if text.isascii() and text.isprintable():
        return True
    return (_searched if len(text) > 400 else _remembered)(text, lines)


def _searched(text: str, lines: bool) -> bool:
    return not (_UNSAFE_IN_LINES if lines else _UNSAFE_RE).search(text)


_remembered = functools.lru_cache(maxsize=2048)(_searched)


def shown_safely(text: str, lines: bool = False) -> str:
    """For writers (workbooks, templates, reports): ``text`` as it is when it is already visible, else
    made visible. Outside text was made visible where it entered; this only keeps a slip from breaking
    a file, and never escapes twice."""
    return text if is_visible(text, lines) else visible(text, lines)


def original(shown: str) -> str:
    """The exact string ``visible`` was given: raw bytes come back as surrogateescape characters."""

    def undo(match: re.Match[str]) -> str:
        byte, short, long = match.groups()
        if byte is not None:
            return chr(0xDC00 + int(byte, 16)) if int(byte, 16) >= 0x80 else chr(int(byte, 16))
        if short is not None or long is not None:
            return chr(int(short or long, 16))
        return "\\"

    return _ESCAPES.sub(undo, shown)


def one_line(text: str, limit: int = 200) -> str:
    """Outside text for one line of a message (a reason, a log line, the console): visible, and cut."""
    shown = visible(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "\u2026"


def deadline_text(deadline: dt.date) -> str:
    """A date as the form, the messages and the letters give it: "Friday 18 December 2026"."""
    return f"{deadline:%A} {deadline.day} {deadline:%B %Y}"
