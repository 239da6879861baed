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
