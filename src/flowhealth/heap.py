"""Give the C heap's freed memory back to the operating system.

glibc's malloc keeps memory a thread freed in that thread's arena for later use; it returns it only
from the top of the main heap. A scrape of `/metrics` at a thousand probes builds tens of MiB of
short-lived objects in whichever worker thread serves it, and with scrapes every 20 s the freed
but kept part of the heap grew from 11 to 48 MiB in four minutes of the soak while the part in use
stayed at 45 MiB. `malloc_trim(0)` hands whole free pages back (it walks every arena); in the
30-minute soak this slowed the climb but did not stop it (benchmarks/README.md, "Memory at 1,000
flows"). Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None
    return trim


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the system; True when some were released."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
