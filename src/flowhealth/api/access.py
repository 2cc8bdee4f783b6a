"""Who may read the web pages: everyone, or with FLOWHEALTH_BOARD_TOKEN set, whoever shows that token.

A browser shows it once on /login and keeps it in an HttpOnly cookie; a script sends it as a bearer
token. The API token (write access) reads too.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..web.templates import environment
from .deps import RuntimeDep

router = APIRouter(tags=["pages"], include_in_schema=False)
COOKIE = "flowhealth_board"
MAX_FORM_BYTES = 4096


def _tokens(runtime: RuntimeDep) -> list[str]:
    settings = runtime.settings
    return [t.get_secret_value() for t in (settings.board_token, settings.api_token) if t and t.get_secret_value()]


def _matches(given: str, tokens: list[str]) -> bool:
    return any(hmac.compare_digest(given.encode(), t.encode()) for t in tokens)


def may_read(request: Request, runtime: RuntimeDep) -> bool:
    """True when the pages are public or the request carries a token that opens them."""
    board = runtime.settings.board_token
    if board is None or not board.get_secret_value():
        return True
    tokens = _tokens(runtime)
    header = request.headers.get("authorization", "")
    bearer = header[7:] if header.lower().startswith("bearer ") else ""
    return _matches(bearer, tokens) or _matches(request.cookies.get(COOKIE, ""), tokens)


def _safe_next(target: str) -> str:
    # Only paths on this service: never an open redirect to another host.
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def login_page(next_path: str, error: str | None = None, status: int = 401) -> HTMLResponse:
    html = environment().get_template("login.html").render(next_path=_safe_next(next_path), error=error)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def gate(request: Request, runtime: RuntimeDep) -> Response | None:
    """None when the page may be shown, else the login form (401)."""
    if may_read(request, runtime):
        return None
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return login_page(path)


@router.get("/login", response_class=HTMLResponse)
def login_form(next: str = "/") -> HTMLResponse:
    return login_page(next, status=200)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, runtime: RuntimeDep) -> Response:
    body = await request.body()
    form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0]
    target = _safe_next((form.get("next") or ["/"])[0])
    if not _tokens(runtime) or not _matches(token, _tokens(runtime)):
        return login_page(target, "That token does not open these pages.")
    response = RedirectResponse(quote(target, safe="/?=&%-_.~"), status_code=303)
    secure = runtime.settings.public_url.startswith("https://")
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=7 * 86400)
    return response
