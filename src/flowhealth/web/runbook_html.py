"""Runbooks as HTML: Markdown rendered with raw HTML off (escaped) and unsafe link schemes refused."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


@cache
def _renderer() -> MarkdownIt:
    # Imported on the first runbook page, not when the API starts (~0.04 s of `serve` start-up).
    from markdown_it import MarkdownIt

    # "commonmark" plus tables; html=False turns any <script> or <img onerror> in the file into text,
    # and markdown-it's validateLink drops javascript:, vbscript:, file: and data: links.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def runbook_html(markdown: str) -> Markup:
    """The runbook's body as safe HTML for a template."""
    return Markup(_renderer().render(markdown))  # sanitised by construction, see _renderer
