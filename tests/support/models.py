"""Small models written as real YAML files, for tests that need their own flows and rules."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from flowhealth.model import Model, load_model

RUNBOOK = """# {title}

## Owner
`{team}` owns this.

## Business impact
Orders wait.

## Likely causes
The ERP is down.

## Recovery steps
Restart the consumer.

## Escalation path
Call the leads.
"""

TEAMS = """
teams:
  shop-team:
    slack_channel: "#shop-alerts"
    oncall: "@shop-oncall"
  erp-team:
    slack_channel: "#erp-alerts"
systems:
  shop: {name: Shop, kind: commerce, owner: shop-team}
  erp: {name: ERP, kind: erp, owner: erp-team}
"""


# The flow most tests measure; append its signals, indented by six spaces.
ORDERS_FLOW = (
    "flows:\n"
    + """  orders:
    description: Orders reach the ERP.
    object: order
    source_of_truth: shop
    targets: [erp]
    pattern: queue
    latency_class: same-day
    owner: shop-team
    signals:
"""
)


def write_model(root: Path, flows: str, rules: str = "", runbooks: tuple[str, ...] = ("orders-late",)) -> Model:
    (root / "flows").mkdir(parents=True, exist_ok=True)
    (root / "alert_rules").mkdir(exist_ok=True)
    (root / "runbooks").mkdir(exist_ok=True)
    (root / "flows" / "teams.yaml").write_text(TEAMS)
    (root / "flows" / "flows.yaml").write_text(textwrap.dedent(flows))
    (root / "alert_rules" / "rules.yaml").write_text(textwrap.dedent(rules) or "rules: {}\n")
    for name in runbooks:
        (root / "runbooks" / f"{name}.md").write_text(RUNBOOK.format(title=name, team="shop-team"))
    return load_model(root)


def orders_flow(connection_url: str, query: str, *, interval: str = "30s", timeout: str = "5s", extra: str = "") -> str:
    return f"""
connections:
  shop_db:
    url: "{connection_url}"
{ORDERS_FLOW}      delay:
        kind: delay
        description: Oldest unexported order.
        probe:
          kind: sql
          connection: shop_db
          query: "{query}"
          interval: {interval}
          timeout: {timeout}
{extra}"""


REPO = Path(__file__).resolve().parent.parent.parent


REFERENCE_PARTS = ("flows", "alert_rules", "runbooks", "contracts")


def copy_reference(root: Path) -> Path:
    """A private copy of the reference deployment (model files and the contracts they name)."""
    for sub in REFERENCE_PARTS:
        shutil.copytree(REPO / sub, root / sub)
    return root


def reference_without_stock_reconciliation(root: Path) -> Path:
    """The reference deployment with one real readiness gap: nothing reconciles stock."""
    copy_reference(root)
    catalog = root / "flows/catalog.yaml"
    text = catalog.read_text()
    catalog.write_text(text[: text.index("      stock_mismatches:")] + text[text.index("      stock_age:") :])
    rules = root / "alert_rules/catalog.yaml"
    rules.write_text(rules.read_text().split("\n  stock-mismatch:")[0] + "\n")
    return root


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in a model file, failing loudly when the reference no longer has it."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of `needle` in `path`: what an error naming a file and line must point at."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")
