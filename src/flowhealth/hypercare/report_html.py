"""The weekly review as one self-contained HTML page: inline CSS and SVG, no scripts, no external assets."""

from __future__ import annotations

from types import SimpleNamespace

from . import fmt
from .charts import bars, sparkline
from .mapping_changes import changes_html
from .report_md import period_text
from .review import OVERALL, Review
from .templates import environment


def render_html(review: Review) -> str:
    """Render the review page."""
    overall = review.overall
    flows = [
        SimpleNamespace(
            flow=flow,
            owner=review_owner(review, flow),
            f=figures,
            spark=sparkline(figures.daily_incidents),
            change=review.changes(flow)[0],
        )
        for flow, figures in review.flows.items()
        if flow != OVERALL
    ]
    return (
        environment()
        .get_template("review.html")
        .render(
            period=period_text(review),
            overall=overall,
            changes=review.changes(),
            overall_incidents=sparkline(overall.daily_incidents, width=180, height=36),
            overall_fixes=sparkline(overall.daily_interventions, width=180, height=36),
            flows=flows,
            by_reason=bars(overall.interventions_by_reason),
            by_actor=bars(overall.interventions_by_actor),
            silences=review.history.silences,
            questions=[(r, c) for r in review.readiness for c in r.checks if c.status == "fail"],
            fmt=fmt,
            mapping_changes=changes_html(review.mapping_changes),
        )
    )


def review_owner(review: Review, flow: str) -> str:
    return next((r.owner for r in review.readiness if r.flow == flow), "")
