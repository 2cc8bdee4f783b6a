"""Persisted state: samples, probe and alert state, history and the notification outbox."""

from .db import init_schema, make_engine, transaction

__all__ = ["init_schema", "make_engine", "transaction"]
