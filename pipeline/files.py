"""Writing files so that a reader never sees half of one, and a crash never leaves one half-written."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.processes import WINDOWS


def json_bytes(data: object) -> bytes:
    """A report as clb writes it: indented UTF-8 JSON with a final newline."""
    return b"".join(json_parts(data))


JSON_BLOCK = 1 << 16


def json_parts(data: object, block_size: int = JSON_BLOCK) -> Iterator[bytes]:
    """``json_bytes`` in blocks of about 64 KiB, as the encoder makes them, for ``atomic_write``: an
    indented report is encoded in Python, piece by piece, and a night's report of 10,000 returns joined
    whole held its pieces, the text and the bytes at once (~8 MiB more at the night's peak)."""
    pieces = json.JSONEncoder(ensure_ascii=False, indent=2).iterencode(data)
    return utf8_blocks(itertools.chain(pieces, ("\n",)), block_size)


def utf8_blocks(pieces: Iterable[str], block_size: int = JSON_BLOCK) -> Iterator[bytes]:
    """Many small pieces of text (an encoder's, a template's) as UTF-8 blocks of at least ``block_size``
    characters each but the last: written as they come, never joined whole."""
    block: list[str] = []
    size = 0
    for piece in pieces:
        block.append(piece)
        size += len(piece)
        if size >= block_size:
            yield "".join(block).encode("utf-8")
            block.clear()
            size = 0
    yield "".join(block).encode("utf-8")


def fsync(path: Path) -> None:
    """Flush one file, or one folder's entries, to the disk. Windows neither opens a folder with
    ``os.open`` nor flushes a file opened only for reading (FlushFileBuffers needs write access): there a
    file is opened for writing to be flushed, and folders are left to NTFS, which journals their entries
    itself. A file Windows will not open for writing (read-only) was not written by clb, and is on the
    disk already."""
    if WINDOWS:
        if path.is_dir():
            return
        try:
            descriptor = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
        except PermissionError:
            return
    else:
        descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


FLUSHERS = 8  # flushes at once: the disk's journal commits those that wait together in one go


def fsync_all(paths: Iterable[Path]) -> None:
    """``fsync`` each of ``paths``, several at once (the flush releases the interpreter's lock): a night's
    archive of 2,000 returns took 0.14 ms a file one after another, 0.06 ms eight at a time. The first
    failure is raised once every flush has ended."""
    paths = list(paths)
    if len(paths) < 2:
        for path in paths:
            fsync(path)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(FLUSHERS, len(paths)), thread_name_prefix="clb-fsync") as pool:
        list(pool.map(fsync, paths))  # leaving the pool waits for every flush, failed or not


def settle(paths: list[Path]) -> None:
    """Flush files written with ``durable=False`` to the disk before anything records them as written:
    one sync of the system's writes where there is one (Linux, macOS), else one flush a file."""
    if not paths:
        return
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:  # Windows (tests/test_portable.py takes os.sync away)
        fsync(path)


SHARED_FILE, SHARED_FOLDER = 0o644, 0o755
PRIVATE_FILE, PRIVATE_FOLDER = 0o600, 0o700


def make_private(folder: Path) -> None:
    """Everything under ``folder`` (and it) its owner's only: for a copied configuration, whose files
    keep the modes of wherever they were copied from."""
    os.chmod(folder, PRIVATE_FOLDER)
    for path in folder.rglob("*"):
        if not path.is_symlink():
            os.chmod(path, PRIVATE_FOLDER if path.is_dir() else PRIVATE_FILE)


def share(path: Path, within: Path) -> None:
    """Make ``path`` readable by others, and every folder from ``within`` down to it passable: for the
    outputs the facilitator shares (the forms, the shareable edition). Everything else stays the owner's."""
    os.chmod(path, SHARED_FILE)
    folder = path.parent
    while folder.is_relative_to(within):
        os.chmod(folder, SHARED_FOLDER)
        if folder == within:
            break
        folder = folder.parent


def atomic_write(
    path: Path, data: bytes | Iterable[bytes], shared_from: Path | None = None, durable: bool = True
) -> None:
    """Write ``data`` (bytes, or parts written as they come) so that ``path`` is always either the old
    file or the whole new one. The file is its owner's only, unless ``shared_from`` says it is shared
    (``share``: from that folder down).
    ``durable`` False leaves flushing it to the disk to one ``settle`` for many files (a night's letters:
    thousands of flushes cost seconds, one costs milliseconds)."""
    whole = isinstance(data, (bytes, bytearray, memoryview))
    with _temporary_beside(path, (data,) if whole else data, durable) as temp:  # type: ignore[arg-type]
        if shared_from is not None:
            share(temp, shared_from)
        os.replace(temp, path)


def write_if_changed(path: Path, parts: Iterable[bytes]) -> bool:
    """``parts`` written to ``path`` as ``atomic_write`` does (owner-only, durable), unless the file holds
    those very bytes already; whether it changed. Each part goes to the temporary file as it is made, so a
    page of 10,000 leaders is never held whole in memory (with the pieces it is joined from, ~30 MiB)."""
    made = hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for part in parts:
            made.update(part)
            yield part

    with _temporary_beside(path, hashed(), durable=True) as temp:
        if path.is_file() and _sha256(path) == made.digest():
            temp.unlink()
            return False
        os.replace(temp, path)
        return True


@contextlib.contextmanager
def _temporary_beside(path: Path, parts: Iterable[bytes], durable: bool) -> Iterator[Path]:
    """``parts`` in a temporary file beside ``path`` (owner-only), for the caller to rename into place or
    remove; gone when anything failed. (Not removed on success as well: after the rename that is one
    more system call for each of a night's thousands of letters.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    temp = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            for part in parts:
                stream.write(part)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        yield temp
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> bytes:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").digest()


BESIDE_TRIES = 9  # "(new)", "(new 2)" … "(new 9)": a facilitator who opens each new one too


def beside(path: Path, number: int = 1) -> Path:
    """Where a new edition of ``path`` goes while ``path`` is held: ``comparison-… (new).xlsx``."""
    return path.with_name(f"{path.stem} (new{'' if number == 1 else f' {number}'}){path.suffix}")


def waiting_beside(path: Path) -> list[Path]:
    """The new editions written beside ``path`` while it was held, not yet put in its place."""
    pattern = f"{glob.escape(path.stem)} (new*){glob.escape(path.suffix)}"
    return sorted(found for found in path.parent.glob(pattern) if found.is_file())


def write_output(path: Path, data: bytes, shared_from: Path | None = None) -> Path | None:
    """Write an output people open (a workbook, the figures' CSV) in its place, as ``atomic_write``;
    None when it went there. On Windows a file open in Excel cannot be replaced (a sharing violation,
    PermissionError): the new edition is then written beside it (``beside``) and that path returned, so
    that the night goes on and says where it is. Once the file is free, the next write puts the edition
    in its place and removes those written beside it (one still open elsewhere stays for a later night)."""
    try:
        atomic_write(path, data, shared_from)
    except PermissionError:
        if not path.is_file():
            raise  # not a file held open: a folder clb may not write to, which a person must fix
        for number in range(1, BESIDE_TRIES + 1):
            with contextlib.suppress(PermissionError):  # that one is open too
                atomic_write(beside(path, number), data, shared_from)
                return beside(path, number)
        raise
    for old in waiting_beside(path):
        with contextlib.suppress(OSError):
            old.unlink()
    return None
