"""Every byte of a folder searched for words: files as they are, the members of every zip (workbooks are
zips, so their text is compressed), and the decoded parts of every .eml. For the forget test."""

from __future__ import annotations

import email
import io
import zipfile
from email import policy
from pathlib import Path


def _decoded(path: Path, data: bytes) -> list[tuple[str, bytes]]:
    """What a reader of ``path`` would see: the bytes, and inside them what is compressed or encoded."""
    found = [(str(path), data)]
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                found += [(f"{path}!{info.filename}", archive.read(info)) for info in archive.infolist()]
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
            pass
    if path.suffix == ".eml":
        message = email.message_from_bytes(data, policy=policy.default)
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found += [(f"{path}!{part.get_content_type()}", payload)]
                found += _decoded(Path(f"{path}.{part.get_filename() or 'part'}"), payload)[1:]
    return found


def search(root: Path, words: list[str], skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(where, word) for every word found under ``root`` (UTF-8, and XML-escaped where that differs)."""
    needles = {word: {word.encode("utf-8"), word.replace("'", "&apos;").encode("utf-8")} for word in words}
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(part in skip for part in path.relative_to(root).parts):
            continue
        for where, data in _decoded(path, path.read_bytes()):
            hits += [(where, word) for word, forms in needles.items() if any(form in data for form in forms)]
    return hits
