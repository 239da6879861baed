"""The data map (docs/data.md) names every place personal data can live: a new table or folder that it
does not name fails here, so the map cannot fall behind the code."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.state import metadata

MAP = Path(__file__).resolve().parents[1] / "docs" / "data.md"


def named() -> set[str]:
    return set(re.findall(r"`([^`]+)`", MAP.read_text(encoding="utf-8")))


def test_every_table_of_the_state_database_is_on_the_map():
    assert set(metadata.tables) <= named(), sorted(set(metadata.tables) - named())


def test_every_folder_a_night_writes_is_on_the_map(tmp_path):
    """The demo's workspace after a whole round (forms, mail, returns, intake, outputs)."""
    from pipeline.config import load_config
    from pipeline.demo import prepare_demo, simulate_returns
    from pipeline.stages import send as mail_run
    from pipeline.workspace import Workspace
    from tests.conftest import EXAMPLE_CONFIG, issue_forms_here
    from tests.intake_helpers import nightly

    root = prepare_demo(EXAMPLE_CONFIG, tmp_path / "ws")
    issue_forms_here(root)
    for kind in ("invitations", "reminders"):
        mail_run(Workspace.at(root), kind, load_config(root / "config"))
    simulate_returns(root)
    nightly(root, close=True)
    for kind in ("letters", "corrections"):
        mail_run(Workspace.at(root), kind, load_config(root / "config"))
    places = named()
    found = {f"{top.name}/" for top in root.iterdir() if top.is_dir()}
    for folder in ("state", "outbox"):
        found |= {f"{folder}/{child.name}/" for child in (root / folder).iterdir() if child.is_dir()}
        found |= {f"{folder}/{child.name}" for child in (root / folder).iterdir() if child.is_file()}
    assert found - places == set(), sorted(found - places)
