"""Remake tests/data/returns/: real files saved by LibreOffice and Gnumeric, for the intake work.

Run: uv run python -m tests.clients.make_fixtures   (needs soffice, python3-uno and ssconvert)
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from pipeline.config import load_config
from pipeline.forms import layout as L
from pipeline.forms.reference import build_form
from pipeline.simulate import fill
from tests.clients import gnumeric_resave, libreoffice_fill
from tests.clients import scenarios as S

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "tests" / "data" / "returns"


def main() -> None:
    instrument = load_config(ROOT / "config").instrument
    TARGET.mkdir(parents=True, exist_ok=True)
    manifest = {"form_version": L.form_version(instrument), "round": S.FIELDS.round, "files": {}}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name, token, fills, expected in [
            ("libreoffice-complete.xlsx", "fixture-token-complete", S.COMPLETE, S.COMPLETE_COUNTS),
            ("libreoffice-problems.xlsx", "fixture-token-problems", S.PROBLEMS, S.PROBLEMS_COUNTS),
            ("libreoffice-complete.ods", "fixture-token-complete", S.COMPLETE, S.COMPLETE_COUNTS),
            ("libreoffice-problems.ods", "fixture-token-problems", S.PROBLEMS, S.PROBLEMS_COUNTS),
            ("libreoffice-complete.xls", "fixture-token-complete", S.COMPLETE, S.COMPLETE_COUNTS),
            ("libreoffice-problems.xls", "fixture-token-problems", S.PROBLEMS, S.PROBLEMS_COUNTS),
        ]:
            source = folder / f"{token}.xlsx"
            source.write_bytes(build_form(instrument, S.fields(token)))
            libreoffice_fill(source, TARGET / name, fills)
            manifest["files"][name] = {
                "program": "LibreOffice",
                "token": token,
                "marks_per_row": expected,
                "entered": {k: list(v) for k, v in fills.items()},
            }
        token = "fixture-token-gnumeric"
        typed = folder / "typed.xlsx"
        typed.write_bytes(fill(build_form(instrument, S.fields(token)), instrument, S.GNUMERIC))
        for name in ("gnumeric-complete.xlsx", "gnumeric-complete.ods", "gnumeric-complete.xls"):
            gnumeric_resave(typed, TARGET / name)
            manifest["files"][name] = {
                "program": "Gnumeric",
                "token": token,
                "marks_per_row": S.GNUMERIC_COUNTS,
                "entered": S.GNUMERIC,
            }
    (TARGET / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(manifest['files'])} files to {TARGET}")


if __name__ == "__main__":
    main()
