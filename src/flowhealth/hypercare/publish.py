"""Where a review goes: Markdown and HTML files, and a Slack channel with the page attached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..notify.slack import SlackNotifier
from .report_html import render_html
from .report_md import period_text, render_markdown, summary_lines
from .review import Review


@dataclass(frozen=True)
class Written:
    markdown: Path
    html: Path
    pdf: Path | None = None


def file_stem(review: Review) -> str:
    return f"hypercare-review-{review.end:%Y-%m-%d}"


def write_reports(review: Review, out: Path, *, pdf: bool = False) -> Written:
    """Write review-DATE.md and review-DATE.html into a directory, and review-DATE.pdf when asked."""
    out.mkdir(parents=True, exist_ok=True)
    stem = file_stem(review)
    markdown, html = out / f"{stem}.md", out / f"{stem}.html"
    markdown.write_text(render_markdown(review), encoding="utf-8")
    html.write_text(render_html(review), encoding="utf-8")
    if not pdf:
        return Written(markdown, html)
    from .pdf import html_to_pdf

    html_to_pdf(html, out / f"{stem}.pdf")
    return Written(markdown, html, out / f"{stem}.pdf")


def slack_summary(review: Review) -> str:
    """A short message: the headline changes and the open ownership questions; details are in the file."""
    failing = sorted({r.flow for r in review.readiness if not r.ready})
    lines = [f"*Hypercare review* {period_text(review)}", *summary_lines(review)]
    if failing:
        lines.append(f"- Open ownership questions on: {', '.join(failing)}")
    lines.append("The full report is attached.")
    return "\n".join(lines)


def post_review(notifier: SlackNotifier, channel: str, review: Review) -> str:
    """Post the summary with the HTML page attached; returns Slack's file id."""
    return notifier.upload(
        channel,
        text=slack_summary(review),
        filename=f"{file_stem(review)}.html",
        content=render_html(review),
        title=f"Hypercare review {period_text(review)}",
    )
