"""``clb init``: a new workspace, ready for ``clb forms``, made without a developer.

A workspace starts as a copy of a configuration: the example partnership shipped with clb (its
``partnership.yaml`` commented line by line, the instrument, Linden's practices and an example roster), or
an earlier partnership's or round's (``--from``), with another instrument if asked (``--instrument``: a
file, or the code of one shipped with clb). Nothing that already holds a workspace is overwritten.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from yaml import YAMLError

from pipeline.files import atomic_write, make_private
from pipeline.instrument import load_instrument
from pipeline.resources import example_config, find_instrument, shipped_codes, shipped_instruments
from pipeline.settings import ROUND_RE
from pipeline.workspace import PRIVATE_UMASK

CONFIG_FILES = ("partnership.yaml", "instrument.yaml", "practices.yaml")
ROSTERS = ("roster.csv", "roster.xlsx")
FOLDERS = ("inbox", "outbox", "state")


class InitError(Exception):
    """The workspace cannot be made as asked: the message says why and what to do."""


@dataclass(frozen=True)
class Made:
    root: Path
    source: Path
    round: str | None
    instrument: Path | None = None


def source_config(source: Path | None) -> Path:
    """The config folder to start from: clb's example, or ``source`` (a workspace or its config/)."""
    if source is None:
        return example_config()
    source = source.expanduser().resolve()
    for folder in (source / "config", source):
        if (folder / "partnership.yaml").is_file():
            return folder
    raise InitError(f"{source} holds no partnership.yaml (nor does {source / 'config'}): give --from a workspace")


def instrument_file(given: str) -> Path:
    """The instrument file ``--instrument`` names: a YAML file, or the code of an instrument shipped with
    clb ("ISR0.01"); checked, so that a workspace is never made around a tool it cannot run."""
    path = Path(given).expanduser()
    found = path if path.is_file() else find_instrument(given)
    if found is None:
        codes = ", ".join(shipped_codes())
        raise InitError(f"--instrument {given!r} is neither a file nor an instrument shipped with clb ({codes})")
    try:
        load_instrument(found, shipped_instruments())
    except (OSError, YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()[:4]
        raise InitError(f"{found} cannot be used as an instrument: " + " ".join(first)) from None
    return found


def init_workspace(
    target: Path,
    source: Path | None = None,
    round_id: str | None = None,
    instrument: str | None = None,
    deadline: dt.date | None = None,
) -> Made:
    """Make ``target`` a workspace: config/ copied from ``source_config(source)``, the workspace's own
    templates/ too when it has some, and empty inbox/, outbox/ and state/. ``round_id`` and ``deadline``
    replace those in partnership.yaml, keeping its comments; the example partnership gets a deadline four
    weeks on, so that every step can be tried at once. ``instrument`` (see ``instrument_file``) replaces
    the instrument; its own suggested practices are used, so the source's practices.yaml is left out."""
    root = target.expanduser().resolve()
    tool = instrument_file(instrument) if instrument is not None else None
    os.umask(PRIVATE_UMASK)  # the roster and everything to come: the owner's only
    if round_id is not None and not ROUND_RE.match(round_id):
        raise InitError(
            f"--round {round_id!r} cannot be a round id: use letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit, at most 40 characters (e.g. 2027-Q1)"
        )
    if deadline is not None and deadline < dt.date.today():
        raise InitError(f"--deadline {deadline} is in the past: give the date leaders should return their form by")
    if root.is_file():
        raise InitError(f"{root} is a file; give a folder for the new workspace")
    taken = [name for name in ("config", *FOLDERS) if (root / name).exists()]
    if taken:
        raise InitError(
            f"{root} already holds a workspace ({', '.join(n + '/' for n in taken)}); nothing was changed. "
            "Choose a new folder, or work in this one."
        )
    config = source_config(source)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / ".config.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name in CONFIG_FILES:
        if (config / name).is_file():
            shutil.copy2(config / name, staging / name)
    if tool is not None:
        shutil.copy2(tool, staging / "instrument.yaml")
        (staging / "practices.yaml").unlink(missing_ok=True)
    for name in ROSTERS:
        if (config / name).is_file():
            shutil.copy2(config / name, staging / name)
    if round_id is not None:
        set_round(staging / "partnership.yaml", round_id)
    if deadline is None and source is None:
        deadline = dt.date.today() + dt.timedelta(days=28)
    if deadline is not None:
        set_deadline(staging / "partnership.yaml", deadline)
    make_private(staging)
    staging.rename(root / "config")  # all of config/ or none of it
    templates = config.parent / "templates"
    if source is not None and config.name == "config" and templates.is_dir():
        shutil.copytree(templates, root / "templates")
        make_private(root / "templates")
    for folder in FOLDERS:
        (root / folder).mkdir(exist_ok=True)
    return Made(root, config, round_id, tool)


def set_settings(path: Path, **values: str) -> None:
    """Write top-level keys of partnership.yaml (``round``, ``deadline``) in one replace, keeping its
    comments: the file is the old one or the new one, never half."""
    text = path.read_text(encoding="utf-8")
    for key, value in values.items():
        text, count = re.subn(rf"(?m)^{key}:[^#\n]*", f"{key}: {value}", text, count=1)
        if not count:
            text = text.rstrip("\n") + f"\n{key}: {value}\n"
    atomic_write(path, text.encode("utf-8"))


def set_deadline(path: Path, deadline: dt.date) -> None:
    set_settings(path, deadline=deadline.isoformat())


def set_round(path: Path, round_id: str) -> None:
    set_settings(path, round=round_id)


def next_steps(made: Made) -> list[tuple[str, str]]:
    """The three things a facilitator does next, in their words, each with what to type or open (paths
    inside the workspace, so that each fits a line)."""
    return [
        (
            "Edit config/partnership.yaml: your partnership's name, yourself as facilitator, the round and "
            "its deadline (each line says what it is).",
            "",
        ),
        ("Put your leaders in config/roster.csv (organisation, name, email, role), replacing the examples.", ""),
        (
            "In the workspace folder, make everyone's form, then send the invitations:",
            "clb forms && clb send invitations",
        ),
    ]
