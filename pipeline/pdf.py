"""HTML to PDF through a Chromium browser already on the computer: Microsoft Edge (on every Windows),
Google Chrome or Chromium. Its print engine is the one the page was checked in (axe, the page test), so the
PDF looks as the page prints; a Python renderer such as WeasyPrint would need GTK's libraries, which a
facilitator's Windows laptop does not have. Where no browser is found, the HTML is still there and prints
from any browser; the caller says so.

The browser runs headless on a copy of the page in a temporary folder with a profile of its own, never
the user's; it is given nothing but the local file (the pages fetch nothing), and it is stopped by its
process id when it takes too long.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT = 90  # seconds: a first start on a slow laptop
PLACES = {
    "win32": (
        r"%ProgramFiles(x86)%\Microsoft\Edge\Application\msedge.exe",
        r"%ProgramFiles%\Microsoft\Edge\Application\msedge.exe",
        r"%ProgramFiles%\Google\Chrome\Application\chrome.exe",
        r"%ProgramFiles(x86)%\Google\Chrome\Application\chrome.exe",
        r"%LocalAppData%\Google\Chrome\Application\chrome.exe",
    ),
    "darwin": (
        "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
        "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
        "/Applications/Chromium.app/Contents/MacOS/Chromium",
    ),
}
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "microsoft-edge", "msedge")


def browser() -> str | None:
    """A Chromium browser to print with: ``CLB_BROWSER`` when set (``none``: make no PDF), then the usual
    places on this system, then the PATH. None when there is none."""
    chosen = os.environ.get("CLB_BROWSER")
    if chosen == "none":
        return None
    if chosen:
        return chosen if Path(chosen).exists() or shutil.which(chosen) else None
    for place in PLACES.get(sys.platform, ()):
        path = Path(os.path.expandvars(place))
        if path.is_file():
            return str(path)
    return next((found for name in NAMES if (found := shutil.which(name))), None)


class PdfFailed(RuntimeError):
    """The browser did not make the PDF; the message says what it said."""


def html_to_pdf(html: bytes, program: str) -> bytes:
    """The PDF of ``html`` (a page that needs no other file), A4 as its print CSS asks, without the
    browser's own header and footer."""
    with tempfile.TemporaryDirectory(prefix="clb-pdf-") as folder:
        page, out = Path(folder) / "page.html", Path(folder) / "page.pdf"
        page.write_bytes(html)
        command = [
            program,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={Path(folder) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to start as root with its sandbox
        try:
            done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:  # subprocess.run killed it by its process id
            raise PdfFailed(f"the browser took longer than {TIMEOUT} seconds") from exc
        except OSError as exc:
            raise PdfFailed(f"the browser could not start: {exc}") from exc
        if not out.exists() or not out.read_bytes().startswith(b"%PDF"):
            said = (done.stderr or b"").decode("utf-8", "replace").strip().splitlines()
            raise PdfFailed(said[-1] if said else f"the browser stopped with code {done.returncode}")
        return out.read_bytes()
