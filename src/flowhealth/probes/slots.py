"""Which scheduler job runs which probes: one job per slot and connection, not one per probe.

Each probe keeps a fixed phase within its interval, from a hash of its name, so a thousand probes
spread evenly instead of starting in one burst, and every restart keeps the spread. SQL probes
are then quantized to slots (`FLOWHEALTH_PROBE_SLOT`, 1 s by default) and the probes of one
connection due in one slot run from one APScheduler job, back to back on one pooled connection:
a scheduler dispatch and a pool checkout per group instead of per probe. Every other probe (and
a SQL probe alone in its slot) keeps a job of its own at its exact phase.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass


def phase(name: str) -> float:
    """A stable fraction in [0, 1) for a name, the same in every process and every run."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 2**32


@dataclass(frozen=True)
class Slot:
    """One scheduler job: its interval, its first run after start, and the probes it runs in order."""

    job_id: str
    interval: float
    offset: float
    keys: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Scheduled:
    """A probe to schedule: seconds between runs, and the connection it may share (None: its own job)."""

    interval: float
    shares: str | None = None


def plan_slots(probes: Mapping[tuple[str, str], Scheduled], width: float) -> list[Slot]:
    """The jobs that run `probes` (keyed by (flow, signal)); `width` is the slot length in seconds."""
    slots: list[Slot] = []
    groups: dict[tuple[float, str, int], list[tuple[str, str]]] = {}
    for (flow, signal), probe in sorted(probes.items()):
        offset = phase(f"{flow}/{signal}") * probe.interval
        if probe.shares is None:
            slots.append(Slot(f"probe:{flow}:{signal}", probe.interval, offset, ((flow, signal),)))
            continue
        step = min(width, probe.interval)
        groups.setdefault((probe.interval, probe.shares, int(offset // step)), []).append((flow, signal))
    for (interval, shares, index), keys in sorted(groups.items()):
        step = min(width, interval)
        if len(keys) == 1:
            flow, signal = keys[0]
            slots.append(Slot(f"probe:{flow}:{signal}", interval, index * step, (keys[0],)))
        else:
            slots.append(Slot(f"probes:{shares}:{interval:g}:{index}", interval, index * step, tuple(keys)))
    return slots
