"""The web pages people read: flow and incident pages, silences, runbooks, charts over time."""
