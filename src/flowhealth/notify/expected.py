"""How every renderer words an alert's value: against its threshold, or against what was expected.

A baseline alert carries an `ExpectedNote` (alerting/expected_note.py); its line replaces the
threshold comparison, so Slack, the console and the board say the same thing.
"""

from __future__ import annotations

from ..alerting.expected_note import expected_line
from ..alerting.notices import AlertView


def value_against(alert: AlertView) -> str:
    """ "25m > threshold 15m", or "expected 1.2 (band 0.72-2.4), now 0.1 ...: -92%; Fri 15:00, 4 weeks; ..." """
    if alert.expected is not None:
        return expected_line(alert.expected, alert.value_text)
    return f"{alert.value_text} {alert.comparison} threshold {alert.threshold_text}"


def reference(alert: AlertView) -> str:
    """What the value at resolve is compared with: "threshold > 15m" or the expected line."""
    if alert.expected is not None:
        return expected_line(alert.expected, alert.value_text)
    return f"threshold {alert.comparison} {alert.threshold_text}"
