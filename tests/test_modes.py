"""Who may read the workspace: its owner only, except the outputs the facilitator shares."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from tests.intake_helpers import LEADER, OTHER, drop, filled


def _shared(relative: Path) -> bool:
    parts = relative.parts
    return parts[:2] == ("outbox", "forms") or (
        parts[:2] == ("outbox", "reports") and ("shareable" in parts[-1] or parts[-1].startswith("briefing"))
    )


def test_everything_is_the_owners_but_the_forms_and_the_shareable_edition(tmp_path):
    from pipeline import stages
    from pipeline.cli import app
    from pipeline.stages import send as mail_run
    from pipeline.workspace import Workspace

    root = tmp_path / "riverside"
    made = CliRunner().invoke(app, ["init", str(root)])
    assert made.exit_code == 0, made.output
    space = Workspace.at(root)
    stages.issue_forms(space)
    drop(root, "good.xlsx", filled(root, LEADER))
    drop(root, "bad.xlsx", filled(root, OTHER, {1: "comfortable"}))
    stages.nightly(space)
    mail_run(space, "invitations", stages.workspace_config(space))

    shared, private = [], []
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        relative = path.relative_to(root)
        if path.is_file():
            (shared if _shared(relative) else private).append((relative, mode))
    assert len(shared) == 15 + 3  # every form, the shareable workbook, its CSV and the briefing
    assert {mode for _, mode in shared} == {0o644}
    wrong = [(str(relative), oct(mode)) for relative, mode in private if mode & 0o077]
    assert not wrong, wrong
    assert {p for p, _ in private} >= {
        Path("config/roster.csv"),
        Path("state/clb.sqlite"),
        Path("state/audit.log"),
        Path("outbox/round.html"),  # it names leaders
    }
    for relative, _ in shared:  # every folder on the way to a shared file can be passed
        for folder in list(relative.parents)[:-2]:
            assert stat.S_IMODE((root / folder).stat().st_mode) == 0o755, folder
    folders = [p for p in root.rglob("*") if p.is_dir()]
    private_folders = [p for p in folders if not any(_shared(q.relative_to(root)) for q in p.rglob("*") if q.is_file())]
    assert private_folders and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in private_folders)
