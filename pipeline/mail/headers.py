"""The few header fields clb keeps of a returned message, as evidence: who sent it, when, its subject, its
Message-ID and what the receiving mail server said of its authenticity (Authentication-Results: SPF,
DKIM, DMARC).

Headers are hostile text: an encoded word can hold CR/LF, a From field can nest comments hundreds deep,
a field can be a megabyte long. Python's email header parser raised on the first and recursed on the
second, stopping every fetch. Here each field is cut to MAX_FIELD characters before anything reads it,
comments are removed without recursion, and whatever does not decode is kept as written, made visible.
"""

from __future__ import annotations

import contextlib
import email.errors
import email.header
import email.utils
import re
from dataclasses import dataclass

from pipeline.text import one_line, visible

MAX_FIELD = 2000  # characters of one field that are read
FIELDS = ("from", "subject", "date", "message-id", "authentication-results")
_COMMENT = re.compile(r"\([^()]*\)")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]{1,200}@[A-Za-z0-9.-]{1,253}$")
_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)


def fields(raw: bytes) -> dict[str, str]:
    """The first of each of FIELDS in ``raw`` header bytes, unfolded and cut to MAX_FIELD characters
    (later copies are ignored: the first Authentication-Results is the receiving server's own)."""
    found: dict[str, str] = {}
    name, value = "", ""
    for line in raw[: 64 * 1024].decode("utf-8", errors="replace").splitlines():
        if line[:1] in (" ", "\t") and name:
            if len(value) < MAX_FIELD:
                value += " " + line.strip()
            continue
        if name in FIELDS and name not in found:
            found[name] = value[:MAX_FIELD]
        head, colon, rest = line.partition(":")
        name, value = (head.strip().lower(), rest.strip()) if colon else ("", "")
    if name in FIELDS and name not in found:
        found[name] = value[:MAX_FIELD]
    return found


def decoded(text: str) -> str:
    """An RFC 2047 field decoded, on one visible line (CR, LF and other controls shown as escapes)."""
    with contextlib.suppress(LookupError, ValueError, UnicodeError, email.errors.HeaderParseError, RecursionError):
        text = str(email.header.make_header(email.header.decode_header(text)))
    return one_line(text, limit=300)


def address(text: str) -> str:
    """The address of a From field, lower-cased, or "" when it has none that reads as one."""
    for _ in range(MAX_FIELD):  # innermost comments first, without recursion
        stripped = _COMMENT.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    try:
        _, found = email.utils.parseaddr(text.replace("(", " ").replace(")", " "))
    except (ValueError, IndexError, RecursionError):
        return ""
    found = found.strip().lower()
    return found if _ADDRESS.match(found) else ""


@dataclass(frozen=True)
class Evidence:
    """What a message says of itself: never used to decide whose a form is (the form's reference does)."""

    sender: str
    subject: str
    date: str
    message_id: str
    authentication: str  # e.g. "spf=pass dkim=pass dmarc=pass", or "" when the server added none

    @property
    def authentication_failed(self) -> bool:
        return authentication_failed(self.authentication)


def authentication_failed(authentication: str) -> bool:
    """Whether the receiving server found the sender's address forged or unverified: DMARC failed, or
    SPF failed and DKIM did not pass (``authentication`` as ``Evidence`` keeps it)."""
    results = dict(item.split("=", 1) for item in authentication.split() if "=" in item)
    return results.get("dmarc") == "fail" or (
        results.get("spf") in ("fail", "softfail") and results.get("dkim") != "pass"
    )


def evidence(raw: bytes) -> Evidence:
    """The evidence of a message from its header bytes; never raises."""
    found = fields(raw)
    results: dict[str, str] = {}
    for method, result in _RESULT.findall(found.get("authentication-results", "")):
        results.setdefault(method.lower(), result.lower())
    return Evidence(
        sender=address(found.get("from", "")),
        subject=decoded(found.get("subject", "")),
        date=visible(found.get("date", ""))[:100],
        message_id=visible(found.get("message-id", "").strip())[:300],
        authentication=" ".join(
            f"{method}={results[method]}" for method in ("spf", "dkim", "dmarc") if method in results
        ),
    )
