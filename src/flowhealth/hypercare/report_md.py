"""The weekly review as Markdown, for the meeting notes and for Slack."""

from __future__ import annotations

from .fmt import arrow, change_value, duration, per_currency
from .history import Outcome
from .review import OVERALL, Review


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*out, ""]


def period_text(review: Review) -> str:
    return f"{review.start:%Y-%m-%d %H:%M} to {review.end:%Y-%m-%d %H:%M} UTC"


def summary_lines(review: Review) -> list[str]:
    """The headline: what moved, for the Slack message and the top of the report."""
    lines = []
    for change in review.changes():
        current, previous = change_value(change, change.current), change_value(change, change.previous)
        lines.append(f"- {change.name}: {current} (before: {previous}) {arrow(change)}")
    return lines


def render_markdown(review: Review) -> str:
    """The whole review as one Markdown document."""
    o = review.overall
    lines = [f"# Hypercare review, {period_text(review)}", ""]
    lines += [f"Compared with the {(review.end - review.start).days or 1}-day period before it.", ""]
    lines += ["## Overall", ""]
    lines += _table(
        ["figure", "this period", "period before", "change"],
        [[c.name, change_value(c, c.current), change_value(c, c.previous), arrow(c)] for c in review.changes()],
    )
    lines += [
        f"Time to acknowledge: median {duration(o.tta_median)}, worst {duration(o.tta_worst)}; "
        f"time to recover: median {duration(o.ttr_median)}, worst {duration(o.ttr_worst)}; "
        f"{o.open_incidents} incident(s) still open, {o.unacknowledged} never acknowledged.",
        "",
    ]
    lines += ["## Incidents", ""]
    for i in review.history.incidents:
        where = f" in {i.acked_where}" if i.acked_where else ""
        ack = (
            f"acknowledged after {duration(i.tta)} by {i.acked_by}{where}"
            if i.tta is not None
            else "never acknowledged"
        )
        ended = f"recovered after {duration(i.ttr)}; {i.outcome.value}" if i.ttr is not None else "still open"
        silenced = f" by {i.silenced_by}" if i.outcome is Outcome.SILENCED else ""
        if i.silenced_by and not silenced:
            silenced = f" (silenced by {i.silenced_by})"
        lines.append(
            f"- **#{i.id}** {i.severity} {i.flow or i.team}, opened {i.opened_at:%a %d %H:%M}: {ack}; {ended}{silenced}"
        )
        for e in review.timelines.get(i.id, []):
            lines.append(f"  - {e.at:%a %H:%M} {e.text}" + (f": {e.value}" if e.value else ""))
    if not review.history.incidents:
        lines.append("None.")
    lines += ["", "## Per flow", ""]
    rows = []
    for flow, f in review.flows.items():
        if flow == OVERALL:
            continue
        incidents = review.changes(flow)[0]
        rows.append(
            [
                flow,
                f"{f.incidents} {arrow(incidents)}" if f.incidents or incidents.previous else "0",
                f"{duration(f.tta_median)} / {duration(f.tta_worst)}",
                f"{duration(f.ttr_median)} / {duration(f.ttr_worst)}",
                f"{f.staleness_breaches} (worst {duration(f.worst_staleness)})",
                str(f.interventions),
                str(f.rejected),
                per_currency(f.mismatch_amount, amount=True),
                str(f.noisy_incidents + len(f.flapping)),
                str(f.silences),
            ]
        )
    lines += _table(
        [
            "flow",
            "incidents",
            "ack median / worst",
            "recover median / worst",
            "staleness breaches",
            "manual fixes",
            "rejected (peak)",
            "unmatched amount (peak)",
            "noise",
            "silences",
        ],
        rows,
    )
    lines += ["## Manual interventions", ""]
    if o.interventions:
        lines += _table(["reason", "count"], [[k, str(v)] for k, v in o.interventions_by_reason.items()])
        lines += _table(["person", "count"], [[k, str(v)] for k, v in o.interventions_by_actor.items()])
    else:
        lines += ["None recorded.", ""]
    lines += ["## Settlement mismatches", ""]
    lines += [
        f"At worst during the period: {per_currency(o.mismatches)} record(s); "
        f"amount {per_currency(o.mismatch_amount, amount=True)}. "
        f"Open at the end: {per_currency(o.mismatches_open)} record(s); "
        f"amount {per_currency(o.mismatch_amount_open, amount=True)}.",
        "",
    ]
    lines += ["## How incidents ended", ""]
    lines += [f"- {outcome}: {n}" for outcome, n in o.outcomes.items()] or ["No incidents."]
    lines += ["", "## Alert noise", ""]
    lines += [
        f"{o.noisy_incidents} incident(s) cleared by themselves within minutes with nobody acknowledging, "
        "fixing, silencing or resolving them."
    ]
    lines += [f"- flapping: {name} fired {n} times" for name, n in o.flapping.items()] or ["No flapping alerts."]
    lines += ["", "## Silences used", ""]
    lines += [
        f"- {s.created_at:%Y-%m-%d %H:%M} by {s.author} until {s.ends_at:%Y-%m-%d %H:%M}: {s.reason} (`{s.matchers}`)"
        for s in review.history.silences
    ] or ["None."]
    lines += ["", "## Open ownership questions", ""]
    questions = [(r, c) for r in review.readiness for c in r.checks if c.status == "fail"]
    lines += [f"- **{r.flow}** ({r.criticality}): {c.title}: {c.why}" for r, c in questions] or ["None."]
    for section in review.sections:
        lines += ["", f"## {section.title}", ""]
        if section.note:
            lines += [section.note, ""]
        if section.rows:
            lines += _table(section.columns, section.rows)
    return "\n".join(lines) + "\n"
