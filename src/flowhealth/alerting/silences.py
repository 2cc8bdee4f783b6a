"""Silences: who muted which alerts, until when, and why."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from ..errors import FlowHealthError
from ..model.model import Model
from ..store.tables import Silence

MATCHER_KEYS = ("flow", "system", "team", "rule", "severity")


class SilenceError(FlowHealthError):
    """A silence request that cannot be honoured as given."""


@dataclass(frozen=True)
class AlertIdentity:
    """What silences can match on for one alert."""

    rule: str
    flow: str
    team: str
    severity: str
    systems: tuple[str, ...]

    def matched_by(self, matchers: dict[str, str]) -> bool:
        for key, value in matchers.items():
            if key == "system":
                if value not in self.systems:
                    return False
            elif getattr(self, key) != value:
                return False
        return True


def identity(model: Model, rule_id: str, team: str) -> AlertIdentity:
    rule = model.rule(rule_id)
    return AlertIdentity(rule_id, rule.flow, team, rule.severity, tuple(model.flow_systems(rule.flow)))


def matchers_of(silence: Silence) -> dict[str, str]:
    loaded: dict[str, str] = json.loads(silence.matchers)
    return loaded


def validate_matchers(model: Model, matchers: dict[str, str]) -> dict[str, str]:
    """Only known keys and known names; an empty silence would mute everything."""
    if not matchers:
        raise SilenceError("a silence needs at least one matcher (flow, system, team, rule or severity)")
    known: dict[str, Mapping[str, object]] = {
        "flow": model.flows,
        "system": model.systems,
        "team": model.teams,
        "rule": model.all_rules(),
        "severity": {"critical": 1, "warning": 1, "info": 1},
    }
    for key, value in matchers.items():
        if key not in MATCHER_KEYS:
            raise SilenceError(f"unknown matcher '{key}' (use {', '.join(MATCHER_KEYS)})")
        if value not in known[key]:
            raise SilenceError(f"unknown {key} '{value}'")
    return dict(sorted(matchers.items()))


def create_silence(
    session: Session,
    model: Model,
    *,
    matchers: dict[str, str],
    starts_at: datetime,
    ends_at: datetime,
    author: str,
    reason: str,
    now: datetime,
) -> Silence:
    clean = validate_matchers(model, matchers)
    if ends_at <= starts_at:
        raise SilenceError("a silence must end after it starts")
    if ends_at <= now:
        raise SilenceError("a silence must end in the future")
    if not reason.strip():
        raise SilenceError("say why: a silence needs a reason")
    silence = Silence(
        matchers=json.dumps(clean, sort_keys=True),
        starts_at=starts_at,
        ends_at=ends_at,
        author=author,
        reason=reason.strip(),
        created_at=now,
    )
    session.add(silence)
    session.flush()
    return silence


def expire_silence(session: Session, silence_id: int, now: datetime) -> Silence:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise SilenceError(f"no silence {silence_id}")
    if silence.expired_at is None and silence.ends_at > now:
        silence.expired_at = now
        session.add(silence)
    return silence


def is_active(silence: Silence, now: datetime) -> bool:
    return silence.expired_at is None and silence.starts_at <= now < silence.ends_at


def active_silences(session: Session, now: datetime) -> list[Silence]:
    rows = session.exec(select(Silence).where(col(Silence.expired_at).is_(None), col(Silence.ends_at) > now)).all()
    return [s for s in rows if s.starts_at <= now]


def silencing(silences: list[Silence], alert: AlertIdentity) -> Silence | None:
    """The silence muting this alert, if any (the one ending last)."""
    matching = [s for s in silences if alert.matched_by(matchers_of(s))]
    return max(matching, key=lambda s: s.ends_at) if matching else None
