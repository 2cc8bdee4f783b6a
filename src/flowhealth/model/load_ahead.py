"""A big model loaded whole by a second process while `serve` imports the service.

`serve` spends its first second importing FastAPI, SQLAlchemy and the service's modules, and
then loaded the model: at 10,000 rules ~0.4 s of validation and cross-references after the YAML a
helper had parsed meanwhile (`parse_ahead`). Here the forked child does the whole load and hands
back the pickled model: unpickling it takes ~0.12 s where validating took ~0.4 s.

The child also records every directory listing and every file text the loader read (digests of
the text). The parent uses the model only when, listed and read again now, they are all the same,
and when the child's load met no problem, logged nothing and warned nothing. Anything else (a model
with a mistake, a file edited or added meanwhile, a skipped file to warn about, a child that died
or could not start) the parent loads as it always does, so every model, issue and warning a user
sees is the same with or without the child.

A fork is only taken from a process with one thread (`forked`).
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import struct
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import ModelError
from ..forked import Child
from . import files
from .files import FileBudget, ModelLimits, Sources, read_text, text_digest
from .loader import FLOWS_DIR, load_model, yaml_files
from .model import Model
from .parse_ahead import MIN_BYTES, read_at

_PLACE = struct.Struct("!QQ")  # where the result is in the spool: offset, size


class LoadAhead:
    """A child loading the model under `root`; `take` waits for it and checks what it read."""

    def __init__(self, child: Child, spool: BinaryIO, root: Path, limits: ModelLimits) -> None:
        self._child: Child | None = child
        self._spool = spool
        self._root = root
        self._limits = limits
        self.used = False  # the model came from the child: for tests and benchmarks

    @classmethod
    def start(cls, root: Path, limits: ModelLimits) -> LoadAhead | None:
        """Fork a child to load the model; None where loading it here is the better choice."""
        if not (root / FLOWS_DIR).is_dir():
            return None
        with _quiet():  # the load here warns about skipped files, once
            found = yaml_files(root)
        try:
            if sum(path.stat().st_size for path, _, _ in found) < MIN_BYTES:
                return None
        except OSError:
            return None
        try:
            spool = tempfile.TemporaryFile()  # noqa: SIM115  - closed with the child, in close()
        except OSError:
            return None
        child = Child.start(lambda out: _load_and_send(root, limits, spool.fileno(), out))
        if child is None:
            spool.close()
            return None
        return cls(child, spool, root, limits)

    def take(self, root: Path, limits: ModelLimits) -> Model | None:
        """The child's model, if it is the one loading `root` here would give now; None: load it here."""
        try:
            if self._child is None or root != self._root or limits != self._limits:
                return None
            place = self._child.stream.read(_PLACE.size)
            if len(place) < _PLACE.size:
                return None
            offset, size = _PLACE.unpack(place)
            sent = pickle.loads(read_at(self._spool.fileno(), offset, size))
        except Exception:  # the child died or sent garbage: load here
            return None
        finally:
            self.close()
        if sent is None:
            return None
        model, sources = sent
        if not _unchanged(sources, limits):
            return None
        self.used = True
        return model  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the child if it is still working, and reap it."""
        if self._child is not None:
            self._child.close()
            self._child = None
            self._spool.close()


def _load_and_send(root: Path, limits: ModelLimits, spool: int, out: BinaryIO) -> None:
    gc.disable()  # a process that ends after this load: collecting its model would be wasted work
    sent: object = None
    with files.recording() as sources, _quiet() as logged, warnings.catch_warnings(record=True) as warned:
        try:
            model = load_model(root, limits, helpers=False)
        except ModelError:
            model = None
    if model is not None and not logged and not warned:
        sent = (model, sources)
    body = pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(body)
    while view:
        view = view[os.pwrite(spool, view, len(body) - len(view)) :]
    out.write(_PLACE.pack(0, len(body)))


def _unchanged(sources: Sources, limits: ModelLimits) -> bool:
    """Whether the loader, listing and reading again now, would see what the child saw."""
    with _quiet() as logged:
        for listing in sources.listings:
            if listing.again() != listing.found:
                return False
        budget = FileBudget(limits)
        for path, seen in sources.reads:
            text, problems = read_text(path, path.name, budget)
            if problems or text is None or text_digest(text) != seen:
                return False
    return not logged


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1


@contextmanager
def _quiet() -> Iterator[list[int]]:
    """The model loggers' records counted, not shown: the load that counts shows them."""
    logger = logging.getLogger("flowhealth.model")
    handler, propagate = _Count(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    counted: list[int] = []
    try:
        yield counted
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        if handler.records:
            counted.append(handler.records)
