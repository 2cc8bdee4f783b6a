"""The readiness checklist as a terminal table and as JSON."""

from __future__ import annotations

import json

from .readiness import FlowReadiness, blocking

MARKS = {"pass": "pass", "fail": "FAIL", "n/a": "n/a ", "learning": "lrn "}


def readiness_table(results: list[FlowReadiness]) -> str:
    """One block per flow: a header with its verdict, then each check with why."""
    width = max((len(c.title) for r in results for c in r.checks), default=10)
    lines: list[str] = []
    for r in results:
        verdict = "ready" if r.ready else f"NOT READY ({len(r.failures)} of {len(r.checks)} checks fail)"
        lines.append(f"{r.flow}  [{r.criticality}, owner {r.owner}]  {verdict}")
        for c in r.checks:
            lines.append(f"  {MARKS[c.status]}  {c.title:<{width}}  {c.why}")
        lines.append("")
    held = blocking(results)
    ready = sum(1 for r in results if r.ready)
    lines.append(f"{ready} of {len(results)} flows ready.")
    if held:
        lines.append(f"Go-live blocked: critical flow(s) failing: {', '.join(r.flow for r in held)}.")
    return "\n".join(lines)


def readiness_json(results: list[FlowReadiness]) -> str:
    document = {
        "ready": not blocking(results),
        "blocking": [r.flow for r in blocking(results)],
        "flows": [r.as_dict() for r in results],
    }
    return json.dumps(document, indent=2)
