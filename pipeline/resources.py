"""What ships with clb besides code: the message templates and the example partnership's configuration.

In a checkout they are the project's own ``templates/`` and ``config/``; in an installed wheel they are
packed inside the package as ``pipeline/_bundled/`` (pyproject.toml's force-include), so ``clb init`` and
the letters work wherever clb was installed, with no checkout beside it.
"""

from __future__ import annotations

from pathlib import Path

import yaml

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


def shipped_instruments() -> list[Path]:
    """The instrument files that come with clb: CLB0.01 (the example's own) and the others under
    ``config/instruments/``."""
    try:
        config = example_config()
    except FileNotFoundError:
        return []
    return [config / "instrument.yaml", *sorted((config / "instruments").glob("*.yaml"))]


def shipped_codes() -> dict[str, Path]:
    """The shipped instruments by their code (CLB0.01's file is the example's instrument.yaml)."""
    found: dict[str, Path] = {}
    for path in shipped_instruments():
        try:
            code = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("code", "")
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        if isinstance(code, str) and code:
            found[code] = path
    return found


def find_instrument(name: str) -> Path | None:
    """A shipped instrument by its code ("ISR0.01", any case) or file name; None when there is none."""
    wanted = name.casefold().removesuffix(".yaml")
    for code, path in shipped_codes().items():
        if wanted in (code.casefold(), path.stem.casefold()):
            return path
    return None
