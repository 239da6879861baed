"""Tables and links read back from a page clb wrote (the round page, the briefing), as a person reads
them: each table by its caption, rows of cell texts, and every link's target. Standard library only."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        self.text: list[str] = []
        self._caption: list[str] | None = None
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._name = ""
        self.headings: list[tuple[str, str]] = []  # (h2 or h3, its text), in order
        self._heading: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "h3"):
            self._heading = (tag, [])
        if tag == "table":
            self._rows, self._name = [], ""
        elif tag == "caption":
            self._caption = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []
        elif tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)
        elif tag == "br" and self._cell is not None:
            self._cell.append("; ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h2", "h3") and self._heading is not None:
            self.headings.append((self._heading[0], " ".join("".join(self._heading[1]).split())))
            self._heading = None
        if tag == "caption" and self._caption is not None:
            self._name, self._caption = " ".join("".join(self._caption).split()), None
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables[self._name] = [row for row in self._rows if row]
            self._rows = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._heading is not None:
            self._heading[1].append(data)
        if self._caption is not None:
            self._caption.append(data)
        if self._cell is not None:
            self._cell.append(data)


def read_page(path: Path) -> _Reader:
    reader = _Reader()
    reader.feed(path.read_text(encoding="utf-8"))
    return reader


def table(path: Path, caption_starts: str) -> list[list[str]]:
    """The rows (header rows included) of the table whose caption starts so."""
    tables = read_page(path).tables
    return next(rows for caption, rows in tables.items() if caption.startswith(caption_starts))


def by_first_cell(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row for row in rows}


def link_targets(path: Path) -> list[Path]:
    """Every link of the page that is a file of ours (not an anchor on the page), as a path."""
    return [(path.parent / unquote(href)).resolve() for href in read_page(path).links if not href.startswith("#")]


def round_page(root: Path) -> Path:
    return root / "outbox" / "round.html"


def leaders_on_page(root: Path) -> dict[str, list[str]]:
    """The round page's table of every leader, by name: name, organisation, where they are, invitation,
    letter, files."""
    return by_first_cell(table(round_page(root), "Every leader")[1:])


def needs_on_page(root: Path) -> list[str]:
    """The headings under "Needs you" on the round page: "Corrections not sent (1)"."""
    found, inside = [], False
    for level, text in read_page(round_page(root)).headings:
        if level == "h2":
            inside = text.startswith("Needs you")
        elif inside:
            found.append(text)
    return found
