"""Keep the C heap from holding on to memory the service freed (glibc's malloc).

glibc's malloc keeps memory a thread freed in that thread's arena for later use; it returns it only
from the top of each heap. flowhealth frees a lot in worker threads: a scrape of `/metrics` at a
thousand probes builds tens of MiB of short-lived objects, span ingestion and evaluation theirs.
In the soak at 1,000 flows the part of the heap in use stayed at 45 MiB while the part freed but
kept grew from 11 to 74 MiB, and RSS with it (benchmarks/README.md, "Memory"). Three settings
together keep it down:

* at most `ARENAS` malloc arenas: glibc allows 8 per core, one per thread until then (the
  scheduler's 12 workers, uvicorn's and anyio's threads), and each keeps its own free memory;
* a fixed mmap threshold: by default glibc raises it to the size of every large block freed
  (up to 32 MiB), so after the first scrape its 3.6 MiB exposition and the like are carved from the
  arenas and fragment them, instead of being mapped and unmapped as a whole;
* `malloc_trim(0)` after each scrape and every `RELEASE_EVERY` seconds, which hands every arena's
  whole free pages back.

An operator's own MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_ or GLIBC_TUNABLES wins. Elsewhere than
glibc (musl, macOS) all of this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger(__name__)

# mallopt's parameters, from glibc's <malloc.h>.
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value, held fixed
RELEASE_EVERY = 30.0  # seconds; a trim of ~100 MiB of heap costs a few ms
_OPERATOR_SETTINGS = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # musl and macOS have no malloc_trim or mallopt.
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    libc = _libc()
    if libc is None:
        return None
    trim: Callable[[int], int] = libc.malloc_trim
    return trim


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the system; True when some were released."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


@cache
def tune_allocator() -> bool:
    """Limit malloc arenas and fix the mmap threshold for the rest of the process; True if applied.

    Arenas that exist stay, so this runs before the service starts its threads. Applied once.
    """
    libc = _libc()
    ours = not any(name in os.environ for name in _OPERATOR_SETTINGS)
    if libc is None or not ours:
        return False
    applied = bool(libc.mallopt(M_ARENA_MAX, ARENAS)) and bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not applied:
        log.warning("could not tune malloc (mallopt failed): memory freed by threads may stay with the process")
    return applied


def keep_heap_small(scheduler: BaseScheduler, executor: str = "default") -> None:
    """Tune the allocator now, and hand freed pages back every RELEASE_EVERY seconds from `scheduler`."""
    tune_allocator()
    if _malloc_trim() is not None:
        scheduler.add_job(
            release_freed_memory, "interval", seconds=RELEASE_EVERY, id="release-memory", executor=executor
        )
