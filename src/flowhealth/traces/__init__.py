"""OpenTelemetry trace ingestion: OTLP/HTTP spans become business journeys and signal values.

The modules follow the data: `decode` (HTTP body → OTLP request), `convention` (which spans are
business spans), `extract` (spans → stage events), `journeys` (events → persisted journeys and
aggregates), `aggregate` (journeys → signal readings), `ingest` (the receiver's entry point).
"""
