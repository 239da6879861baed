"""``clb check``: the nightly guard and validation on files a facilitator names, touching nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.forms.layout import FormSpec
from pipeline.intake.safexml import Limits
from pipeline.intake.validate import examine
from pipeline.privacy.tombstones import token_forgotten
from pipeline.problems import Code, Problem, problem
from pipeline.state import FormRecord, form_by_token, issued_versions, open_state_readonly
from pipeline.text import visible
from pipeline.workspace import Workspace


@dataclass(frozen=True)
class CheckResult:
    file: str
    acceptable: bool
    leader: str | None
    problems: list[Problem]


def check_files(space: Workspace, config: Config, files: list[Path]) -> list[CheckResult]:
    engine = open_state_readonly(space.database)

    def lookup(token: str) -> FormRecord | None:
        return form_by_token(engine, token) if engine is not None else None

    def forgotten(token: str) -> str | None:
        return token_forgotten(engine, token) if engine is not None else None

    spec = FormSpec.of(config.instrument)
    limits = Limits(max_file=int(config.settings.intake.max_file_mb * 1024 * 1024))
    results = []
    for path in files:
        shown = visible(str(path))  # a name from outside: never raw to the terminal
        if not path.is_file():
            results.append(
                CheckResult(shown, False, None, [problem(Code.NOT_A_WORKBOOK, detail="there is no such file")])
            )
            continue
        try:
            size = path.stat().st_size
            data = path.read_bytes() if size <= limits.max_file else b""
        except OSError as exc:
            why = problem(Code.CANNOT_OPEN, detail=exc.strerror or type(exc).__name__)
            results.append(CheckResult(shown, False, None, [why]))
            continue
        if size > limits.max_file:
            found = problem(Code.TOO_LARGE, detail=f"{size / 1024 / 1024:.1f} MB")
            results.append(CheckResult(shown, False, None, [found]))
            continue
        examination = examine(
            data,
            lookup,
            spec,
            config.settings.round,
            limits,
            forgotten,
            versions=lambda token: issued_versions(engine, token),
        )
        form = examination.form
        results.append(
            CheckResult(
                file=shown,
                acceptable=not examination.blocking(config.settings.intake.accept_partial),
                leader=f"{form.name} ({form.email})" if form else None,
                problems=examination.problems,
            )
        )
    if engine is not None:
        engine.dispose()
    return results
