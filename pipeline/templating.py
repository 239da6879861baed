"""Jinja2 for everything we render from templates: HTML is always autoescaped, so nothing a leader typed
(or a roster holds) becomes markup. A workspace may override any template with its own ``templates/``.

Templates are rendered in Jinja2's immutable sandbox: facilitators edit wording, and a template is text
from whoever can write the workspace, so it may print and loop over what it is given but never reach a
Python attribute such as ``__globals__`` (``{{ cycler.__init__.__globals__.os.popen('id') }}`` is refused
as unsafe), call a method that changes data, or import anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pipeline.resources import templates_dir
from pipeline.text import shown_safely


def _autoescape(name: str | None) -> bool:
    return name is not None and ".htm" in name


def environment(workspace_root: Path | None = None) -> Environment:
    loaders = []
    if workspace_root is not None and (workspace_root / "templates").is_dir():
        loaders.append(FileSystemLoader(workspace_root / "templates"))
    loaders.append(FileSystemLoader(templates_dir()))
    return ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        autoescape=_autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
        finalize=_safe,
    )


def _safe(value: Any) -> Any:
    """Every value printed by a template: text holds no control or non-character (it could forge a line
    in a reasons file or break an XML reader); outside text was made visible already, so this is a net."""
    return shown_safely(value, lines=True) if isinstance(value, str) else value
