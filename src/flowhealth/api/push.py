"""Write endpoints for integrations and people: pushed signal values and manual interventions."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ..model.base import LABEL_PATTERN, LabelName
from ..model.probes import PushProbe
from ..store import manual
from ..store.manual import ManualFix, record_push
from ..store.samples import Reading
from .deps import ClockDep, EngineDep, MetricsDep, ModelDep, SamplesDep, WriteAccess
from .errors import answers
from .schemas import InterventionRecorded, Pushed

router = APIRouter(tags=["push"], dependencies=[WriteAccess], responses=answers(401, 403))
RESERVED = ("flow", "signal")  # the metric's own labels

# Surrounding whitespace is stripped, so the schema also says a text needs a character that is not
# whitespace: "\r\f" was schema-valid and then refused as empty (a fuzzer's find).
Text = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True, pattern=r"\S")]


class PushedValue(BaseModel):
    """A value the integration measured itself."""

    model_config = ConfigDict(extra="forbid")

    value: float = Field(allow_inf_nan=False)
    labels: dict[LabelName, Annotated[str, StringConstraints(max_length=128)]] = Field(
        default_factory=dict,
        description=f"Label names match {LABEL_PATTERN}; {', '.join(RESERVED)} are reserved.",
        # Only names of the pattern (pydantic documents the pattern, not that other names are refused).
        json_schema_extra={"additionalProperties": False, "propertyNames": {"not": {"enum": list(RESERVED)}}},
    )

    @field_validator("value", mode="before")
    @classmethod
    def _finite(cls, value: object) -> object:
        # Python's JSON reader accepts NaN; echoed back as a float it would break the 422 answer.
        return str(value) if isinstance(value, float) and not math.isfinite(value) else value

    @field_validator("labels")
    @classmethod
    def _not_reserved(cls, labels: dict[str, str]) -> dict[str, str]:
        reserved = set(RESERVED) & set(labels)
        if reserved:
            raise ValueError(f"label(s) {', '.join(sorted(reserved))} are reserved")
        return labels


class InterventionIn(BaseModel):
    """A record somebody fixed by hand."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
    record: Text
    actor: Text | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


@router.post(
    "/api/v1/flows/{flow}/signals/{signal}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Push a value",
    response_model=Pushed,
    responses=answers(404, 409),
)
def push_value(
    flow: str,
    signal: str,
    body: PushedValue,
    clock: ClockDep,
    engine: EngineDep,
    metrics: MetricsDep,
    model: ModelDep,
    samples: SamplesDep,
) -> dict[str, Any]:
    if flow not in model.flows or signal not in model.flows[flow].signals:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no signal '{signal}' in flow '{flow}'")
    spec = model.flows[flow].signals[signal]
    if not isinstance(spec.probe, PushProbe):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"signal '{flow}/{signal}' is measured by a {spec.probe.kind} probe, not pushed"
        )
    now = clock.now()
    record_push(engine, flow, signal, Reading(body.value, body.labels), now)
    samples.touch([(flow, signal)])  # its rules are evaluated now, not at the next cycle
    metrics.probe_runs.labels(flow, signal, "push", "success").inc()
    return {"flow": flow, "signal": signal, "value": body.value, "labels": body.labels, "observed_at": now.isoformat()}


@router.post(
    "/api/v1/flows/{flow}/interventions",
    status_code=status.HTTP_201_CREATED,
    summary="Record a manual fix",
    response_model=InterventionRecorded,
    responses=answers(404),
)
def record_intervention(
    flow: str, body: InterventionIn, clock: ClockDep, engine: EngineDep, model: ModelDep
) -> dict[str, Any]:
    if flow not in model.flows:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no flow '{flow}'")
    now = clock.now()
    identifier = manual.record_intervention(
        engine, ManualFix(flow, body.reason, body.record, body.actor, body.note), now
    )
    return {
        "id": identifier,
        "flow": flow,
        "reason": body.reason,
        "record": body.record,
        "performed_at": now.isoformat(),
    }
