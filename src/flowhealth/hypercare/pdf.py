"""The review as a PDF: the HTML page printed by Chromium (its @media print A4 layout) through Playwright."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import FlowHealthError

HINT = "pip install 'flowhealth[pdf]' and a Chromium (Debian: apt-get install chromium)"


class PdfUnavailable(FlowHealthError):
    """No Playwright or no Chromium on this machine."""


def chromium_path() -> str:
    """FLOWHEALTH_CHROMIUM, else `chromium` or `chromium-browser` on the PATH."""
    found = os.environ.get("FLOWHEALTH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise PdfUnavailable(f"no Chromium to print the PDF with: {HINT}")
    return found


def html_to_pdf(html: Path, pdf: Path) -> None:
    """Print a self-contained HTML file to an A4 PDF."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise PdfUnavailable(f"PDF output needs Playwright: {HINT}") from None
    executable = chromium_path()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(html.resolve().as_uri())
                page.emulate_media(media="print")
                page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
            finally:
                browser.close()
    except Error as exc:
        raise PdfUnavailable(f"Chromium could not print the PDF: {exc.message.splitlines()[0]}") from None
