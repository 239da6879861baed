"""The parts of the docs that mirror code, written from the code.

The problem codes (from the catalogue), what counts as a tick (from the marks' sets) and every setting
(from the settings models' own docstrings) sit in the docs between ``<!-- clb:NAME -->`` and
``<!-- /clb:NAME -->``. ``make docs`` rewrites them; tests/test_docs.py fails when one is out of date, so a
new code, mark or setting cannot reach a release undocumented (as sqlite-utils does with cog).
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pipeline.intake import marks
from pipeline.problems import CATALOGUE
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def problem_codes() -> str:
    lines = ["| code | what it means |", "|---|---|"]
    for kind in CATALOGUE.values():
        note = "" if kind.blocking else " (a note only: the return is still accepted)"
        lines.append(f"| `{kind.code}` | {kind.summary}{note} |")
    return "\n".join(lines)


def _shown(values: Iterable[str]) -> str:
    """Symbols first, then words, each in code quotes."""
    ordered = sorted(values, key=lambda value: (value.isascii() and value.isalnum(), value))
    return " ".join(f"`{value}`" for value in ordered if value)


def tick_marks() -> str:
    words = [value for value in marks.EMPTY_TEXT if value and value not in {"0"}]
    return "\n".join(
        [
            f"- **Ticks:** {_shown(marks.TICK_TEXT - {'1'})}, the number `1`, and a real TRUE (a checkbox, or"
            " LibreOffice's `=TRUE()`); in a cell whose font is Wingdings, "
            f"{_shown(marks.WINGDINGS_TICKS)} (Wingdings' ✓ and ☑).",
            f"- **Crosses:** {_shown(marks.CROSS_TEXT)}; in Wingdings, {_shown(marks.WINGDINGS_CROSSES)}. A row's"
            " single cross counts as its tick.",
            f"- **Empty:** an empty cell or spaces, {_shown(words)}, the number `0`, and a real FALSE (an unticked"
            " checkbox).",
            "- Letters count in any case (`YES`, `Ok`). No-break spaces, zero-width characters and emoji"
            " variation selectors are ignored.",
            "- Anything else is an `unrecognised-mark`, reported with what was found.",
        ]
    )


def _model(annotation: object) -> type[BaseModel] | None:
    """The settings model a field holds, if it holds one (``ImapSettings | None`` included)."""
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "(required)"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "empty"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> Iterable[str]:
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        if not info.description:
            raise ValueError(f"the setting {key} has no docstring in pipeline/settings.py")
        inner = _model(info.annotation)
        if inner is not None:
            yield f"| `{key}:` | | {info.description} |"
            yield from _rows(inner, f"{key}.")
        else:
            yield f"| `{key}` | {_default(info)} | {info.description} |"


def settings() -> str:
    return "\n".join(["| setting | default | what it is for |", "|---|---|---|", *_rows(Settings, "")])


BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "problem-codes": ("docs/intake.md", problem_codes),
    "tick-marks": ("docs/intake.md", tick_marks),
    "settings": ("docs/reference.md", settings),
}


def rewritten(text: str, name: str, body: str) -> str:
    """text with the block NAME's body replaced; an error when the doc has no such block."""
    pattern = re.compile(rf"(<!-- clb:{name} -->\n).*?(<!-- /clb:{name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"no <!-- clb:{name} --> block")
    return pattern.sub(lambda match: match.group(1) + body + "\n" + match.group(2), text)


def stale(root: Path = ROOT) -> list[str]:
    """The blocks whose text in the docs is not what the code says."""
    out = []
    for name, (doc, make) in BLOCKS.items():
        text = (root / doc).read_text(encoding="utf-8")
        if rewritten(text, name, make()) != text:
            out.append(f"{doc}: {name}")
    return out


def main() -> None:
    for name, (doc, make) in BLOCKS.items():
        path = ROOT / doc
        text = path.read_text(encoding="utf-8")
        new = rewritten(text, name, make())
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {doc}: {name}")
    sys.exit(0)


if __name__ == "__main__":
    main()
