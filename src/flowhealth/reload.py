"""Reloading the model without a restart (SIGHUP, `POST /-/reload`), as Prometheus reloads its config.

The new model is loaded and validated first; a broken one is refused with its errors and the old
one keeps running. A good one replaces the old between two cycles: the scheduler is stopped (the
evaluation or delivery in flight finishes), alerts of rules that no longer exist are resolved
through the old model (so the resolve message reaches the same owner and thread), the parts are
swapped and the jobs scheduled again. Alert state lives in the database by rule id, so every rule
that still exists keeps its state, including how long it has been pending.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FlowHealthError, ModelError, StoreError
from .model.loader import load_model
from .probes.runner import scheduled_signals
from .runtime import Runtime
from .runtime_parts import build_parts

log = logging.getLogger(__name__)

MODEL_FOLDERS = ("flows", "alert_rules", "runbooks")


def model_digest(model_dir: Path) -> str:
    """sha256 of the model's files (path and content), the same on every replica that has the same files."""
    digest = hashlib.sha256()
    for folder in MODEL_FOLDERS:
        for path in sorted((model_dir / folder).rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(model_dir).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: the model in use afterwards, and why a refused one was refused."""

    reloaded: bool
    digest: str
    errors: tuple[str, ...] = ()
    removed_rules: tuple[str, ...] = ()
    added_rules: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "reloaded" if self.reloaded else "refused",
            "model_digest": self.digest,
            "errors": list(self.errors),
            "removed_rules": list(self.removed_rules),
            "added_rules": list(self.added_rules),
        }


@dataclass
class Reloader:
    """Reloads one runtime's model from its directory; one reload at a time."""

    runtime: Runtime
    model_dir: Path
    digest: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _declined: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.digest = self.digest or model_digest(self.model_dir)
        cluster = self.runtime.cluster
        if cluster is not None:
            cluster.model_digest = self.digest
            cluster.on_newer_model = self.follow

    def reload(self) -> ReloadResult:
        """Validate the files, then swap the model in; a broken model changes nothing."""
        with self._lock:
            return self._reload()

    def _reload(self) -> ReloadResult:
        runtime = self.runtime
        digest = model_digest(self.model_dir)
        try:
            model = load_model(self.model_dir, runtime.settings.model_limits())  # the limits serve started with
            parts = build_parts(
                model,
                runtime.settings,
                runtime.engine,
                runtime.clock,
                runtime.metrics,
                runtime.environ,
                runtime.probe_factories,
            )
        except ModelError as exc:
            return self._refused([str(issue) for issue in exc.issues])
        except FlowHealthError as exc:
            return self._refused([str(exc)])
        old_rules, new_rules = set(runtime.model.all_rules()), set(model.all_rules())
        removed, added = sorted(old_rules - new_rules), sorted(new_rules - old_rules)
        running = runtime.scheduler is not None
        if running:
            runtime.stop(leave=False)
        try:
            if removed:
                runtime.evaluator.retire(set(removed))
        except StoreError as exc:
            # The database is away: these alerts stay as they are in the table, muted by the new model.
            log.warning("could not resolve the alerts of removed rules %s: %s", ", ".join(removed), exc)
        runtime.swap(parts)
        if runtime.cluster is not None:
            runtime.cluster.model_changed(digest, scheduled_signals(model))
        if running:
            runtime.start()
        self.digest = digest
        runtime.metrics.reload_successful.set(1)
        runtime.metrics.reload_success_time.set_to_current_time()
        log.warning(
            "model reloaded from %s (%s): %d rules added, %d removed",
            self.model_dir,
            digest[:12],
            len(added),
            len(removed),
        )
        return ReloadResult(True, digest, removed_rules=tuple(removed), added_rules=tuple(added))

    def follow(self, digest: str) -> None:
        """Another replica runs a newer model: load ours again if our files are that model.

        Each replica reads its own files (the same image or volume); a reload on one replica
        reaches the others within a heartbeat. Files that differ are logged, never guessed at.
        """
        if digest == self.digest or digest in self._declined:
            return
        if model_digest(self.model_dir) != digest:
            self._declined.add(digest)
            log.error("another replica runs model %s, but this replica's files differ; not reloading", digest[:12])
            return
        # Not on the heartbeat's thread: a reload stops the scheduler and waits for its jobs.
        threading.Thread(target=self.reload, name="reload-follow", daemon=True).start()

    def _refused(self, errors: list[str]) -> ReloadResult:
        self.runtime.metrics.reload_successful.set(0)
        log.error("model reload refused, the running model stays: %s", "; ".join(errors))
        return ReloadResult(False, self.digest, errors=tuple(errors))


def reload_on_sighup(reloader: Reloader) -> None:
    """SIGHUP reloads in a thread of its own: the handler returns at once, the reload may take seconds."""

    def handle(_signum: int, _frame: object) -> None:
        threading.Thread(target=reloader.reload, name="reload", daemon=True).start()

    signal.signal(signal.SIGHUP, handle)
