"""The evidence pack as one self-contained HTML page: the Markdown, rendered, with inline CSS.

Raw HTML in the Markdown is escaped (names, payloads and runbook text are data, not markup).
"""

from __future__ import annotations

import html

from markdown_it import MarkdownIt

from .markdown import render_markdown
from .pack import EvidencePack

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1d2733}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccd;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;width:100%}th,td{border:1px solid #ccd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f2f4f7}
pre{background:#f6f8fa;padding:.7rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word;font-size:13px}
@media print{pre{white-space:pre-wrap}}
"""


def render_html(pack: EvidencePack) -> str:
    """The page: a heading per section, tables and code blocks as in the Markdown."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(render_markdown(pack))
    title = html.escape(f"Evidence pack: {pack.flow}")
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
        f"<style>{STYLE}</style></head>\n<body><main>\n{body}</main></body></html>\n"
    )
