"""The evidence pack as Markdown: the go-live review's document, one section per question the seed asks."""

from __future__ import annotations

import json
from typing import Any

from ..hypercare.fmt import duration as fmt_duration
from .pack import SECTIONS, EvidencePack


def _code(text: str, lang: str = "") -> list[str]:
    return [f"```{lang}", text, "```", ""]


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["None.", ""]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(pack: EvidencePack) -> str:
    """Every section, in the order of SECTIONS."""
    out = [
        f"# Evidence pack: {pack.flow}",
        "",
        f"{pack.description}",
        "",
        f"Criticality: **{pack.criticality}**. Generated {pack.generated_at:%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    s = iter(SECTIONS)
    out += [f"## {next(s)}", ""]
    out += _table(
        ["failure mode", "owner", "team", "channel"], [[o.mode, o.team, o.team_name, o.channel] for o in pack.ownership]
    )
    out += [f"## {next(s)}", ""]
    c = pack.contract
    if c is None:
        out += ["No contract declared.", ""]
    else:
        out += [
            f"**{c.spec.name}**, version **{c.spec.version}**; may be changed by `{c.spec.owner}`.",
            "",
            f"- Schema: `{c.spec.schema_file or 'none'}`",
            f"- Example: `{c.spec.example or 'none'}`",
            f"- Redacted fields: {', '.join(f'`{r}`' for r in c.spec.redact) or 'none'}",
            "",
        ]
        if c.example is not None:
            out += ["Example payload (redacted):", ""]
            out += _code(json.dumps(c.redact(c.example), indent=2, sort_keys=True), "json")
        v = pack.violations
        out += ["Current violations:", ""]
        out += _table(["signal", "field", "reason", "payloads"], [[sig, f, r, f"{n:g}"] for sig, f, r, n in v.counts])
        if v.alert_evidence is not None and v.alert_since is not None:
            out += [
                f"Failing payloads (redacted) of the last alert, `{v.alert_rule}` since {v.alert_since:%Y-%m-%d %H:%M} UTC:",
                "",
            ]
            out += _table(v.alert_evidence.get("columns") or ["evidence"], v.alert_evidence.get("rows") or [])
    out += [f"## {next(s)}", ""]
    out += _table(
        ["system", "name", "owner", "identifier", "prefix", "meaning"],
        [
            [
                x.system,
                x.name,
                x.owner,
                x.identifier.field if x.identifier else "—",
                (x.identifier.prefix or "") if x.identifier else "",
                (x.identifier.description or "") if x.identifier else "",
            ]
            for x in pack.systems
        ],
    )
    out += ["Mapping changes of the last 4 weeks:", ""]
    out += _table(
        ["when (UTC)", "what", "change", "by"],
        [
            [
                f"{r.changed_at:%Y-%m-%d %H:%M}",
                f"{r.change.aspect.value} {r.change.subject}",
                f"{r.change.kind.value}: {r.change.before or '—'} → {r.change.after or '—'}",
                r.changed_by,
            ]
            for r in pack.mapping_changes
        ],
    )
    out += [f"## {next(s)}", ""]
    for a in pack.alerts:
        out += [f"### {a.rule}", "", "Slack (notification text, then Block Kit blocks):", ""]
        out += _code(a.slack_text)
        out += _code(json.dumps(a.slack_blocks, indent=2), "json")
        out += ["Console:", ""]
        out += _code(a.console)
    if not pack.alerts:
        out += ["No alert rule.", ""]
    out += [f"## {next(s)}", ""]
    for book in pack.runbooks:
        used = f" (alerts: {', '.join(book.rules)})" if book.rules else ""
        out += [f"### {book.title} (`{book.runbook}`){used}", ""]
        out += [f"{i}. {step}" for i, step in enumerate(book.steps, start=1)] or ["No numbered recovery steps."]
        out += [""]
    out += [f"## {next(s)}", ""]
    for r in pack.reconciliations:
        when = f"{r.observed_at:%Y-%m-%d %H:%M} UTC" if r.observed_at else "never run against this database"
        out += [f"### {r.signal} (last run: {when})", ""]
        out += _table(
            ["series", "value"],
            [[", ".join(f"{k}={v}" for k, v in sorted(lab.items())), f"{v:g}"] for lab, v in r.values],
        )
        out += ["Failing keys:", ""]
        out += _table(
            [r.key, "mismatch", "currency", "source amount", "target amount"],
            [[m.record_key, m.kind, m.currency, m.source_amount, m.target_amount] for m in r.failing],
        )
    if not pack.reconciliations:
        out += ["No reconcile probe.", ""]
    out += [f"## {next(s)}", ""]
    ops = pack.operations
    if ops is None:
        out += ["No operations facts declared.", ""]
    else:
        pause = (
            "not declared"
            if ops.pause is None
            else ("pausable" if ops.pause.possible else "not pausable") + f": {ops.pause.how}"
        )
        out += [f"- **Pause:** {pause}", f"- **Degraded storefront behaviour:** {ops.degraded or 'not declared'}", ""]
        out += ["Drainable queues:", ""]
        out += _table(["queue", "system", "how"], [[q.name, q.system, q.how] for q in ops.queues or []])
        out += ["Replayable events:", ""]
        out += _table(
            ["event", "system", "runbook step"],
            [[r.event, r.system, f"{r.runbook} step {r.step}"] for r in ops.replay or []],
        )
    out += ["API limits and release windows of the systems:", ""]
    out += _table(
        ["system", "API limits", "release windows"],
        [[x.system, _limits(x.api_limits), "; ".join(x.release_windows) or "not declared"] for x in pack.systems],
    )
    out += [f"## {next(s)}", ""]
    out += _table(["after", "owner", "business status"], [[b.case, b.owner, b.status] for b in pack.statuses])
    out += [f"## {next(s)}", ""]
    verdict = "ready" if pack.readiness.ready else f"NOT READY ({len(pack.readiness.failures)} failing)"
    out += [f"Verdict: **{verdict}**", ""]
    out += _table(["check", "status", "why"], [[ch.title, ch.status, ch.why] for ch in pack.readiness.checks])
    out += [f"## {next(s)}", ""]
    out += _table(
        ["incident", "opened", "severity", "team", "acknowledged", "resolved", "time to recover"],
        [
            [
                f"#{i.id}",
                f"{i.opened_at:%Y-%m-%d %H:%M}",
                i.severity,
                i.team,
                i.acked_by or "—",
                f"{i.resolved_at:%Y-%m-%d %H:%M}" if i.resolved_at else "open",
                fmt_duration(i.ttr),
            ]
            for i in pack.incidents
        ],
    )
    return "\n".join(out).rstrip() + "\n"


def _limits(limits: Any) -> str:
    if limits is None:
        return "not declared"
    parts = []
    if limits.requests:
        parts.append(f"{limits.requests} requests per {fmt_duration(limits.per.total_seconds())}")
    if limits.burst:
        parts.append(f"burst {limits.burst}")
    if limits.authentication:
        parts.append(f"auth: {limits.authentication}")
    if limits.environments:
        parts.append("environments: " + ", ".join(limits.environments))
    if limits.note:
        parts.append(limits.note)
    return "; ".join(parts) or "declared without figures"
