"""Synthetic models of any size, written as real YAML and loaded by the real loader."""

from __future__ import annotations

from pathlib import Path

from flowhealth.model import Model, load_model
from flowhealth.model.files import MiB, ModelLimits

RUNBOOK = """# Generic

## Owner
`team-00` owns this.

## Business impact
Orders wait.

## Likely causes
The target is down.

## Recovery steps
Restart it.

## Escalation path
Call the leads.
"""


def write_synthetic_model(root: Path, *, flows: int, signals_per_flow: int = 1, teams: int = 10) -> Model:
    """`flows` flows over `teams` teams, each signal pushed and watched by one rule."""
    for sub in ("flows", "alert_rules", "runbooks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    team_yaml = "\n".join(
        f'  team-{t:02d}:\n    slack_channel: "#team-{t:02d}"\n    oncall: "@oncall-{t:02d}"' for t in range(teams)
    )
    parts = [
        f"teams:\n{team_yaml}\nsystems:\n  shop: {{name: Shop, kind: commerce, owner: team-00}}\n  erp: {{name: ERP, kind: erp, owner: team-00}}\nflows:"
    ]
    rules = ["rules:"]
    for f in range(flows):
        signals = "\n".join(
            f"      s{s:02d}: {{kind: delay, description: Delay {s}., probe: {{kind: push}}}}"
            for s in range(signals_per_flow)
        )
        parts.append(
            f"  flow-{f:05d}:\n    description: Flow {f}.\n    object: order\n    source_of_truth: shop\n    targets: [erp]\n"
            f"    pattern: api\n    latency_class: same-day\n    owner: team-{f % teams:02d}\n    signals:\n{signals}"
        )
        for s in range(signals_per_flow):
            rules.append(
                f"  rule-{f:05d}-{s:02d}:\n    flow: flow-{f:05d}\n    signal: s{s:02d}\n    above: 900\n    severity: warning\n"
                f'    summary: "Flow {f} is {{{{ value | duration }}}} behind"\n    business_impact: Orders wait.\n    runbook: generic'
            )
    (root / "flows" / "synthetic.yaml").write_text("\n".join(parts) + "\n")
    (root / "alert_rules" / "synthetic.yaml").write_text("\n".join(rules) + "\n")
    (root / "runbooks" / "generic.md").write_text(RUNBOOK)
    # 10,000 rules are ~3 MiB and ~700,000 values: past the default bound meant for hostile input.
    return load_model(root, ModelLimits(file_bytes=64 * MiB, model_bytes=64 * MiB, model_values=10_000_000))
