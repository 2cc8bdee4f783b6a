"""Dependencies shared by the routers: one `Annotated` alias per part of the runtime, and the write-token check.

A route names the parts it uses (`ActionsDep`, `ClockDep`, ...) rather than the whole runtime,
so what it touches is visible in its signature and a test can override just that part
(`app.dependency_overrides[get_clock] = ...`).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine

from ..alerting.actions import Actions
from ..alerting.triggered import TriggeredEvaluation
from ..clock import Clock
from ..links import Links
from ..metrics import Metrics
from ..model.model import Model
from ..runtime import Runtime
from ..settings import Settings
from ..traces.ingest import TraceService
from ..web.history import BandSource, no_bands

_bearer = HTTPBearer(auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


def get_model(runtime: RuntimeDep) -> Model:
    return runtime.model


def get_engine(runtime: RuntimeDep) -> Engine:
    return runtime.engine


def get_clock(runtime: RuntimeDep) -> Clock:
    return runtime.clock


def get_metrics(runtime: RuntimeDep) -> Metrics:
    return runtime.metrics


def get_registry(runtime: RuntimeDep) -> CollectorRegistry:
    return runtime.registry


def get_actions(runtime: RuntimeDep) -> Actions:
    return runtime.actions


def get_traces(runtime: RuntimeDep) -> TraceService:
    return runtime.traces


def get_samples(runtime: RuntimeDep) -> TriggeredEvaluation:
    """Told of pushed samples, so their rules are evaluated at once."""
    return runtime.triggered


def get_links(runtime: RuntimeDep) -> Links:
    return runtime.incidents.links


SettingsDep = Annotated[Settings, Depends(get_settings)]
ModelDep = Annotated[Model, Depends(get_model)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ClockDep = Annotated[Clock, Depends(get_clock)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
RegistryDep = Annotated[CollectorRegistry, Depends(get_registry)]
SamplesDep = Annotated[TriggeredEvaluation, Depends(get_samples)]
ActionsDep = Annotated[Actions, Depends(get_actions)]
TracesDep = Annotated[TraceService, Depends(get_traces)]
LinksDep = Annotated[Links, Depends(get_links)]


def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Write endpoints need `Authorization: Bearer $FLOWHEALTH_API_TOKEN`; without a token set, they are closed."""
    expected = settings.api_token
    if expected is None or not expected.get_secret_value():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "write endpoints are disabled: set FLOWHEALTH_API_TOKEN")
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


WriteAccess = Depends(require_token)


def runtime_bands(runtime: Runtime) -> BandSource:
    """Where charts get expected bands from: a runtime that keeps baselines offers `expected_band`."""
    source: BandSource | None = getattr(runtime, "expected_band", None)
    return source or no_bands
