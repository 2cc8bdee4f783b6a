"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ..reload import Reloader
from ..runtime import Runtime
from . import (
    access,
    alertmanager,
    board,
    errors,
    flows,
    health,
    incidents,
    limits,
    methods,
    openapi_model,
    otlp,
    outbox,
    pagerduty,
    pages,
    push,
    reload,
    silence_preview,
    slack,
    slack_command,
)


def create_app(runtime: Runtime, *, manage_runtime: bool = True, reloader: Reloader | None = None) -> FastAPI:
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
    app.state.reloader = reloader or Reloader(runtime, runtime.settings.model_dir)
    errors.install(app)
    settings = runtime.settings

    def limit_for(path: str) -> int | None:
        # The OTLP route enforces its own (larger) limit, compressed and inflated, and answers in OTLP's format.
        return None if path == "/v1/traces" else settings.max_body_bytes

    app.add_middleware(limits.BodyLimit, limit_for=limit_for)
    app.add_middleware(methods.AllowedMethods, routes=lambda: app.router.routes)
    app.add_middleware(otlp.Receiver)  # added last: outermost, before any other middleware or routing
    # Answers every route may give; each route documents its own (404, 409, 401/403 behind the token, ...).
    for router in (
        health.router,
        flows.router,
        incidents.router,
        slack.router,
        slack_command.router,
        outbox.router,
        pagerduty.router,
        alertmanager.router,
        push.router,
        board.router,
        pages.router,
        access.router,
        silence_preview.router,
        reload.router,
    ):
        app.include_router(router, responses=errors.COMMON_RESPONSES)
    app.include_router(otlp.router, responses=errors.OTLP_RESPONSES)
    openapi_model.install(app, runtime.model)
    return app
