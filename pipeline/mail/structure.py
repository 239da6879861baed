"""A message's structure as the IMAP server describes it (BODYSTRUCTURE), read without Python's email parser.

Anyone can email the returns mailbox, so every message is hostile. Python's ``email`` package parses a
whole message in memory, keeps kilobytes per header parameter and recurses on nesting: one megabyte of
``; a=b`` parameters cost minutes and a gigabyte, and a chain of forwarded messages a thousand deep, or a
From header of nested comments, raised out of the fetch. So clb asks the server for the message's size
and structure first (the server has parsed it already), reads that reply here with hard limits on its
size, nesting and parts, and then fetches only the parts that can be forms. The cost of a message is
bounded whatever it holds; a message past a limit is set aside, not read.

The reply is an IMAP s-expression (RFC 3501, section 7.4.2): lists in parentheses, quoted strings,
literals (``{n}`` then n bytes), atoms and NIL. ``parse`` turns it into nested lists of bytes and None,
iteratively (no recursion), and ``parts`` walks the body, numbering sections as FETCH BODY[...] wants them.
"""

from __future__ import annotations

import email.errors
import email.header
import re
from dataclasses import dataclass

MAX_REPLY = 256 * 1024  # bytes of BODYSTRUCTURE: a real return's is under 2 KB
MAX_DEPTH = 24  # nested lists (each forwarded message adds a few)
MAX_PARTS = 200  # leaf parts of one message
MAX_PARAMS = 40  # parameters of one part read (the rest are ignored)


class TooComplex(Exception):
    """The structure is past a limit: the message is set aside unread."""


class Malformed(Exception):
    """The server's reply does not read as a body structure."""


Node = bytes | None | list["Node"]


def joined(fragments: list[object]) -> bytes:
    """imaplib's reply to one FETCH (bytes, and (prefix, literal) tuples where the server sent a
    literal) as the bytes that came over the wire, literals in place."""
    out = bytearray()
    for item in fragments:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bytes) and isinstance(item[1], bytes):
            out += item[0] + b"\r\n" + item[1]
        elif isinstance(item, bytes):
            out += item
        if len(out) > MAX_REPLY:
            raise TooComplex("its structure is too large to be a return")
    return bytes(out)


_ATOM_END = frozenset(b' ()\r\n"{[]')


def parse(data: bytes, max_depth: int = MAX_DEPTH) -> list[Node]:
    """The s-expression ``data`` as nested lists (strings and atoms as bytes, NIL as None); raises
    TooComplex past ``max_depth`` or MAX_REPLY, Malformed when it does not read."""
    if len(data) > MAX_REPLY:
        raise TooComplex("its structure is too large to be a return")
    root: list[Node] = []
    stack: list[list[Node]] = [root]
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c in b" \r\n":
            i += 1
        elif c == 0x28:  # (
            if len(stack) > max_depth:
                raise TooComplex(f"it is nested more than {max_depth} deep")
            child: list[Node] = []
            stack[-1].append(child)
            stack.append(child)
            i += 1
        elif c == 0x29:  # )
            if len(stack) == 1:
                raise Malformed("unbalanced ')'")
            stack.pop()
            i += 1
        elif c == 0x22:  # "
            j, chunk = i + 1, bytearray()
            while j < n and data[j] != 0x22:
                if data[j] == 0x5C and j + 1 < n:  # backslash escapes the next byte
                    j += 1
                chunk.append(data[j])
                j += 1
            if j >= n:
                raise Malformed("unterminated string")
            stack[-1].append(bytes(chunk))
            i = j + 1
        elif c == 0x7B:  # {n}\r\n then n bytes
            close = data.find(b"}", i, i + 12)
            if close < 0 or not data[i + 1 : close].isdigit():
                raise Malformed("bad literal")
            size = int(data[i + 1 : close])
            start = close + 1
            if data[start : start + 2] == b"\r\n":
                start += 2
            if start + size > n:
                raise Malformed("literal past the end")
            stack[-1].append(data[start : start + size])
            i = start + size
        else:
            j = i
            while j < n and data[j] not in _ATOM_END:
                j += 1
            if j == i:
                raise Malformed(f"unexpected byte {c!r}")
            atom = data[i:j]
            stack[-1].append(None if atom.upper() == b"NIL" else atom)
            i = j
    if len(stack) != 1:
        raise Malformed("unbalanced '('")
    return root


def body_structure(reply: bytes) -> Node:
    """The BODYSTRUCTURE list out of a FETCH reply (``1 (UID 5 BODYSTRUCTURE (...))``)."""
    items = parse(reply)
    for item in items:
        if isinstance(item, list):
            for key, value in zip(item[::2], item[1::2], strict=False):
                if isinstance(key, bytes) and key.upper() in (b"BODYSTRUCTURE", b"BODY") and isinstance(value, list):
                    return value
    raise Malformed("no BODYSTRUCTURE in the reply")


