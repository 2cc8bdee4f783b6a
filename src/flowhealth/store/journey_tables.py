"""Journey state derived from business spans: open journeys and per-minute aggregates.

Times here are epoch seconds (float), not `UTCDateTime`: these tables sit on the span ingestion
hot path, written with executemany, and compared with span timestamps, which are epoch based.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel


class Journey(SQLModel, table=True):
    """One business entity (e.g. an order) on its way through a flow's stages, across traces."""

    __tablename__ = "journey"
    # One secondary index (migration 0014): open journeys of a flow are the range completed_at IS
    # NULL, ordered by start (in flight, oldest, evidence); completed ones expire by completed_at;
    # abandoned ones by updated_at, read from the index without visiting the rows.
    __table_args__ = (Index("ix_journey_open", "flow", "completed_at", "started_at", "updated_at"),)

    flow: str = Field(primary_key=True, max_length=64)
    entity_id: str = Field(primary_key=True, max_length=200)
    entity_type: str | None = Field(default=None, max_length=64)
    started_at: float = Field(description="Earliest span time of the journey (epoch seconds).")
    last_stage: str = Field(max_length=64)
    last_at: float
    last_outcome: str = Field(max_length=16)
    last_reason: str | None = Field(default=None, max_length=128)
    completed_at: float | None = Field(default=None, description="Ingest time the last stage was reached.")
    updated_at: float = Field(description="Ingest time of the last span; abandoned journeys expire by it.")
    stages: str = Field(
        sa_column=Column(Text, nullable=False),
        description="Stages reached: 'name microseconds name microseconds' (epoch).",
    )
    spans: str = Field(
        sa_column=Column(Text, nullable=False), description="Span keys seen, space-separated (redelivery guard)."
    )


class JourneyCount(SQLModel, table=True):
    """Rejections, retries, duplicates, interventions and expiries per stage, reason and minute."""

    __tablename__ = "journey_count"

    flow: str = Field(primary_key=True, max_length=64)
    measure: str = Field(primary_key=True, max_length=16)
    stage: str = Field(primary_key=True, max_length=64)
    reason: str = Field(primary_key=True, default="", max_length=128)
    minute: int = Field(primary_key=True, description="Epoch seconds of the minute the spans ended in.")
    count: int = 0


class JourneyLatency(SQLModel, table=True):
    """Stage-to-stage latencies of one minute, folded into a histogram (completed journeys go)."""

    __tablename__ = "journey_latency"

    flow: str = Field(primary_key=True, max_length=64)
    from_stage: str = Field(primary_key=True, max_length=64)
    to_stage: str = Field(primary_key=True, max_length=64)
    minute: int = Field(primary_key=True)
    count: int = 0
    total: float = 0.0
    max: float = 0.0
    last: float = 0.0
    last_at: float = 0.0
    buckets: str = Field(sa_column=Column(Text, nullable=False), description="JSON counts per LATENCY_BUCKETS bound.")


class SpanInbox(SQLModel, table=True):
    """Stage events of acknowledged export requests, kept until they are folded into journeys.

    The receiver answers once a request's events are here: one row per request is the only write
    on its path. The journey work follows off the request path and deletes the row in the same
    transaction, so every acknowledged span is folded exactly once, across crashes and replicas.
    """

    __tablename__ = "span_inbox"

    id: int | None = Field(default=None, primary_key=True)
    received_at: float = Field(description="Ingest time of the request (epoch seconds).")
    events: str = Field(
        sa_column=Column(Text, nullable=False), description="The stage events as JSON rows (before 0012), else ''."
    )
    body: bytes | None = Field(
        default=None,
        sa_column=Column(LargeBinary, nullable=True),
        description="The export request as OTLP protobuf; its events are extracted again when folded.",
    )
