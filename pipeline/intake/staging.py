"""Files taken out of the inbox for the run that reads them, so that nothing is deleted that was not read.

Reading ``inbox/Form.xlsx``, archiving it, and at the end of the chunk unlinking the path would delete
unread a corrected form saved over the same name meanwhile (a mail client replacing a saved attachment, a
sync client). So at the start of its chunk, each ready file is *renamed* into the run's
private ``state/staging/<run>/`` (one atomic step on the same file system): from then on the run works
on a file nobody else can reach, and whatever lands at the inbox name afterwards is a new file for the
next run. The archive is a hard link to the staged file, so a file is stored once whatever its size and
keeps its sparseness; the staged name goes once the decisions are committed.

Nothing is lost if the run dies: the run's ``manifest.json`` (written before any file moves) maps each
staged file to its inbox name, and the next run puts back what a dead run left before it lists the
inbox. A file the run took but did not decide (it could not be read, or changed while being taken) goes
back to the inbox at its own name, or beside it when a new file has taken that name.

Where the inbox is on another file system than the workspace's state (a shared folder), a rename cannot
move the file: it is read in place, and leaves the inbox only if the file at its name is still the very
file that was read (same identity and bytes), checked by first renaming it aside within the inbox.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.contracts import Waiting
from pipeline.files import atomic_write, fsync, json_parts
from pipeline.names import safe_segment
from pipeline.text import original
from pipeline.workspace import Workspace

MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Taken:
    """A ready file as the run holds it: ``path`` is where it is read from (staged, or in place)."""

    path: Path
    name: str  # inbox-relative, made visible (pipeline.text)
    size: int
    mtime_ns: int
    inbox_path: Path  # where it was in the inbox
    staged: bool  # False: read in place (the inbox is on another file system)
    identity: tuple[int, int] = (0, 0)  # (device, inode) when read in place, for the check before removal


def folder(space: Workspace, run_id: str) -> Path:
    return space.state_dir / "staging" / run_id


def _waiting(name: str, why: str, needs_you: bool) -> Waiting:
    return {"file": name, "why": why, "needs_you": needs_you}


def take(space: Workspace, run_id: str, ready: list[tuple[Path, str, int, int]]) -> tuple[list[Taken], list[Waiting]]:
    """Move each ready file (path, name, size, mtime_ns as listed) into the run's staging folder; those
    that cannot be moved wait in the inbox, with the reason."""
    here = folder(space, run_id)
    here.mkdir(parents=True, exist_ok=True)
    manifest = {f"{index:06d}": {"name": name} for index, (_, name, _, _) in enumerate(ready)}
    atomic_write(here / MANIFEST, json_parts(manifest))
    fsync(here)
    taken: list[Taken] = []
    waiting: list[Waiting] = []
    in_place = False
    for index, (path, name, size, mtime_ns) in enumerate(ready):
        target = here / f"{index:06d}"
        if not in_place:
            try:
                os.rename(path, target)
            except FileNotFoundError:
                waiting.append(_waiting(name, "it was removed from the inbox before this run could take it", False))
                continue
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    why = f"it could not be taken from the inbox ({exc.strerror or exc}): it may be open in a program"
                    waiting.append(_waiting(name, why, True))
                    continue
                in_place = True  # another file system: read every file of the chunk where it is
        if in_place:
            try:
                stat = path.stat()
            except OSError as exc:
                waiting.append(_waiting(name, f"it cannot be examined ({exc.strerror or exc})", True))
                continue
            taken.append(Taken(path, name, size, mtime_ns, path, False, (stat.st_dev, stat.st_ino)))
            continue
        stat = target.stat()
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):  # written to between listing and taking
            put_back(target, path)
            waiting.append(_waiting(name, "it changed while this run was taking it", False))
            continue
        taken.append(Taken(target, name, size, mtime_ns, path, True))
    return taken, waiting


def put_back(staged: Path, inbox_path: Path) -> Path:
    """Return a staged file to the inbox at its own name, or beside it ("name (2).xlsx") when a new file
    has taken the name meanwhile; never over another file. Returns where it went."""
    inbox_path.parent.mkdir(parents=True, exist_ok=True)
    for number in range(1, 1000):
        candidate = inbox_path if number == 1 else _beside(inbox_path, number)
        try:
            os.link(staged, candidate)  # fails if the name is taken: nothing is ever replaced
        except FileExistsError:
            continue
        except OSError:  # no hard links here: a rename that may not replace
            if candidate.exists():
                continue
            os.rename(staged, candidate)
            return candidate
        staged.unlink()
        return candidate
    raise FileExistsError(f"no free name beside {inbox_path}")


def _beside(path: Path, number: int) -> Path:
    return path.with_name(f"{path.stem} ({number}){path.suffix}")


def restore(space: Workspace, keep: str | None = None) -> int:
    """Put back into the inbox every file a run that died left in staging (all runs' folders but
    ``keep``); returns how many."""
    root = space.state_dir / "staging"
    if not root.is_dir():
        return 0
    count = 0
    for run in sorted(root.iterdir()):
        if run.name == keep or not run.is_dir():
            continue
        try:
            manifest = json.loads((run / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}  # no manifest: the run died before it moved anything
        for key, entry in sorted(manifest.items()):
            staged = run / key
            if staged.is_file():
                put_back(staged, space.inbox / original(str(entry.get("name", key))))
                count += 1
        shutil.rmtree(run, ignore_errors=True)
    return count


def finish(space: Workspace, run_id: str, decided: list[tuple[Taken, str]], undecided: list[Taken]) -> list[Waiting]:
    """After the run's decisions are committed: the staged files decided go (the archive keeps each), the
    others go back to the inbox; a file read in place leaves the inbox only if it is still the file that
    was read. Returns the files left in the inbox that the report must name."""
    left: list[Waiting] = []
    for item, sha256 in decided:
        if item.staged:
            item.path.unlink(missing_ok=True)
        elif not remove_if_same(item, sha256):
            why = "it was replaced while this run was reading it: the new file is taken in by the next run"
            left.append(_waiting(item.name, why, False))
    for item in undecided:
        if item.staged and item.path.exists():
            put_back(item.path, item.inbox_path)
    shutil.rmtree(folder(space, run_id), ignore_errors=True)
    return left


def remove_if_same(item: Taken, sha256: str) -> bool:
    """Remove a file read in place only if the inbox still holds that very file: same device and inode,
    size, time and bytes. It is first renamed aside within its folder, so that the file checked is the
    file removed; one that is not is put back. Returns whether it was removed (or is already gone)."""
    try:
        stat = item.inbox_path.stat()
    except FileNotFoundError:
        return True
    if (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns) != (*item.identity, item.size, item.mtime_ns):
        return False
    aside = item.inbox_path.with_name(f".clb-removing-{os.getpid()}-{item.inbox_path.name}")
    os.rename(item.inbox_path, aside)
    if sha256_of(aside) == sha256:
        aside.unlink()
        return True
    put_back(aside, item.inbox_path)
    return False


def sha256_of(path: Path) -> str:
    """A file's sha256, read a megabyte at a time (a file refused as too large is never held whole)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` as the same file as ``source`` (a hard link: stored once, sparseness kept), or a copy
    that keeps holes as holes where links cannot be made (another file system, FAT)."""
    try:
        os.link(source, target)
    except OSError:
        sparse_copy(source, target)


def sparse_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` writing only its data: a sparse file stays sparse (SEEK_DATA and
    SEEK_HOLE where the system has them; a plain copy elsewhere)."""
    if not hasattr(os, "SEEK_DATA"):
        shutil.copyfile(source, target)
        return
    size = source.stat().st_size
    with source.open("rb") as reading, target.open("wb") as writing:
        fd = reading.fileno()
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # only a hole is left
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            reading.seek(start)
            writing.seek(start)
            remaining = end - start
            while remaining:
                block = reading.read(min(remaining, 1 << 20))
                if not block:
                    break
                writing.write(block)
                remaining -= len(block)
            offset = end
        writing.truncate(size)


def archive_path(sha256: str) -> str:
    """Where a received file's original is kept, under its sha256 (workspace-relative)."""
    return f"state/archive/{sha256[:2]}/{sha256}"


def quarantine_path(run_id: str, sha256: str, file: str) -> str:
    """Where the facilitator finds a quarantined file (workspace-relative): its run's folder, the name
    it had in the inbox (a path under inbox/ flattened, made safe) after its sha256's first characters;
    its reasons are beside it, with ``.reasons.txt`` added."""
    return f"outbox/quarantine/{run_id}/{sha256[:8]} {safe_segment(file.replace('/', ' - '))}"
