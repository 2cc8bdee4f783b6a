"""The HTTP API: health, metrics, runbooks, flows and alerts."""
