"""The demo: a fresh workspace holding the example partnership, for ``make demo``."""

from __future__ import annotations

import shutil
from pathlib import Path

DEMO_MARKER = ".clb-demo"


def prepare_demo(source_config: Path, target: Path) -> Path:
    """Make ``target`` a new workspace with a copy of ``source_config``. An earlier demo there is
    replaced; any other existing folder is refused, so the demo can never wipe real work."""
    if not (source_config / "partnership.yaml").is_file():
        raise FileNotFoundError(f"{source_config} holds no partnership.yaml; pass --from pointing at a config folder")
    if target.exists():
        if not (target / DEMO_MARKER).exists():
            raise ValueError(f"{target} exists and is not a demo workspace; choose another --workspace or move it away")
        shutil.rmtree(target)
    (target / "config").parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source_config, target / "config")
    for folder in ("inbox", "outbox", "state"):
        (target / folder).mkdir()
    (target / DEMO_MARKER).write_text("made by clb demo; removed by the next clb demo\n", encoding="utf-8")
    return target
