"""The Rich tables and lines the commands print: an 80-column terminal, an address never split, nothing
from outside printed raw."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.markup import escape
from rich.table import Table

from pipeline.cli.common import out

if TYPE_CHECKING:
    from pipeline.contracts import ChunkReport, Held


def new_table(title: str | None, lines: bool = False) -> Table:
    """A table that fits an 80-column terminal: light rules, no outer box."""
    return Table(title=title, box=box.SIMPLE_HEAD, show_lines=lines, pad_edge=False, title_justify="left")


def day(date: str) -> str:
    """ "2026-11-29" as "29 Nov": short enough for four dates in one 80-column row."""
    try:
        return dt.date.fromisoformat(date[:10]).strftime("%d %b").lstrip("0")
    except ValueError:
        return date


def said(state: str, date: str) -> str:
    """A message's state over its day ("drafted" / "29 Nov"): a draft is never called sent."""
    return f"{state}\n{day(date)}" if state else ""


def print_report(report: ChunkReport) -> None:
    """One row per file (decision, leader, file name), then what was wrong with each quarantined one:
    an email address is never split, and the table fits 80 columns."""
    table = new_table(f"Run {report['run_id']}")
    table.add_column("Decision", no_wrap=True)
    table.add_column("Leader", no_wrap=True)
    table.add_column("File", overflow="fold", ratio=1)
    for item in report["accepted"]:
        note = " (supersedes an earlier return)" if item["supersedes"] else ""
        table.add_row("[green]accepted[/]", item["leader_id"] or "", escape(item["file"] + note))
    for duplicate in report["duplicates"]:
        table.add_row("duplicate", "", escape(f"{duplicate['file']} (same as {duplicate['same_as']})"))
    for quarantined in report["quarantined"]:
        table.add_row("[red]quarantined[/]", quarantined["leader_id"] or "", escape(quarantined["file"]))
    for waiting in report["waiting"]:
        table.add_row("waiting", "", escape(f"{waiting['file']}: {waiting['why']}"))
    out.print(table)
    for item in report["accepted"]:
        for remark in item["notes"]:
            out.print(f"{escape(item['file'])}: {escape(remark['message'])}", highlight=False, soft_wrap=True)
    for quarantined in report["quarantined"]:
        out.print(f"[red]{escape(quarantined['file'])}[/]", highlight=False)
        for found in quarantined["problems"]:
            where = f" {found['cell']}" if found["cell"] else ""
            out.print(f"  {found['code']}{escape(where)}: {escape(found['message'])}", highlight=False)
    out.print(
        f"{len(report['accepted'])} accepted, {len(report['quarantined'])} quarantined, "
        f"{len(report['duplicates'])} duplicates, {len(report['waiting'])} waiting"
    )


def print_not_taken(ignored: list[dict[str, str]]) -> None:
    """Each message (or attachment) the mailbox held that was not taken as a form, with its sender and
    subject and why: the facilitator reads it in their mail program ('clb processed')."""
    for item in ignored:
        part = f" {item['part']}:" if item["part"] else ""
        out.print(
            f"[yellow]Not taken[/] from {escape(item['message'])}:{escape(part)} {escape(item['why'])}",
            highlight=False,
            soft_wrap=True,
        )


def print_held(root: Path, held: list[Held]) -> None:
    """Each output another program held open (Excel, on Windows), and where its new edition is."""
    for entry in held:
        file, new = shown_path(str(root / entry["file"])), shown_path(str(root / entry["written_to"]))
        out.print(
            f"[yellow]{escape(file)} is open in another program[/], so the new edition is {escape(new)}. "
            "Close the old one: the next run puts the new edition in its place.",
            highlight=False,
        )


def shown_path(name: str) -> str:
    """A file as the facilitator typed it, or relative to where they are when it is inside it."""
    path = Path(name)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return name


def shown_detail(value: object) -> str:
    """An audit detail in a line: hashes shortened to 12 characters, counts as they are."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {shown_detail(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(shown_detail(item) for item in value)
    text = str(value)
    return text[:12] if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else text
