"""Which files of a model directory are read, and how much of them: regular files only, bounded.

A model directory comes from a repository anyone can send a pull request to, so the loader must
stay quick whatever is in it: a FIFO or `/dev/zero` would block or never end, a symlink loop would
never resolve, and a 50 MB file would take minutes to parse. Anything that is not a regular file
is skipped with a warning; a file over the size limit is an error naming the file and the limit.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelIssue

log = logging.getLogger("flowhealth.model")

MiB = 1024 * 1024


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


@dataclass(frozen=True)
class ModelLimits:
    """How much of a model directory is read (FLOWHEALTH_MODEL_MAX_FILE_BYTES / _MAX_BYTES)."""

    # The reference deployment is 100 KiB with 1,200 YAML values in all; a 1,000-flow model is
    # 700 KiB with 71,000 values. Time goes by values (PyYAML resolves each one in Python: ~10 us
    # to compose, build and validate), bytes only cost reading and a first pass (~0.2 s per MiB).
    file_bytes: int = MiB
    model_bytes: int = 4 * MiB
    model_values: int = 100_000


@dataclass
class FileBudget:
    """Bytes still allowed for the rest of the model, shared by every file it reads."""

    limits: ModelLimits = field(default_factory=ModelLimits)
    read: int = 0
    values: int = 0

    def allowance(self) -> int:
        return max(0, min(self.limits.file_bytes, self.limits.model_bytes - self.read))


def model_files(directory: Path, suffixes: tuple[str, ...], root: Path, *, recursive: bool = True) -> Iterator[Path]:
    """Regular files (or symlinks to one) under `directory` with one of `suffixes`, sorted; warn on the rest.

    Symlinked directories are not followed: a loop would never end and a link out of the
    repository would read files nobody reviewed.
    """
    if not directory.is_dir():
        return
    found: list[Path] = []
    for current, dirs, names in os.walk(directory, followlinks=False):
        base = Path(current)
        if not recursive:
            dirs.clear()
        for name in sorted(dirs):
            if (base / name).is_symlink():
                _skip(base / name, root, "a symlink to a directory (not followed)")
        for name in names:
            path = base / name
            if path.suffix not in suffixes:
                continue
            reason = _not_regular(path)
            if reason:
                _skip(path, root, reason)
            else:
                found.append(path)
    yield from sorted(found)


def _not_regular(path: Path) -> str | None:
    try:
        mode = os.stat(path).st_mode  # follows a symlink to its target
    except OSError as exc:
        if path.is_symlink():
            return "a dangling symlink or symlink loop" if exc.errno in (2, 40) else f"unreadable ({exc.strerror})"
        return f"unreadable ({exc.strerror})"
    return None if stat.S_ISREG(mode) else _kind(mode)


def _skip(path: Path, root: Path, reason: str) -> None:
    log.warning("%s: skipped: %s", display(path, root), reason)


def display(path: Path, root: Path) -> str:
    """The path as the user wrote it: relative to the model directory where possible."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def read_text(path: Path, shown: str, budget: FileBudget | None = None) -> tuple[str | None, list[ModelIssue]]:
    """The file's text, or an issue: not regular, over the size limit, unreadable, not UTF-8."""
    try:
        # O_NONBLOCK: a FIFO swapped in after the listing must not block the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return None, [ModelIssue(shown, 1, "", f"cannot read file: {exc.strerror}")]
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            return None, [ModelIssue(shown, 1, "", f"cannot read file: {_kind(mode)}, not a regular file")]
        budget = budget or FileBudget()
        limit = budget.allowance()
        # Read one byte past the limit: the size is checked on what is read, not on what stat says.
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        limits = budget.limits
        if limit < limits.file_bytes:
            message = (
                f"the model is larger than its limit of {_size(limits.model_bytes)} in all "
                "(FLOWHEALTH_MODEL_MAX_BYTES); this file was not read"
            )
        else:
            message = f"file is larger than the limit of {_size(limits.file_bytes)} (FLOWHEALTH_MODEL_MAX_FILE_BYTES)"
        return None, [ModelIssue(shown, 1, "", message)]
    budget.read += len(raw)
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [ModelIssue(shown, line, "", f"not UTF-8 text (byte {exc.start})")]


def _size(size: int) -> str:
    return f"{size / MiB:g} MiB" if size >= MiB else f"{size:,} bytes"
