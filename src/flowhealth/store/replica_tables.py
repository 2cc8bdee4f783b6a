"""Who is running: one row per live `flowhealth serve` replica, kept fresh by its heartbeat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from .types import UTCDateTime


class Replica(SQLModel, table=True):
    """A replica's heartbeat; rows older than the expiry belong to replicas that died."""

    __tablename__ = "replica"

    id: str = Field(primary_key=True, max_length=96, description="host:pid:random, new at every start.")
    role: str = Field(max_length=16, description="leader or follower.")
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    heartbeat_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    probes: int = Field(default=0, description="Probes this replica runs.")
    model_digest: str = Field(default="", max_length=64, description="sha256 of the model files it runs.")
    model_loaded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
