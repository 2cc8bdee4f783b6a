"""When an alert's state may change with nothing but time passing: its `for` or `keep_firing_for` runs out.

The interval cycle finds these moments up to one interval late. Triggered evaluation instead
asks for a look at exactly the moment (alerting/triggered.py), so `for: 30s` fires when the
condition has held 30 s, not at the first cycle after that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..model.schema import AlertRule
from ..store.tables import AlertState
from .enums import AlertState as State

SignalKey = tuple[str, str]  # (flow, signal)


def next_check(rule: AlertRule, state: AlertState | None, now: datetime, *, went_pending: bool) -> datetime | None:
    """The moment this alert series needs evaluating again although no sample arrived (None: never)."""
    if state is None:
        # A series that went pending in this pass has no state row yet in the caller's hands.
        return now + rule.for_ if went_pending else None
    if state.state == State.PENDING and state.pending_since is not None:
        return state.pending_since + rule.for_
    if state.state == State.FIRING and rule.keep_firing_for > timedelta(0) and state.reason != "no_data":
        last_true = state.last_true_at or state.updated_at
        if state.updated_at > last_true:  # false since updated_at (see Evaluator._keeps_firing)
            return state.updated_at + rule.keep_firing_for
    return None
