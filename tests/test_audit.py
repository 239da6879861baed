"""The audit trail: append-only JSON lines, each carrying the hash of the line before."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pipeline.privacy.audit import audit_path, entries, record, verify
from pipeline.workspace import Workspace


def _trail(workspace) -> Workspace:
    space = Workspace.at(workspace)
    record(space, "forms-issued", round="2026-Q4", new=15)
    record(space, "send", kind="invitations", results={"drafted": 15})
    (workspace / "config" / "partnership.yaml").write_text(
        (workspace / "config" / "partnership.yaml").read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8"
    )
    record(space, "nightly", accepted=3, quarantined=1)
    return space


def test_the_chain_verifies_and_config_changes_are_recorded_by_hash(workspace):
    space = _trail(workspace)
    assert verify(space) == (5, None)
    actions = [entry.action for entry in entries(space)]
    assert actions == ["config-changed", "forms-issued", "send", "config-changed", "nightly"]
    first, second = (e.details["files"] for e in entries(space) if e.action == "config-changed")
    assert first["partnership.yaml"] != second["partnership.yaml"] and first["roster.csv"] == second["roster.csv"]
    assert all(len(value) == 64 for value in first.values())  # hashes, never the content


def test_editing_removing_or_inserting_a_line_is_found(workspace):
    space = _trail(workspace)
    path = audit_path(space)
    lines = path.read_bytes().splitlines(keepends=True)

    edited = json.loads(lines[2])
    edited["details"]["results"]["drafted"] = 14
    path.write_bytes(b"".join([*lines[:2], json.dumps(edited, sort_keys=True).encode() + b"\n", *lines[3:]]))
    _, problem = verify(space)
    assert problem is not None and problem.startswith("line 4 does not follow line 3")

    path.write_bytes(b"".join([*lines[:1], *lines[2:]]))  # line 2 removed
    assert verify(space)[1].startswith("line 2 does not follow line 1")

    path.write_bytes(b"".join(lines[1:]))  # the first removed
    assert "removed from the start" in verify(space)[1]

    path.write_bytes(b"".join([*lines, b"not json\n"]))
    assert verify(space)[1] == "line 6 is not an audit entry (edited or damaged)"


def test_clb_audit_shows_filters_and_verifies(workspace):
    from pipeline.cli import app

    space = _trail(workspace)
    shown = CliRunner().invoke(
        app, ["audit", "--workspace", str(workspace), "--action", "send"], env={"COLUMNS": "120"}
    )
    assert shown.exit_code == 0 and "invitations" in shown.output and "nightly" not in shown.output
    assert CliRunner().invoke(app, ["audit", "--workspace", str(workspace), "--verify"]).exit_code == 0
    path = audit_path(space)
    path.write_bytes(path.read_bytes().replace(b'"new": 15', b'"new": 16'))
    broken = CliRunner().invoke(app, ["audit", "--workspace", str(workspace), "--verify"])
    assert broken.exit_code == 1 and "altered" in broken.output


# ---------------------------------------------------------------- the anchor: cut, deleted, rewritten


def _clb_verify(workspace) -> tuple[int, str]:
    import os
    import subprocess
    import sys
    from pathlib import Path

    clb = str(Path(sys.executable).with_name("clb"))
    done = subprocess.run(
        [clb, "audit", "--verify", "-w", str(workspace)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    return done.returncode, " ".join(done.stdout.split())


def _fresh_chain(entries_: list[dict]) -> bytes:
    """The trail written anew, every link recomputed: what an attacker with write access would do."""
    import hashlib

    previous, out = "0" * 64, b""
    for entry in entries_:
        line = json.dumps({**entry, "previous": previous}, sort_keys=True, ensure_ascii=False).encode()
        out += line + b"\n"
        previous = hashlib.sha256(line).hexdigest()
    return out


def test_cutting_deleting_or_rewriting_the_trail_is_found_by_clb_audit_verify(workspace):
    from pipeline.state import open_state, set_meta

    space = _trail(workspace)
    path = audit_path(space)
    original = path.read_bytes()
    lines = original.splitlines(keepends=True)
    assert _clb_verify(workspace) == (0, "The audit trail is intact: 5 entries, each linked to the one before.")

    path.write_bytes(b"".join(lines[:3]))  # the last two lines cut: the chain alone still holds
    code, said = _clb_verify(workspace)
    assert code == 1 and "the state recorded 5 entries and the trail holds 3: 2 lines were cut from its end" in said

    path.unlink()  # deleted
    code, said = _clb_verify(workspace)
    assert code == 1 and "the trail was deleted" in said

    forged = [json.loads(line) for line in lines]
    forged[2]["details"]["results"]["drafted"] = 14
    path.write_bytes(_fresh_chain([{k: v for k, v in e.items() if k != "previous"} for e in forged]))
    code, said = _clb_verify(workspace)
    assert code == 1 and "line 5 is not the line the state recorded: the trail was rewritten" in said

    # the state's anchor rewritten too, without the key that lives outside the workspace
    import hashlib

    rewritten = path.read_bytes().splitlines()
    anchor = {"entries": 5, "last": hashlib.sha256(rewritten[-1]).hexdigest(), "signature": "0" * 64}
    set_meta(open_state(workspace / "state" / "clb.sqlite"), "audit_anchor", json.dumps(anchor))
    code, said = _clb_verify(workspace)
    assert code == 1 and "the state's record of the trail was altered" in said

    path.write_bytes(original)  # put back as it was: intact again
    from pipeline.privacy.audit import _anchor
    from pipeline.state import database

    with database(workspace / "state" / "clb.sqlite") as engine:
        _anchor(engine, 5, hashlib.sha256(lines[-1].rstrip(b"\n")).hexdigest())
    assert _clb_verify(workspace)[0] == 0


def test_every_run_report_anchors_the_trail_too(issued):
    from tests.intake_helpers import nightly

    space = Workspace.at(issued)
    nightly(issued)
    report = json.loads((issued / "outbox" / "runs" / "latest.json").read_text())
    assert report["audit"]["entries"] >= 2 and len(report["audit"]["last"]) == 64
    path = audit_path(space)
    lines = path.read_bytes().splitlines(keepends=True)
    from pipeline.state import delete_meta, open_state

    delete_meta(open_state(issued / "state" / "clb.sqlite"), "audit_anchor")  # the state's anchor removed too
    path.write_bytes(b"".join(lines[:1]))
    _, problem = verify(space)
    assert problem is not None and "lines were cut from its end" in problem and "run report" in problem
