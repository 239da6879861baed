"""The house's rules, checked on every run rather than by a grep in a closing note: the state is the
only door to clb's database (no other module imports SQLAlchemy), the command line reaches the state
and the privacy jobs only through stages and flows, and no module grows past a few hundred lines."""

from __future__ import annotations

import ast
from pathlib import Path

PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"
LONGEST = 500  # lines: a module longer than this holds more than one thing


def _modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(PIPELINE.parent).with_suffix("").parts).removesuffix(".__init__"): path
        for path in sorted(PIPELINE.rglob("*.py"))
    }


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function (absolute names)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_only_the_state_speaks_to_the_database():
    speaking = {
        name
        for name, path in _modules().items()
        if any(module == "sqlalchemy" or module.startswith("sqlalchemy.") for module in _imported(path))
    }
    assert speaking, "the rule would pass with no module at all"
    assert {name for name in speaking if not name.startswith("pipeline.state")} == set()


def test_the_command_line_goes_through_stages_and_flows():
    cli = {name: path for name, path in _modules().items() if name.startswith("pipeline.cli")}
    assert len(cli) > 3
    reaching = {
        (name, module)
        for name, path in cli.items()
        for module in _imported(path)
        if module.startswith(("pipeline.state", "pipeline.privacy"))
    }
    assert reaching == set()


def test_no_module_holds_more_than_a_few_hundred_lines():
    lengths = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()}
    assert {name: lines for name, lines in lengths.items() if lines > LONGEST} == {}