def number(items: list[object], prefix: bytes) -> int | None:
    """A number such as RFC822.SIZE out of a FETCH reply."""
    for item in parse(joined(items)):
        if isinstance(item, list):
            for key, value in zip(item[::2], item[1::2], strict=False):
                if isinstance(key, bytes) and key.upper() == prefix and isinstance(value, bytes) and value.isdigit():
                    return int(value)
    return None


@dataclass(frozen=True)
class PartInfo:
    """One leaf part of a message: where it is (the FETCH section), what it says it is, its size."""

    section: str
    content_type: str  # e.g. application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
    encoding: str  # base64, quoted-printable, 7bit, 8bit, binary
    size: int  # octets as sent (before decoding)
    filename: str  # decoded, or "" when it has none
    attachment: bool  # Content-Disposition: attachment


def _text(value: Node, limit: int = 1000) -> str:
    if not isinstance(value, bytes):
        return ""
    return value[:limit].decode("utf-8", errors="replace")


def _params(value: Node) -> dict[str, str]:
    """A part's parameters (the first MAX_PARAMS), names lower-cased."""
    found: dict[str, str] = {}
    if isinstance(value, list):
        for key, item in list(zip(value[::2], value[1::2], strict=False))[:MAX_PARAMS]:
            name = _text(key, 100).strip().lower()
            if name and name not in found:
                found[name] = _text(item)
    return found


def decoded_filename(params: dict[str, str]) -> str:
    """A file name from ``filename``/``name`` parameters: RFC 2231 (``filename*``, continued as
    ``filename*0*``, ``filename*1``...) and RFC 2047 encoded words are decoded; what does not decode is
    kept as written."""
    for base in ("filename", "name"):
        pieces: list[tuple[int, bool, str]] = []
        for key, value in params.items():
            match = re.fullmatch(re.escape(base) + r"(?:\*(\d{1,3}))?(\*)?", key)
            if match is not None:
                pieces.append((int(match.group(1) or 0), match.group(2) is not None, value))
        if not pieces:
            continue
        pieces.sort()
        if not any(extended for _, extended, _ in pieces):
            text = "".join(value for _, _, value in pieces)
            try:
                return str(email.header.make_header(email.header.decode_header(text)))
            except (LookupError, ValueError, UnicodeError, email.errors.HeaderParseError):
                return text
        charset, raw = "utf-8", bytearray()
        for index, (_, extended, value) in enumerate(pieces):
            if extended and index == 0 and value.count("'") >= 2:
                charset, _, value = value.split("'", 2)
                charset = charset or "utf-8"
            raw += _unquote(value) if extended else value.encode("utf-8", errors="replace")
        try:
            return bytes(raw).decode(charset, errors="replace")
        except LookupError:
            return bytes(raw).decode("utf-8", errors="replace")
    return ""


def _unquote(text: str) -> bytes:
    """The %XX escapes of an RFC 2231 value, as bytes (its charset decodes them)."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[i + 1 : i + 3]):
            out.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            out += text[i].encode("utf-8", errors="replace")
            i += 1
    return bytes(out)


def parts(structure: Node) -> list[PartInfo]:
    """Every leaf part of the body, forwarded messages' parts included, with its FETCH section
    (iteratively, at most MAX_PARTS)."""
    found: list[PartInfo] = []
    todo: list[tuple[Node, str]] = [(structure, "")]  # (node, its section; "" for the message's own body)
    while todo:
        node, section = todo.pop()
        if not isinstance(node, list) or not node:
            continue
        if isinstance(node[0], list):  # multipart: its children, then the subtype and extension data
            children: list[Node] = []
            for child in node:
                if not isinstance(child, list):
                    break
                children.append(child)
            for index, child in reversed(list(enumerate(children, start=1))):
                todo.append((child, f"{section}.{index}" if section else str(index)))
            continue
        kind, subtype = _text(node[0], 100).lower(), _text(node[1] if len(node) > 1 else None, 100).lower()
        leaf_section = section or "1"
        if kind == "message" and subtype in ("rfc822", "global") and len(node) > 8 and isinstance(node[8], list):
            inner = node[8]  # a forwarded message's body: its parts are <section>.1, <section>.2...
            nested = bool(inner) and isinstance(inner[0], list)
            todo.append((inner, leaf_section if nested else f"{leaf_section}.1"))
            continue
        params = _params(node[2] if len(node) > 2 else None)
        encoding = _text(node[5] if len(node) > 5 else None, 40).lower()
        size_text = node[6] if len(node) > 6 else None
        size = int(size_text) if isinstance(size_text, bytes) and size_text.isdigit() else 0
        disposition_at = 9 if kind == "text" else 8
        disposition = node[disposition_at] if len(node) > disposition_at else None
        attachment, disposition_params = False, {}
        if isinstance(disposition, list) and disposition:
            attachment = _text(disposition[0], 40).lower() == "attachment"
            disposition_params = _params(disposition[1] if len(disposition) > 1 else None)
        filename = decoded_filename(disposition_params) or decoded_filename(params)
        found.append(PartInfo(leaf_section, f"{kind}/{subtype}", encoding, size, filename, attachment))
        if len(found) > MAX_PARTS:
            raise TooComplex(f"it has more than {MAX_PARTS} parts")
    return found
