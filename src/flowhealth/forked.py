"""Work handed to a forked child on another core, its result read back through a pipe.

The CLI's big-model commands are single-threaded Python: loading a 10,000-rule model and writing
its files kept one core busy for seconds while the host's other cores idled. A forked child
starts with everything the parent has built (the model, imported modules) without copying or
pickling it, does one independent part, and writes what it made to a pipe.

Callers treat a child as an optimisation only: when one cannot start, dies or fails, the parent
does the same work itself, so the result is the same either way. A fork is only taken from a
Linux process with one thread (a fork beside other threads can copy a lock they hold) and with a
second core to run on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO


def can_fork() -> bool:
    """Linux only: macOS forbids a forked child some system frameworks its parent may have loaded,
    which is why Python's own multiprocessing spawns there. Two cores in this process' affinity
    (which containers narrow), and no thread besides this one."""
    return sys.platform == "linux" and len(os.sched_getaffinity(0)) >= 2 and threading.active_count() == 1


class Child:
    """A forked child writing to `stream`; `output` waits for what it wrote, `close` stops it."""

    def __init__(self, pid: int, stream: BinaryIO) -> None:
        self._pid: int | None = pid
        self.stream = stream

    @classmethod
    def start(cls, work: Callable[[BinaryIO], object]) -> Child | None:
        """Run `work(out)` in a forked child; None when no child can be started here."""
        if not can_fork():
            return None
        try:
            read, write = os.pipe()
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return None
        if pid == 0:  # the child: work, then leave without the parent's exit handlers or buffers
            os.close(read)
            code = 1
            try:
                with os.fdopen(write, "wb") as out:
                    work(out)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        return cls(pid, os.fdopen(read, "rb"))

    def output(self) -> bytes | None:
        """Everything the child wrote, once it has ended; None when it did not finish its work."""
        try:
            body: bytes | None = self.stream.read()
        except OSError:
            body = None
        finished = self._wait()
        return body if finished else None

    def close(self) -> None:
        """Stop the child if it is still working, and reap it."""
        self.stream.close()
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):  # done and exited, or stopped here mid-way
                os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = None

    def _wait(self) -> bool:
        """Wait for the child to end; whether it finished its work (exit status 0)."""
        self.stream.close()
        if self._pid is None:
            return False
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        return os.waitstatus_to_exitcode(status) == 0
