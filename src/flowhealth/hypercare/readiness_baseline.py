"""Readiness of baseline rules: a rule without enough history is learning and does not alert yet."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..alerting.baseline_live import expected_at
from ..model.model import Model
from ..store.samples import current_values

TITLE = "Baseline rules have learned"


BaselineStatus = Literal["pass", "n/a", "learning"]


def baseline_status(model: Model, flow_id: str, engine: Engine | None, now: datetime) -> tuple[BaselineStatus, str]:
    """(status, why): n/a without baseline rules or store, learning while history is short, else pass."""
    rules = {r: rule for r, rule in model.baseline_rules().items() if rule.flow == flow_id}
    if not rules:
        return "n/a", "no baseline rule"
    if engine is None:
        return "n/a", "no state database given"
    learning, learned = [], []
    with Session(engine) as session:
        series = {(v.flow, v.signal): v.labels for v in current_values(session)}
        for rule_id, rule in sorted(rules.items()):
            expected = expected_at(session, model, rule, series.get((rule.flow, rule.signal), "{}"), now)
            unit = "week" if rule.baseline.season.value == "weekly" else "day"
            if expected.learning:
                learning.append(
                    f"{rule_id} is learning ({expected.seasons} of {expected.needed} {unit}s of history): it does not alert yet"
                )
            else:
                learned.append(f"{rule_id} ({expected.seasons} {unit}s)")
    if learning:
        return "learning", "; ".join(learning)
    return "pass", ", ".join(learned)
