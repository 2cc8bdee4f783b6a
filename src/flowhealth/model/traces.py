"""The `traces` block of a flow: the stages of its business journey and spans mapped onto them."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from .base import Ident, Strict
from .durations import Duration


class SpanMapping(Strict):
    """An existing span (by `service.name` and span name) that marks a stage without code changes."""

    service: str = Field(min_length=1, description="The span's `service.name` resource attribute.")
    name: str = Field(min_length=1, description="The span name, exactly.")
    stage: Ident
    entity_id: str = Field(min_length=1, description="Span attribute holding the business entity id.")
    system: Ident | None = Field(
        default=None, description="The system whose identifier the entity id is (checked against `identifiers`)."
    )
    payload: str | None = Field(
        default=None, description="Span attribute holding the JSON payload, validated against the flow's contract."
    )


class FlowTraces(Strict):
    """How business spans of a flow form journeys: one per entity, across traces and systems."""

    entity: str | None = Field(
        default=None, description="Entity type the journeys follow (default: the flow's object)."
    )
    stages: list[Ident] = Field(min_length=2, description="Stages in order; the last one completes a journey.")
    horizon: Duration = Field(
        default=timedelta(days=7), description="A journey with no span for this long is abandoned and expires."
    )
    keep_completed: Duration = Field(
        default=timedelta(hours=1),
        description="Completed journeys are kept this long to recognise duplicates and redelivered spans.",
    )
    spans: list[SpanMapping] = Field(default_factory=list)

    @model_validator(mode="after")
    def _stages_known(self) -> FlowTraces:
        if len(set(self.stages)) != len(self.stages):
            raise ValueError("stages must be unique")
        for mapping in self.spans:
            if mapping.stage not in self.stages:
                raise ValueError(f"span mapping '{mapping.name}' names unknown stage '{mapping.stage}'")
        return self

    @property
    def end(self) -> str:
        return self.stages[-1]

    def path(self, start: str | None, end: str | None) -> tuple[str, str]:
        """The (from, to) stages a latency signal measures; defaults are the first and last stage."""
        return start or self.stages[0], end or self.end
