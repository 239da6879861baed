"""Where a workspace ends after its runs, in a form two workspaces can be compared by: the crash tests
(a killed run, run again, ends as an uninterrupted one) and the work-pool tests (a run on a worker, or
one crashed and run again, ends as the same run alone without the engine)."""

from __future__ import annotations

import gc
import re
import time
import zipfile
from pathlib import Path

from sqlalchemy import select

from pipeline.state import corrections, open_state, problems, received, responses

# what differs between two runs of the same work: times, run ids and the workspace's own path
_MOMENT = re.compile(rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?|\d{8}-\d{6}-[0-9a-f]{6}")
_LINES = re.compile(r"^(Received|Run): .*$|outbox/corrections/[^/]+/", re.M)


def snapshot(root: Path) -> dict:
    """The state's decisions, problems, responses and corrections, the quarantine and correction files,
    the archive and what is left in the inbox."""
    engine = open_state(root / "state" / "clb.sqlite")
    with engine.connect() as db:
        files = {row.id: row.file for row in db.execute(select(received))}
        state = {
            "received": sorted(
                (r.file, r.sha256, r.decision, r.leader_id, r.same_as, r.archive_path)
                for r in db.execute(select(received))
            ),
            "problems": sorted((files[p.received_id], p.code, p.cell, p.message) for p in db.execute(select(problems))),
            "responses": sorted(
                (r.leader_id, r.sha256, r.answers, r.superseded_by is None) for r in db.execute(select(responses))
            ),
            "corrections": sorted(
                (files[c.received_id], c.leader_id, Path(c.html_path).name) for c in db.execute(select(corrections))
            ),
        }
    engine.dispose()
    outbox = root / "outbox"
    state["quarantine"] = sorted(
        (p.name, _LINES.sub("", p.read_text()) if p.suffix == ".txt" else p.read_bytes().hex()[:64])
        for p in (outbox / "quarantine").rglob("*")
        if p.is_file()
    )
    state["corrections_files"] = sorted(
        (p.name, p.read_text()) for p in (outbox / "corrections").rglob("*") if p.is_file()
    )
    state["archive"] = sorted(p.name for p in (root / "state" / "archive").rglob("*") if p.is_file())
    state["inbox"] = sorted(
        p.relative_to(root / "inbox").as_posix() for p in (root / "inbox").rglob("*") if p.is_file()
    )
    state["summaries"] = len(list((outbox / "runs").glob("*/summary.json")))
    return state


def outputs(root: Path) -> dict[str, bytes]:
    """Every file the runs wrote to outbox/ but the run reports: letters, workbooks (each part, without
    the document properties), the figures CSV, corrections, quarantine. Times and run ids masked."""
    found: dict[str, bytes] = {}
    outbox = root / "outbox"
    for path in sorted(outbox.rglob("*")):
        name = _mask(path.relative_to(outbox).as_posix().encode(), root).decode()
        if not path.is_file() or name.startswith("runs/"):
            continue
        if path.suffix == ".xlsx" and not name.startswith(("forms/", "quarantine/")):
            with zipfile.ZipFile(path) as archive:
                for part in sorted(archive.namelist()):
                    if not part.startswith("docProps/"):
                        found[f"{name}!{part}"] = _mask(archive.read(part), root)
        else:
            found[name] = _mask(path.read_bytes(), root)
    return found


def outcome(root: Path) -> dict:
    """snapshot() and outputs() together, the count of run reports left out; read once every process that
    had the state database open has closed it (a run's flow process outlives its Completed state by a
    moment, and the last to close the database folds its write-ahead log back in)."""
    gc.collect()  # this process's own engines left from running stages (their connections close with them)
    deadline = time.monotonic() + 60
    while (root / "state" / "clb.sqlite-wal").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    state = snapshot(root)
    del state["summaries"]
    return {"state": state, "outputs": outputs(root)}


def _mask(data: bytes, root: Path) -> bytes:
    return _MOMENT.sub(b"<moment>", data.replace(str(root).encode(), b"<workspace>"))
