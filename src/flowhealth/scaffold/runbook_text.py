"""A runbook with every required section present and filled with prompts to replace."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .flow_parts import FlowParams


def runbook(p: FlowParams, title: str, rule: str, what: str, causes: tuple[str, str] | None = None) -> str:
    """Markdown for `rule`'s runbook; each section says what to write there."""
    first, second = causes or (
        f"`{p.target}` is unavailable or in maintenance.",
        f"The connector between `{p.source}` and `{p.target}` stopped or lost its credentials.",
    )
    return f"""# {title}

You are here because `{rule}` fired on the `{p.flow}` flow: {what}.

## Owner

`{p.owner}` owns this runbook and the `{p.flow}` flow.

> To fill in: who is on call, and which other teams own parts of this flow (name them by team id).

## Business impact

> To fill in: what the business loses while this fires (orders not shipped, stock oversold,
> revenue not booked), who notices first, and how fast it gets expensive.

## Likely causes

> To fill in: the causes you have seen, most likely first, each with how to recognise it
> (`flowhealth probe run {p.flow}` shows the current values).

1. {first}
2. {second}

## Recovery steps

1. `flowhealth ack {rule}` so escalation stops and others see it is taken.
2. `flowhealth probe run {p.flow}` for fresh values; match them to a cause above.

> To fill in: the steps for each cause, including how to replay safely (idempotency) and how
> to tell that it recovered.

## Escalation path

> To fill in: who to call when this is not fixed within the hour, and which teams to inform
> (customer service, warehouse, finance).
"""
