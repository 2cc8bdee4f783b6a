"""Big model files parsed by a second process while this one does something else.

Building a 10,000-rule model's YAML takes ~0.55 s of its ~0.85 s load, on one core, and every
host flowhealth runs on has two or more. The loader validates file after file; while it validates
one, a forked child parses the next ones. `serve` starts one for every file before it imports the
service (~0.75 s), so the parse is done when the model is loaded.

The child hands back what the one-pass builder made of each plain file (its data, the issues it
found, its count of values) with a digest of the text it read. The parent uses a result only when
the text it reads itself has the same digest and the values fit the model's budget; anything else
(a file that changed meanwhile, YAML the builder leaves to the node builder, invalid YAML, a
child that died or could not start) it parses as it always does. So the model, and every issue
and line a user sees, are the same with or without it.

A fork is only taken from a process with one thread (`forked`): a reload inside `serve`, with
scheduler and server threads running, parses as before.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from ..errors import ModelIssue
from ..forked import Child
from .files import FileBudget, ModelLimits, read_text
from .yamlevents import NotPlain, OverBudget, build_plain
from .yamlsource import MAX_DEPTH

# Under this many bytes in the files handed over, parsing them here is quicker than a fork.
MIN_BYTES = 512 * 1024
_PLACE = struct.Struct("!QQ")  # where one result is in the spool: offset, size

# What the child made of one file: its text's digest and (data, issues, values), or None to parse here.
Parsed = tuple[Any, list[ModelIssue], int]


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class ParseAhead:
    """A child process parsing model files in order; `take` waits for one file's result."""

    def __init__(self, child: Child, spool: BinaryIO, paths: Sequence[Path]) -> None:
        self._child: Child | None = child
        self._spool = spool
        self._pending = list(paths)  # in the order the child parses and sends them
        self._results: dict[Path, tuple[bytes, Parsed | None]] = {}
        self.used = 0  # files whose result the loader took: for tests and benchmarks

    @classmethod
    def start(cls, files: Sequence[tuple[Path, str]], limits: ModelLimits) -> ParseAhead | None:
        """Fork a child to parse `files` ((path, as shown)); None where parsing here is the better choice."""
        try:
            if sum(path.stat().st_size for path, _ in files) < MIN_BYTES:
                return None
        except OSError:
            return None
        # Results go to a spool file, and only their place in it through the pipe: a pipe holds
        # 64 KiB, and `serve` reads nothing until its imports are done, so a child writing its
        # results into the pipe stopped after the first file.
        try:
            spool = tempfile.TemporaryFile()  # noqa: SIM115  - closed with the child, in close()
        except OSError:  # no writable temporary directory: parse here
            return None
        child = Child.start(lambda out: _parse_and_send(files, limits, spool.fileno(), out))
        if child is None:
            spool.close()
            return None
        return cls(child, spool, [path for path, _ in files])

    def take(self, path: Path, text: str) -> Parsed | None:
        """The child's result for this file, if it parsed exactly `text` cleanly; None: parse it here."""
        if path not in self._results and path in self._pending:
            self._receive_until(path)
        sent = self._results.pop(path, None)
        if sent is None or sent[1] is None or sent[0] != digest(text):
            return None
        self.used += 1
        return sent[1]

    def close(self) -> None:
        """Stop the child if it is still working, and reap it."""
        if self._child is not None:
            self._child.close()
            self._child = None
            self._spool.close()

    def _receive_until(self, path: Path) -> None:
        while self._child is not None and self._pending:
            try:
                place = self._child.stream.read(_PLACE.size)
                if len(place) < _PLACE.size:
                    raise EOFError
                offset, size = _PLACE.unpack(place)
                sent_digest, parsed = pickle.loads(_read_at(self._spool.fileno(), offset, size))
            except Exception:  # the child died or sent garbage: the rest is parsed here
                self._pending.clear()
                self.close()
                return
            done = self._pending.pop(0)
            self._results[done] = (sent_digest, parsed)
            if done == path:
                return


def _parse_and_send(files: Sequence[tuple[Path, str]], limits: ModelLimits, spool: int, out: BinaryIO) -> None:
    offset = 0
    for path, shown in files:
        text, problems = read_text(path, shown, FileBudget(limits))
        parsed = _parse(text, shown, limits) if text is not None and not problems else None
        body = pickle.dumps((digest(text or ""), parsed), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(body)
        while view:
            view = view[os.pwrite(spool, view, offset + len(body) - len(view)) :]
        out.write(_PLACE.pack(offset, len(body)))
        out.flush()  # the parent may be waiting for this very file
        offset += len(body)


def _read_at(fd: int, offset: int, size: int) -> bytes:
    parts = []
    while size:
        part = os.pread(fd, size, offset)
        if not part:
            raise EOFError
        parts.append(part)
        offset, size = offset + len(part), size - len(part)
    return b"".join(parts)


def _parse(text: str, shown: str, limits: ModelLimits) -> Parsed | None:
    try:
        built = build_plain(text, shown, limits.model_values, MAX_DEPTH, track_lines=False)
    except (NotPlain, OverBudget, yaml.YAMLError):
        return None
    if built is None:
        return None
    data, _, issues, values = built
    return data, issues, values
