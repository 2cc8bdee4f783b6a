"""The http probe: one number out of a JSON answer, with secrets only from the environment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import ConfigError, ProbeError, ProbeInvalid, ProbeTimeout
from ..model.envref import resolve
from ..store.samples import Reading
from .base import as_number
from .clients import SharedClients
from .jsonpath import parse, pick

if TYPE_CHECKING:
    import httpx


def origin(url: str) -> str:
    """scheme://host:port, the only part of a URL that error messages show (no paths, no tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class JsonEndpoint:
    """A resolved URL with headers, fetched through the client shared by its origin."""

    def __init__(
        self,
        clients: SharedClients,
        url: str,
        headers: Mapping[str, str],
        environ: Mapping[str, str],
        *,
        verify: bool,
        timeout: float,
        where: str,
    ) -> None:
        self.url = resolve(url, environ, where=f"{where} url")
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ConfigError(f"{where}: the url must start with http:// or https://")
        self.headers = {k: resolve(v, environ, where=f"{where} header {k}") for k, v in headers.items()}
        self.origin = origin(self.url)
        self.timeout = timeout
        # Imported here, not with the module: httpx loads its command line (rich, pygments, click)
        # when they are installed, 0.1 s of every start whose model has no http probe.
        import httpx

        self._client = clients.get(
            ("http", self.origin, verify),
            lambda: httpx.Client(verify=verify, follow_redirects=False),
            httpx.Client.close,
        )

    def fetch(self, method: str = "GET", body: Any = None, params: Mapping[str, str] | None = None) -> Any:
        """The decoded JSON answer; third-party errors become ProbeError/ProbeTimeout/ProbeInvalid."""
        import httpx

        try:
            response = self._client.request(
                method, self.url, headers=self.headers, json=body, params=params, timeout=self.timeout
            )
        except httpx.TimeoutException:
            raise ProbeTimeout(f"{self.origin} did not answer within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise ProbeError(f"cannot reach {self.origin}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise ProbeError(f"{self.origin} answered HTTP {response.status_code}{_reason(response)}")
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ProbeInvalid(
                f"{self.origin} answered {response.headers.get('content-type', '?')}, not JSON"
            ) from None


def _reason(response: httpx.Response) -> str:
    # APIs such as Prometheus explain a refusal in an `error` field; that text is worth showing.
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f": {str(error)[:200]}" if error else ""


class HttpProbe:
    """GET or POST a JSON endpoint and read one number at a path."""

    kind = "http"

    def __init__(self, endpoint: JsonEndpoint, path: str, method: str, body: Any) -> None:
        try:
            parse(path)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self._endpoint = endpoint
        self._path = path
        self._method = method
        self._body = body

    def run(self, now: datetime) -> list[Reading]:
        document = self._endpoint.fetch(self._method, self._body)
        return [Reading(as_number(pick(document, self._path), what=f"the value at {self._path}"))]

    def close(self) -> None:
        """The client belongs to the shared clients, which close it."""
