"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ..runtime import Runtime
from . import errors, flows, health, incidents, otlp, push, slack


def create_app(runtime: Runtime, *, manage_runtime: bool = True) -> FastAPI:
    """Build the app around a runtime; with `manage_runtime` the app starts and stops it."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            runtime.start()
        try:
            yield
        finally:
            if manage_runtime:
                runtime.stop()

    app = FastAPI(title="flowhealth", version=__version__, lifespan=lifespan)
    app.state.runtime = runtime
    errors.install(app)
    app.include_router(health.router)
    app.include_router(flows.router)
    app.include_router(incidents.router)
    app.include_router(slack.router)
    app.include_router(push.router)
    app.include_router(otlp.router)
    return app
