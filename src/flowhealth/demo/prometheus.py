"""`flowhealth demo --prometheus`: the outage at real speed, and a Prometheus configuration that
scrapes the demo and evaluates the exported rules, so a local Prometheus fires them too.

Prometheus counts `for` in real time, so the 30x demo is too fast for it. At real speed the ERP
stops importing orders a minute in; the oldest paid order has waited 15 minutes about sixteen
minutes in, and `order-export-delayed` (for 5m) fires about 22 minutes in, in both.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml

from ..export import ExportLinks, prometheus_files
from ..model.model import Model
from .simulator import Scenario

# The outage starts a minute in and lasts past the firing of order-export-delayed (15m + 5m for)
# by a few scrapes; 35 minutes are then enough for flowhealth to fire and resolve it.
REAL_SPEED_SCENARIO = Scenario(outage_start=timedelta(minutes=1), outage_length=timedelta(minutes=25))
REAL_SPEED_TIMEOUT = 35 * 60.0
WATCHED_RULE = "order-export-delayed"
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
        f"  then watch http://localhost:9090/alerts: {WATCHED_RULE} fires about 22 minutes in, "
        "as in flowhealth; it resolves after the outage (about 27 minutes in).",
    ]
