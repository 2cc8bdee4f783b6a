"""Alertmanager in: its webhook (payload version 4) feeds alerts evaluated elsewhere into flowhealth's incidents."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ..alerting.external import AmWebhook, ExternalAlerts
from .deps import RuntimeDep, WriteAccess
from .errors import answers

router = APIRouter(tags=["alertmanager"])


class AlertmanagerReceipt(BaseModel):
    """How many alerts joined incidents (known rules) and how many named no rule (told to their team)."""

    joined: int
    unknown: int


@router.post(
    "/api/v1/alertmanager",
    summary="Alertmanager webhook receiver (version 4): alerts join flowhealth's incidents",
    dependencies=[WriteAccess],
    responses=answers(401, 403, 413),
)
async def alertmanager_webhook(payload: AmWebhook, runtime: RuntimeDep) -> AlertmanagerReceipt:
    external = ExternalAlerts(runtime.model, runtime.engine, runtime.clock, runtime.evaluator, runtime.incidents)
    received = await run_in_threadpool(external.receive, payload)
    runtime.worker.wake()  # what the alerts changed is told now, not at the next delivery pass
    return AlertmanagerReceipt(joined=received.joined, unknown=received.unknown)
