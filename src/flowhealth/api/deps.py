"""Dependencies shared by the routers: the runtime and the write-token check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..runtime import Runtime
from ..web.history import BandSource, no_bands

_bearer = HTTPBearer(auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def require_token(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Write endpoints need `Authorization: Bearer $FLOWHEALTH_API_TOKEN`; without a token set, they are closed."""
    expected = runtime.settings.api_token
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
