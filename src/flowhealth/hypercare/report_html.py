"""The weekly review as one self-contained HTML page: inline CSS and SVG, no scripts, no external assets."""

from __future__ import annotations

import math
from datetime import timedelta
from types import SimpleNamespace

from ..model.durations import format_number
from ..web.charts import LineChart, line_chart
from ..web.history import Point, Series
from . import fmt
from .charts import bars
from .report_md import period_text
from .review import OVERALL, Review
from .templates import environment


def over_time(review: Review, counts: list[int], name: str, *, width: int, height: int, axis: bool) -> LineChart:
    """Counts per hour or day as a line, a point per bucket."""
    bucket = review.bucket
    points = [Point(review.start + bucket * i, float(n)) for i, n in enumerate(counts)]
    form = "%H:%M" if bucket < timedelta(days=1) else "%a"
    # At most four labels: the chart is a card's width, and SVG text must not collide.
    ticks = [(p.at, p.at.strftime(form)) for p in points[:: max(1, math.ceil(len(points) / 4))]] if axis else []
    chart = line_chart(
        review.start,
        review.end,
        [Series({}, points)],
        width=width,
        height=height,
        fmt=format_number,
        ticks=ticks,
        name=name,
    )
    per = "hour" if bucket < timedelta(days=1) else "day"
    chart.label = f"{name} per {per}: " + ", ".join(str(n) for n in counts)
    return chart


def render_html(review: Review) -> str:
    """Render the review page."""
    overall = review.overall
    flows = [
        SimpleNamespace(
            flow=flow,
            owner=review_owner(review, flow),
            f=figures,
            spark=over_time(
                review, figures.incidents_over_time, f"incidents of {flow}", width=110, height=26, axis=False
            ),
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
            per="hour" if review.bucket < timedelta(days=1) else "day",
            overall=overall,
            changes=review.changes(),
            overall_incidents=over_time(
                review, overall.incidents_over_time, "incidents", width=260, height=60, axis=True
            ),
            overall_fixes=over_time(
                review, overall.interventions_over_time, "manual interventions", width=260, height=60, axis=True
            ),
            flows=flows,
            incidents=review.history.incidents,
            timelines=review.timelines,
            by_reason=bars(overall.interventions_by_reason),
            by_actor=bars(overall.interventions_by_actor),
            silences=review.history.silences,
            questions=[(r, c) for r in review.readiness for c in r.checks if c.status == "fail"],
            sections=review.sections,
            fmt=fmt,
        )
    )


def review_owner(review: Review, flow: str) -> str:
    return next((r.owner for r in review.readiness if r.flow == flow), "")
