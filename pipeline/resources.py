"""What ships with clb besides code: the message templates and the example partnership's configuration.

In a checkout they are the project's own ``templates/`` and ``config/``; in an installed wheel they are
packed inside the package as ``pipeline/_bundled/`` (pyproject.toml's force-include), so ``clb init`` and
the letters work wherever clb was installed, with no checkout beside it.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """The shipped folder ``name`` ("templates" or "config"): the wheel's copy, else the checkout's."""
    for candidate in (_HERE / "_bundled" / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"clb's {name}/ folder is missing from this installation; reinstall clb")


def templates_dir() -> Path:
    return shipped("templates")


def example_config() -> Path:
    return shipped("config")
