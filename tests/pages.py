"""What a printed page shows, read back from the PDF a real program made (pdfplumber's positioned text).

The checks are those a person makes looking at a printout: no text printed over other text, nothing cut
off at a cell's or the page's edge (every word a cell holds is on paper: a cut word is missing from the
PDF's text), and text no smaller than 70% of its size on screen.
"""

from __future__ import annotations

import re
import subprocess
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pdfplumber

from tests.clients import require


@dataclass(frozen=True)
class Glyph:
    text: str
    page: int
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass(frozen=True)
class Printed:
    """A PDF's upright text: its characters, its words and each page's size."""

    glyphs: list[Glyph]
    words: list[Glyph]
    pages: list[tuple[float, float]]


def read_pdf(path: Path) -> Printed:
    glyphs, words, pages = [], [], []
    with pdfplumber.open(path) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            width, height = float(page.width), float(page.height)
            pages.append((width, height))

            glyphs += [
                _glyph(c, number, c["text"]) for c in page.chars if c["text"].strip() and _shown(c, width, height)
            ]
            words += [
                _glyph(w, number, w["text"])
                for w in page.extract_words(extra_attrs=["size", "upright"], x_tolerance=1.5)
                if _shown(w, width, height)
            ]
    return Printed(glyphs, words, pages)


def _shown(item: dict, width: float, height: float) -> bool:
    """Upright and on the paper: LibreOffice also writes, clipped away, what lies beyond the page."""
    inside = item["x0"] >= 0 and item["x1"] <= width and item["top"] >= 0 and item["bottom"] <= height
    return bool(item.get("upright", True)) and inside


def _glyph(item: dict, page: int, text: str) -> Glyph:
    return Glyph(text, page, item["x0"], item["x1"], item["top"], item["bottom"], round(float(item["size"]), 2))


def overlaps(printed: Printed, tolerance: float = 1.0) -> list[tuple[Glyph, Glyph]]:
    """Pairs of characters printed over each other: on different lines, their boxes share more than
    ``tolerance`` points across and a third of a line down; on one line, more than half the narrower
    one's width (kerning tucks "o" under "Y" by a little, never by half a letter)."""
    found = []
    grid: dict[tuple[int, int, int], list[Glyph]] = defaultdict(list)
    for glyph in printed.glyphs:
        grid[(glyph.page, int(glyph.top // 20), int(glyph.x0 // 20))].append(glyph)
    for (page, row, column), here in grid.items():
        for other_row in (row, row + 1):
            for other_column in (column - 1, column, column + 1):
                there = grid.get((page, other_row, other_column), [])
                for a in here:
                    for b in there:
                        if a is b or ((other_row, other_column) == (row, column) and id(a) > id(b)):
                            continue
                        across = min(a.x1, b.x1) - max(a.x0, b.x0)
                        down = min(a.bottom, b.bottom) - max(a.top, b.top)
                        if abs(a.top - b.top) < 0.5:  # one line: kerning tucks a letter under its neighbour
                            if across > 0.5 * min(a.x1 - a.x0, b.x1 - b.x0):
                                found.append((a, b))
                        elif across > tolerance and down > min(a.size, b.size) / 3:
                            found.append((a, b))
    return found


def missing(expected: list[str], printed: Printed) -> list[str]:
    """The words of ``expected`` that are not on paper as often as the cells hold them. Lines may break
    after a hyphen, so words are compared in such parts; a part too long for its column is broken over
    lines, and counts as printed when its pieces, read down the column they start at, spell it."""
    on_paper = Counter(part for word in printed.words for part in _parts(word.text))
    down: dict[tuple[int, int], list[Glyph]] = defaultdict(list)
    for word in printed.words:
        down[(word.page, round(word.x0))].append(word)
    columns = ["".join(w.text for w in sorted(ws, key=lambda w: w.top)) for ws in down.values()]
    lacking = []
    for part, count in Counter(part for word in expected for part in _parts(word)).items():
        if on_paper[part] >= count or sum(column.count(part) for column in columns) >= count:
            continue
        lacking.append(f"{part} ({on_paper[part]} of {count})")
    return lacking


def _parts(word: str) -> list[str]:
    """A word as lines may break it: after each hyphen, as spreadsheet programs do."""
    return [part for part in re.split(r"(?<=-)", word) if part]


def scales(printed: Printed, nominal: float) -> dict[int, float]:
    """Each page's print scale, read from the size most of its text is printed at (``nominal`` on screen)."""
    sizes: dict[int, Counter[float]] = defaultdict(Counter)
    for glyph in printed.glyphs:
        sizes[glyph.page][glyph.size] += 1
    return {page: counter.most_common(1)[0][0] / nominal for page, counter in sizes.items()}


def workbook_words(path: Path) -> list[str]:
    """Every word of every text cell on the visible sheets, as a person reading the printout expects it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(path)
    words = []
    for sheet in book.worksheets:
        if sheet.sheet_state != "visible":
            continue
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.data_type == "s":
                    words += cell.value.split()
    return words


def libreoffice_pdfs(sources: list[Path], folder: Path) -> list[Path]:
    """Each of ``sources`` printed to PDF by real LibreOffice, with a fresh profile, in one start."""
    require("soffice")
    profile = folder / "lo-profile"
    result = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            *map(str, sources),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    targets = [folder / (source.stem + ".pdf") for source in sources]
    assert result.returncode == 0 and all(target.exists() for target in targets), result.stderr
    return targets
