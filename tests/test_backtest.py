"""`flowhealth backtest` on a fixed CSV: when the rule would have fired and resolved, as table and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowhealth.cli.main import app
from tests.support.models import copy_reference

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, far from the reference calendar's entries
OUTAGE = START + timedelta(weeks=2, days=4, hours=14)  # third Friday, 14:00 UTC (15:00 in Berlin)


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """Three weeks at one value per 5 minutes: 1.0 order/s always, but 0 for 30 minutes at OUTAGE."""
    rows = ["timestamp,value"]
    at = START
    while at < START + timedelta(weeks=3):
        value = 0.0 if OUTAGE <= at < OUTAGE + timedelta(minutes=30) else 1.0
        rows.append(f"{at.isoformat()},{value}")
        at += timedelta(minutes=5)
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_table_shows_when_it_fired_resolved_and_the_money(samples: Path) -> None:
    result = runner.invoke(app, ["backtest", "orders-below-expected", "-m", str(REPO), "--samples", str(samples)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "orders-below-expected: 6048 evaluations"
    assert lines[1] == "  learning (not alerting) until 2026-03-15 23:55 UTC"
    # Fires after `for: 5m`, resolves 15m (keep_firing_for) after the last bad sample; 30 min x 1 order/s x 84.50 EUR.
    assert lines[3] == (
        "  2026-03-20 14:05  2026-03-20 14:40         35m          0  1 (0.60-1) Fri 15:05, 2 weeks, 152,100 EUR at risk"
    )
    assert lines[4] == "  1 alert(s), longest 35m"


def test_json_for_scripts(samples: Path) -> None:
    result = runner.invoke(
        app, ["backtest", "orders-below-expected", "-m", str(REPO), "--samples", str(samples), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    [replay] = json.loads(result.output)
    [alert] = replay["alerts"]
    assert alert["fired_at"] == "2026-03-20T14:05:00+00:00"
    assert alert["resolved_at"] == "2026-03-20T14:40:00+00:00"
    assert alert["band"] == [0.6, 1.0]
    assert alert["money_at_risk"] == {"amount": 152100.0, "currency": "EUR"}
    assert replay["longest_seconds"] == 2100


def test_a_broken_csv_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,value\n2026-03-02T00:00:00Z,1\nyesterday,2\n")
    result = runner.invoke(app, ["backtest", "orders-below-expected", "-m", str(REPO), "--samples", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3: cannot read timestamp 'yesterday'" in result.output


def test_a_static_rule_is_refused_in_one_sentence(samples: Path) -> None:
    result = runner.invoke(app, ["backtest", "order-queue-backlog", "-m", str(REPO), "--samples", str(samples)])
    assert result.exit_code == 1
    assert (
        "'order-queue-backlog' is not a baseline rule (baseline rules: orders-above-expected, orders-below-expected)"
        in result.output
    )


def test_plot_draws_a_png(samples: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "out.png"
    result = runner.invoke(
        app, ["backtest", "orders-below-expected", "-m", str(REPO), "--samples", str(samples), "--plot", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_replays_the_state_database_since_28_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowhealth.store.db import make_engine, transaction
    from flowhealth.store.migrate import upgrade
    from flowhealth.store.samples import Reading, record_readings

    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    outage = now - timedelta(days=2)
    with transaction(engine) as session:
        at = now - timedelta(weeks=5)
        while at < now:
            value = 0.0 if outage <= at < outage + timedelta(minutes=30) else 1.0
            record_readings(session, "order-intake", "order_rate", [Reading(value)], at, "sql")
            at += timedelta(minutes=5)
    engine.dispose()
    monkeypatch.setenv("FLOWHEALTH_DATABASE_URL", url)
    # The reference calendar's dates are real (Black Friday 2026); this replay runs relative to today.
    model_dir = tmp_path / "model"
    copy_reference(model_dir)
    checkout = model_dir / "flows/checkout.yaml"
    text = checkout.read_text()
    checkout.write_text(text[: text.index("calendars:")])
    result = runner.invoke(
        app, ["backtest", "orders-below-expected", "-m", str(model_dir), "--since", "28d", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    [replay] = json.loads(result.output)
    [alert] = replay["alerts"]
    assert alert["fired_at"] == (outage + timedelta(minutes=5)).isoformat()
    assert abs(replay["evaluated"] - 28 * 24 * 12) <= 1  # samples of the last 28 days, 5 minutes apart
    # Five weeks are stored: the first week of the replay has one week behind it and is learning.
    learning_until = datetime.fromisoformat(replay["learning_until"])
    assert now - timedelta(days=22) < learning_until < now - timedelta(days=20)
