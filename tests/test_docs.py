"""The docs say what the code does: tables that mirror code are written from it, every link and anchor
leads somewhere, every `clb …` command they show parses, the guide stays short, and history stays in git.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path

import pytest
import typer

from tests import docs_tables

ROOT = docs_tables.ROOT
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FOLDER_NAMES = {"clb not taken", "clb processed"}  # mail folders clb makes, not commands


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower()
    text = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {slug(match) for match in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def test_the_tables_that_mirror_code_are_up_to_date() -> None:
    assert docs_tables.stale() == [], "run `make docs` and commit the result"


def test_every_code_and_setting_has_its_words() -> None:
    table = docs_tables.problem_codes()
    for kind in docs_tables.CATALOGUE.values():
        assert kind.summary and f"| `{kind.code}` |" in table
    assert "| `mail.imap.set_aside_folder` | `clb not taken` |" in docs_tables.settings()
    ticks = docs_tables.tick_marks()
    assert "`✓`" in ticks and "`û`" in ticks and "`ü`" in ticks


def test_a_stale_block_is_found_and_a_missing_one_is_an_error(tmp_path: Path) -> None:
    for doc, _make in docs_tables.BLOCKS.values():
        target = tmp_path / doc
        target.parent.mkdir(parents=True, exist_ok=True)
        text = (ROOT / doc).read_text(encoding="utf-8")
        target.write_text(text.replace("| `macros` |", "| `macro` |").replace("`🗸`", ""), encoding="utf-8")
    assert docs_tables.stale(tmp_path) == ["docs/intake.md: problem-codes", "docs/intake.md: tick-marks"]
    with pytest.raises(ValueError, match="clb:settings"):
        docs_tables.rewritten("no block here", "settings", "x")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_and_anchor_leads_somewhere(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        if not where.exists() or (anchor and (where.suffix != ".md" or anchor not in anchors(where))):
            broken.append(target)
    assert broken == []


def commands_shown() -> list[tuple[str, str]]:
    shown = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        found = re.findall(r"`(clb [^`]+)`", text) + re.findall(r"^\$ (clb .+)$", text, re.MULTILINE)
        shown += [(page.name, " ".join(line.split())) for line in found]
    return sorted({item for item in shown if item[1] not in FOLDER_NAMES})


def test_every_command_the_docs_show_is_one_clb_understands() -> None:
    """Each `clb …` in the guide and the docs parses as the real command line would (a command named with
    no arguments, as prose does, is fine; an unknown command, option or choice is not)."""
    from pipeline.cli import app
    from pipeline.mail.sending import KINDS

    root = typer.main.get_command(app)
    wrong = []
    for page, line in commands_shown():
        args = shlex.split(line.replace("…", ""))[1:]
        try:
            parent = root.make_context("clb", list(args))
            rest = [*getattr(parent, "_protected_args", []), *parent.args]
            command = root.get_command(parent, rest[0]) if rest else None
            if command is None:
                wrong.append((page, line, "no such command"))
                continue
            context = command.make_context(rest[0], rest[1:], parent=parent)
            if rest[0] == "send" and context.params["kind"] not in KINDS and "<" not in line:
                wrong.append((page, line, "clb send cannot send that"))
        except Exception as exc:  # the parser's own errors, from Typer's copy of click
            kind = type(exc).__name__
            missing = kind == "MissingParameter" or (kind == "BadOptionUsage" and "requires an argument" in str(exc))
            helped = kind == "Exit" and getattr(exc, "exit_code", 1) == 0  # `clb --help`: understood
            if not (missing or helped):
                wrong.append((page, line, f"{kind}: {exc}"))
    assert len(commands_shown()) > 60
    assert wrong == []


def test_the_guide_is_for_facilitators_and_short() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    linked = set(LINK.findall(readme))
    for doc in ("outputs", "intake", "mail", "operating", "data", "security", "development"):
        assert f"docs/{doc}.md" in linked


def test_history_lives_in_git_not_in_the_docs_or_the_code() -> None:
    places = [*PAGES, *(ROOT / "pipeline").rglob("*.py"), *(ROOT / "templates").glob("*.j2")]
    narration = re.compile(r"\bissue \d+|\breleases? before\b|\bafter the hardening\b", re.IGNORECASE)
    told = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in places
        for match in narration.finditer(path.read_text(encoding="utf-8"))
    ]
    assert told == []
