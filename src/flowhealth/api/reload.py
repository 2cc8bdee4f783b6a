"""`POST /-/reload`: load the model again from its files, as Prometheus's `/-/reload` does."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..reload import Reloader
from .deps import WriteAccess
from .errors import answers
from .schemas import Reloaded

router = APIRouter(tags=["operations"], dependencies=[WriteAccess], responses=answers(401, 403))


@router.post(
    "/-/reload",
    summary="Reload the model from its files; a broken model is refused with its errors (422) and the old one stays",
    response_class=JSONResponse,
    responses={200: {"model": Reloaded}, 422: {"description": "Refused: the model has errors", "model": Reloaded}},
)
def reload(request: Request) -> JSONResponse:
    reloader: Reloader = request.app.state.reloader
    result = reloader.reload()
    return JSONResponse(result.as_dict(), status_code=200 if result.reloaded else 422)
