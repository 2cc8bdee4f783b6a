"""One JSON POST to a receiver, with its failures mapped to what the outbox does next.

Refused connections and 429s never reached the other side: retry. Timeouts and dropped
connections may have: retry too, and rely on the receiver's idempotency key (PagerDuty's
``dedup_key``, the webhook's ``X-Flowhealth-Idempotency-Key``). 5xx: retry with backoff. Any other
4xx will not pass by retrying: rejected, the message stays queued with the reason. Errors never
quote the URL, which may carry a secret (a Workflows URL is signed in its query string).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import DeliveryRejected, DeliveryRetryable

if TYPE_CHECKING:
    import httpx

TIMEOUT_SECONDS, CONNECT_SECONDS = 10.0, 5.0


def new_client() -> httpx.Client:
    """A client for one receiver. httpx is imported here, not with this module: importing it loads its
    command line (rich, pygments, click) when those are installed, 0.1 s of every `serve` start
    whose model has no receiver of this kind."""
    import httpx

    return httpx.Client(timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_SECONDS))


def post_json(
    client: httpx.Client, url: str, body: bytes, *, what: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST `body` (JSON bytes); the response when 2xx, else DeliveryRetryable or DeliveryRejected."""
    import httpx

    try:
        response = client.post(url, content=body, headers={"Content-Type": "application/json", **(headers or {})})
    except httpx.ConnectError as exc:
        raise DeliveryRetryable(f"{what} is unreachable ({type(exc).__name__})", maybe_sent=False) from None
    except httpx.TimeoutException as exc:
        raise DeliveryRetryable(f"{what} did not answer in time ({type(exc).__name__}); it may have arrived") from None
    except httpx.HTTPError as exc:
        raise DeliveryRetryable(f"{what} failed: {type(exc).__name__}; it may have arrived") from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    reason = response.text[:300].strip()
    if status == 429:
        raise DeliveryRetryable(f"{what} is rate limiting (429)", retry_after=_retry_after(response), maybe_sent=False)
    if status >= 500 or status == 408:
        raise DeliveryRetryable(f"{what} answered {status}: {reason}", retry_after=_retry_after(response))
    raise DeliveryRejected(f"{what} refused the message ({status}): {reason}")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
