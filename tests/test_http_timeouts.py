"""Slow clients are dropped, normal clients are not: a real `flowhealth serve` with short timeouts.

The attack held 200 slowloris sockets for 40 s. Here 100 sockets each try it a different way
(nothing sent, a header line now and then, a body a byte at a time), with timeouts of 1 s; all
must be closed by the server within a few seconds while an ordinary client keeps being served.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.models import ORDERS_FLOW, write_model
from tests.support.service import ServeProcess

FLOWS = ORDERS_FLOW + "      delay: {kind: delay, description: Oldest order., probe: {kind: push}}\n"
TIMEOUT = 1.0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServeProcess]:
    write_model(tmp_path / "model", FLOWS, runbooks=())
    env = {
        "FLOWHEALTH_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "FLOWHEALTH_HTTP_HEADER_TIMEOUT": str(TIMEOUT),
        "FLOWHEALTH_HTTP_BODY_TIMEOUT": str(TIMEOUT),
        "FLOWHEALTH_HTTP_IDLE_TIMEOUT": str(int(TIMEOUT)),
        "FLOWHEALTH_API_TOKEN": "token-for-tests",
    }
    process = ServeProcess(tmp_path / "model", env, tmp_path / "serve.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _closed_by_server(sock: socket.socket, dribble: bytes, within: float) -> float | None:
    """Send `dribble` a byte every 0.2 s until the server closes; seconds it took, or None."""
    started = time.monotonic()
    sock.settimeout(0.2)
    position = 0
    while time.monotonic() - started < within:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except OSError:  # reset by the server
            return time.monotonic() - started
        if position < len(dribble):
            try:
                sock.sendall(dribble[position : position + 1])
            except OSError:
                return time.monotonic() - started
            position += 1
    return None


SLOW_HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-Pad-%d: y\r\n" % i for i in range(1000))
SLOW_BODY_HEAD = (
    b"POST /api/v1/flows/orders/signals/delay HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer token-for-tests\r\n"
    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
)


@pytest.mark.timeout(120)
def test_slow_clients_are_dropped_and_normal_clients_are_served(service: ServeProcess) -> None:
    ways = {
        "silent": b"",
        "slow head": SLOW_HEAD,
        "slow body": SLOW_BODY_HEAD + b" " * 1000,
    }
    results: dict[str, list[float | None]] = {way: [] for way in ways}
    lock = threading.Lock()

    def attacker(way: str) -> None:
        with socket.create_connection(("127.0.0.1", service.port)) as sock:
            if way == "slow body":
                sock.sendall(SLOW_BODY_HEAD)  # the head at once, then the body trickles
                took = _closed_by_server(sock, b" " * 1000, within=TIMEOUT + 10)
            else:
                took = _closed_by_server(sock, ways[way], within=TIMEOUT + 10)
        with lock:
            results[way].append(took)

    threads = [threading.Thread(target=attacker, args=(way,)) for way in ways for _ in range(33)]
    for thread in threads:
        thread.start()
    # Meanwhile an ordinary client, on one kept-alive connection, gets every answer quickly.
    latencies = []
    with httpx.Client(base_url=service.url, timeout=5) as client:
        while any(thread.is_alive() for thread in threads):
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.1)
    for thread in threads:
        thread.join()
    for way, took in results.items():
        assert len(took) == 33 and all(t is not None for t in took), (way, took)
        # Closed at the timeout, give or take scheduling on a busy machine; never held on.
        assert max(t for t in took if t is not None) < TIMEOUT + 5, (way, took)
    assert max(latencies) < 2, latencies


@pytest.mark.timeout(60)
def test_a_kept_alive_client_that_goes_quiet_is_closed_after_the_idle_timeout(service: ServeProcess) -> None:
    with socket.create_connection(("127.0.0.1", service.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert _closed_by_server(sock, b"", within=TIMEOUT + 10) is not None


@pytest.mark.timeout(60)
def test_a_normal_post_with_a_body_is_unaffected(service: ServeProcess) -> None:
    with contextlib.closing(socket.create_connection(("127.0.0.1", service.port))) as sock:
        body = b'{"value": 12}'
        head = SLOW_BODY_HEAD.replace(b"Content-Length: 1000", b"Content-Length: %d" % len(body))
        sock.sendall(head)
        time.sleep(TIMEOUT / 2)  # within the body timeout
        sock.sendall(body)
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 202")


def test_an_oversized_request_head_is_refused(service: ServeProcess) -> None:
    answer = httpx.get(f"{service.url}/healthz", headers={"X-Big": "y" * 20_000}, timeout=5)
    assert answer.status_code == 431
