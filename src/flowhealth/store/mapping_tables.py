"""Mapping changes: the mappings last seen (to compare a reload with), and every change with who and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from .types import UTCDateTime


class MappingState(SQLModel, table=True):
    """A flow's contract version, identifiers, span mapping or probe query as the service last loaded it."""

    __tablename__ = "mapping_state"

    flow: str = Field(primary_key=True, max_length=64)
    aspect: str = Field(primary_key=True, max_length=16)
    subject: str = Field(primary_key=True, max_length=200)
    digest: str = Field(max_length=64)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class MappingChangeRecord(SQLModel, table=True):
    """One mapping added, changed or removed: what it was, what it became, who changed it, when."""

    __tablename__ = "mapping_change"
    __table_args__ = (Index("ix_mapping_change_time", "changed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(max_length=64, index=True)
    aspect: str = Field(max_length=16)
    subject: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    changed_by: str = Field(max_length=128)
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    source: str = Field(max_length=16, description="reload (compared with the last load) or git (--since a ref).")
