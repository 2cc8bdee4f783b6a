"""Reading samples for a backtest (CSV) and writing its result (table, JSON, plot)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..model.durations import format_number, human_duration
from ..model.schema import AverageValue
from .backtest import Point, Replay


class SamplesError(ValueError):
    """A samples file that cannot be read; the message names file and line."""


def _timestamp(text: str) -> datetime:
    text = text.strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def read_samples_csv(path: Path) -> dict[str, list[Point]]:
    """`timestamp,value[,label=...]` rows -> points per label set (key "{}" without labels), sorted."""
    series: dict[str, list[Point]] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not {"timestamp", "value"} <= set(reader.fieldnames):
                raise SamplesError(f"{path}:1: the header must name the columns timestamp and value")
            label_columns = sorted(set(reader.fieldnames) - {"timestamp", "value"})
            for row in reader:
                line = reader.line_num
                try:
                    point = Point(_timestamp(row["timestamp"] or ""), float(row["value"] or ""))
                except ValueError:
                    raise SamplesError(
                        f"{path}:{line}: cannot read timestamp {row['timestamp']!r} / value {row['value']!r}"
                    ) from None
                key = json.dumps({c: row[c] for c in label_columns}, sort_keys=True) if label_columns else "{}"
                series.setdefault(key, []).append(point)
    except OSError as exc:
        raise SamplesError(f"{path}: cannot read: {exc.strerror}") from None
    return {key: sorted(points, key=lambda p: p.at) for key, points in series.items()}


def _money(missing: float, value: AverageValue | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"amount": round(missing * value.amount, 2), "currency": value.currency}


def replay_json(replays: Iterable[tuple[str, Replay]], average_value: AverageValue | None, per_sample: float) -> str:
    """The replay for scripts; `per_sample` turns a rate into volume (seconds between samples)."""
    out = []
    for labels, replay in replays:
        end = replay.steps[-1].at if replay.steps else None
        longest = replay.longest()
        out.append(
            {
                "rule": replay.rule_id,
                "labels": json.loads(labels),
                "evaluated": len(replay.steps),
                "learning_until": replay.learning_until.isoformat() if replay.learning_until else None,
                "alerts": [
                    {
                        "fired_at": a.fired_at.isoformat(),
                        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
                        "duration_seconds": a.duration(end).total_seconds() if end else 0,
                        "worst_value": a.worst_value,
                        "expected": a.expected_at_fire.value if a.expected_at_fire else None,
                        "band": [a.expected_at_fire.low, a.expected_at_fire.high] if a.expected_at_fire else None,
                        "basis": a.expected_at_fire.basis() if a.expected_at_fire else None,
                        "money_at_risk": _money(a.missing * per_sample, average_value),
                    }
                    for a in replay.alerts
                ],
                "longest_seconds": longest.duration(end).total_seconds() if longest and end else 0,
            }
        )
    return json.dumps(out, indent=2)


def replay_table(replays: Iterable[tuple[str, Replay]], average_value: AverageValue | None, per_sample: float) -> str:
    """The replay for people: one line per alert, then how often and the longest."""
    lines: list[str] = []
    for labels, replay in replays:
        end = replay.steps[-1].at if replay.steps else None
        title = replay.rule_id + ("" if labels == "{}" else f" {labels}")
        lines.append(f"{title}: {len(replay.steps)} evaluations")
        if replay.learning_until:
            lines.append(f"  learning (not alerting) until {replay.learning_until:%Y-%m-%d %H:%M} UTC")
        lines.append(f"  {'fired (UTC)':<17}  {'resolved (UTC)':<17}  {'duration':>9}  {'worst':>9}  expected (band)")
        for a in replay.alerts:
            e = a.expected_at_fire
            band = f"{format_number(e.value)} ({format_number(e.low)}-{format_number(e.high)}) {e.basis()}" if e else ""
            resolved = f"{a.resolved_at:%Y-%m-%d %H:%M}" if a.resolved_at else "still firing"
            money = _money(a.missing * per_sample, average_value)
            at_risk = f", {format_number(money['amount'])} {money['currency']} at risk" if money else ""
            duration = human_duration(a.duration(end)) if end else "-"
            lines.append(
                f"  {a.fired_at:%Y-%m-%d %H:%M}  {resolved:<17}  {duration:>9}  {format_number(a.worst_value):>9}  {band}{at_risk}"
            )
        longest = replay.longest()
        longest_text = human_duration(longest.duration(end)) if longest and end else "-"
        lines.append(f"  {len(replay.alerts)} alert(s), longest {longest_text}")
    return "\n".join(lines)


def plot_replay(replay: Replay, path: Path) -> None:
    """Draw the series, the expected band and the alerts into a PNG (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SamplesError("--plot needs matplotlib: pip install 'flowhealth[plot]'") from None
    if not replay.steps:
        raise SamplesError("nothing to plot: the replay has no samples")
    origin = replay.steps[0].at

    def hours(at: datetime) -> float:
        return (at - origin).total_seconds() / 3600

    times = [hours(s.at) for s in replay.steps]
    figure, axes = plt.subplots(figsize=(14, 4))
    lows, highs = [s.expected.low for s in replay.steps], [s.expected.high for s in replay.steps]
    axes.fill_between(times, lows, highs, color="tab:blue", alpha=0.15, label="expected band")
    axes.plot(times, [s.expected.value for s in replay.steps], color="tab:blue", linewidth=0.8, label="expected")
    axes.plot(times, [s.value for s in replay.steps], color="black", linewidth=0.6, label="value")
    for alert in replay.alerts:
        until = alert.resolved_at or replay.steps[-1].at
        axes.axvspan(hours(alert.fired_at), hours(until), color="tab:red", alpha=0.25)
    axes.set_xlabel(f"hours since {origin:%Y-%m-%d %H:%M} UTC")
    axes.set_title(f"{replay.rule_id}: {len(replay.alerts)} alert(s)")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
