"""`flowhealth demo --prometheus`: the outage at real speed, and a Prometheus configuration that
scrapes the demo and evaluates the exported rules, so a local Prometheus fires them too.

Prometheus counts `for` in real time, so the 30x demo is too fast for it; at real speed the ERP
outage below makes `erp-unreachable` fire about eight minutes in (heartbeat older than 5m, for 2m).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml

from ..export import ExportLinks, prometheus_files
from ..model.model import Model
from .simulator import Scenario

# The outage starts a minute in and lasts long enough for the heartbeat rule (5m + 2m for) and a
# few scrapes more; 14 minutes is then enough for flowhealth to fire and resolve.
REAL_SPEED_SCENARIO = Scenario(outage_start=timedelta(minutes=1), outage_length=timedelta(minutes=11))
REAL_SPEED_TIMEOUT = 20 * 60.0
WATCHED_RULE = "erp-unreachable"
SCRAPE_INTERVAL = "15s"


def write_prometheus_config(model: Model, work_dir: Path, port: int) -> Path:
    """prometheus.yml scraping the demo on `port`, with the model's exported rules beside it."""
    rules = work_dir / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    links = ExportLinks(grafana_url="http://localhost:3000", public_url=f"http://localhost:{port}")
    for name, text in prometheus_files(model, links).items():
        if name.endswith(".rules.yml"):
            (rules / name).write_text(text)
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(rules / "*.rules.yml")],
        "scrape_configs": [{"job_name": "flowhealth", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
    }
    path = work_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def recipe(config: Path, work_dir: Path) -> list[str]:
    """What to run beside the demo, and what to watch."""
    return [
        "  real speed for Prometheus: start it in another terminal with",
        f"    prometheus --config.file={config} --storage.tsdb.path={work_dir / 'prometheus-data'}",
        f"  then watch http://localhost:9090/alerts: {WATCHED_RULE} fires about 8 minutes in, "
        "as in flowhealth; it resolves after the outage (about 12 minutes in).",
    ]
