"""Jinja2 for everything we render from templates: HTML is always autoescaped, so nothing a leader typed
(or a roster holds) becomes markup. A workspace may override any template with its own ``templates/``."""

from __future__ import annotations

from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

PROJECT_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def _autoescape(name: str | None) -> bool:
    return name is not None and ".htm" in name


def environment(workspace_root: Path | None = None) -> Environment:
    loaders = []
    if workspace_root is not None and (workspace_root / "templates").is_dir():
        loaders.append(FileSystemLoader(workspace_root / "templates"))
    loaders.append(FileSystemLoader(PROJECT_TEMPLATES))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=_autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
