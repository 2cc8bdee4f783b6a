"""OPTIONS and 405 answers name the same methods: every method any route of that path accepts.

Starlette matches routes one by one, so for a path served by two routes (`GET /api/v1/silences`
and `POST /api/v1/silences`) its 405 lists only the first route's methods, and OPTIONS is a 405
too. This middleware answers OPTIONS itself (204 with `Allow`, as RFC 9110 describes) and
rewrites the `Allow` of every 405 to the full set of the path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Methods a route may serve; OPTIONS is ours.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> set[str]:
    """The methods some route fully matches for this path; empty when no route has this path.

    Asked through `matches()` per method, because routers included into the app (FastAPI wraps
    them) answer for their own routes.
    """
    return {
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    }


class AllowedMethods:
    """Pure ASGI middleware: OPTIONS answered from the routes, 405's Allow made complete."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Matching every route for every method costs more than a small request's own work (the OTLP
        # receiver's): only OPTIONS and a 405 need the answer, so only they ask.
        if scope["method"] == "OPTIONS":
            methods = allowed_methods(self.routes(), scope)
            if not methods:  # unknown path: 404 as usual
                await self.app(scope, receive, send)
                return
            headers = [(b"allow", _allow(methods)), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def complete_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = allowed_methods(self.routes(), scope)
                if methods:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", _allow(methods))]}
            await send(message)

        await self.app(scope, receive, complete_allow)


def _allow(methods: set[str]) -> bytes:
    return ", ".join(sorted(methods | {"OPTIONS"})).encode()
