"""Putting filled forms into a workspace inbox and running intake without the engine."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipeline import stages
from pipeline.config import load_config
from pipeline.contracts import RunReport
from pipeline.instrument import Instrument
from pipeline.simulate import answers, fill
from pipeline.state import FormRecord, active_forms, open_state
from pipeline.workspace import Workspace

ALL_COMFORTABLE = dict.fromkeys(range(1, 8), "comfortable")
MIXED = {
    1: "comfortable",
    2: "stretched",
    3: "panicked",
    4: "stretched",
    5: "comfortable",
    6: "panicked",
    7: "stretched",
}


def mixed(instrument: Instrument) -> dict[int, str]:
    """MIXED's pattern of columns for any instrument: MIXED itself for CLB0.01."""
    keys = [tick.key for tick in instrument.ticks]
    return {p.number: keys[(0, 1, 2, 1, 0, 2, 1)[(p.number - 1) % 7] % len(keys)] for p in instrument.perspectives}


def forms(root: Path) -> dict[str, FormRecord]:
    config = load_config(root / "config")
    return active_forms(open_state(root / "state" / "clb.sqlite"), config.settings.round)


def filled(
    root: Path, leader_id: str, choices: dict[int, str] | None = None, mark: object = "✓", **extra: object
) -> bytes:
    config = load_config(root / "config")
    record = forms(root)[leader_id]
    values = answers(config.instrument, mixed(config.instrument) if choices is None else choices, mark=mark)  # type: ignore[arg-type]
    return fill((root / record.path).read_bytes(), config.instrument, values | extra)  # type: ignore[arg-type]


_clock = [time.time() - 30 * 86400]  # a month ago, one second apart: always settled, always in order


def drop(root: Path, name: str, data: bytes, age: float | None = None) -> Path:
    """Save ``data`` into the inbox as a facilitator would, settled (older than the settle time) and later
    than anything dropped before."""
    path = root / "inbox" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    _clock[0] += 1
    stamp = _clock[0] if age is None else time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def nightly(root: Path, close: bool = False) -> RunReport:
    """The nightly stages (intake, then outputs) without the engine; ``close``: as `clb close`."""
    return stages.nightly(Workspace.at(root), close=close)


LEADER = "priya.raman@riverside-council.example"
OTHER = "tom.hughes@riverside-council.example"
