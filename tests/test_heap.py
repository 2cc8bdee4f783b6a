"""Memory a worker thread freed goes back to the system instead of staying with the process."""

from __future__ import annotations

import threading

import pytest

from flowhealth.heap import _malloc_trim, release_freed_memory


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
