"""Memory a worker thread freed goes back to the system instead of staying with the process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from flowhealth.heap import ARENAS, _malloc_trim, release_freed_memory


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(_malloc_trim() is None, reason="glibc's malloc_trim is not available on this system")
def test_what_a_scrape_thread_freed_is_handed_back_to_the_system() -> None:
    # A scrape builds tens of MiB of short-lived objects in a worker thread; glibc keeps what that
    # thread freed in its arena, and RSS only ever climbs, unless it is handed back.
    survivors: list[bytes] = []

    def scrape_like_burst() -> None:
        held = [bytes(4096) for _ in range(16_000)]  # 64 MiB of objects that live in malloc, not pymalloc
        survivors.extend(held[::16])  # a few outlive the scrape (as caches do) and pin the arena
        del held

    worker = threading.Thread(target=scrape_like_burst)
    worker.start()
    worker.join()
    before = _rss_mib()
    assert release_freed_memory()
    assert _rss_mib() < before - 16  # most of the 60 MiB freed left the process
    assert len(survivors) == 1000


_ARENAS = """
import ctypes, sys, threading
from flowhealth.heap import tune_allocator
tuned = tune_allocator() if sys.argv[1] == "tuned" else False
barrier = threading.Barrier(9)
def work():
    kept = [bytes(2048) for _ in range(100)]  # served by malloc (pymalloc stops at 512 bytes)
    barrier.wait()
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
barrier.wait()  # all eight alive and allocating at once
ctypes.CDLL("libc.so.6").malloc_stats()  # one "Arena n:" block per arena, on stderr
barrier.wait()
for t in threads:
    t.join()
print(tuned)
"""


def _arenas(mode: str, environ: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-c", _ARENAS, mode], capture_output=True, text=True, timeout=60, env=environ, check=True
    )
    return done.stderr.count("Arena "), done.stdout.strip()


@pytest.mark.skipif(_malloc_trim() is None, reason="glibc's malloc is not available on this system")
def test_the_service_keeps_few_malloc_arenas_unless_the_operator_chose() -> None:
    # Each thread would get a malloc arena of its own (up to 8 per core), each keeping what it freed.
    environ = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    untuned, _ = _arenas("plain", environ)
    tuned, applied = _arenas("tuned", environ)
    assert untuned > ARENAS  # eight threads allocating at once do spread over arenas by default
    assert applied == "True"
    assert tuned <= ARENAS
    # An operator's own setting wins: flowhealth leaves malloc alone.
    chosen, applied = _arenas("tuned", environ | {"MALLOC_ARENA_MAX": "4"})
    assert applied == "False"
    assert ARENAS < chosen <= 4
