"""The names flowhealth's business spans and trace signals use; nothing but constants.

`flowhealth.instrument` runs inside integrations with only opentelemetry-api installed, so
this module imports nothing (not pydantic, not the rest of flowhealth). The table in
docs/traces.md is checked against it by tests/test_instrument_light.py.
"""

from __future__ import annotations

# Span attributes (set by flowhealth.instrument, read by the OTLP receiver).
FLOW = "flowhealth.flow"
STAGE = "flowhealth.stage"
ENTITY_TYPE = "flowhealth.entity.type"
ENTITY_ID = "flowhealth.entity.id"
OUTCOME = "flowhealth.outcome"
REASON = "flowhealth.reason"
PAYLOAD = "flowhealth.payload"  # the JSON payload, validated against the flow's contract
SERVICE_NAME = "service.name"  # OpenTelemetry resource semantic convention

# Values of flowhealth.outcome.
OK, REJECTED, RETRIED, MANUAL = "ok", "rejected", "retried", "manual"
OUTCOMES = frozenset({OK, REJECTED, RETRIED, MANUAL})

# Labels of the samples trace signals produce (besides flow and signal).
LABEL_STAGE = "stage"  # rejections, duplicates, retries, interventions: per stage
LABEL_REASON = "reason"  # rejections: per stage and reason

SPAN_ATTRIBUTES = (FLOW, STAGE, ENTITY_ID, ENTITY_TYPE, OUTCOME, REASON)
SIGNAL_LABELS = (LABEL_STAGE, LABEL_REASON)
