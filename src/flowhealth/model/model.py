"""The loaded, cross-checked model that the rest of flowhealth reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from .runbooks import Runbook
from .schema import AlertRule, Connection, Flow, MaintenanceWindow, Signal, System, Team


@dataclass(frozen=True)
class SignalRef:
    """A signal together with the flow it belongs to."""

    flow_id: str
    signal_id: str
    flow: Flow
    signal: Signal


@dataclass(frozen=True)
class Model:
    """Everything under flows/, alert_rules/ and runbooks/, valid and cross-referenced."""

    teams: dict[str, Team] = field(default_factory=dict)
    systems: dict[str, System] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    rules: dict[str, AlertRule] = field(default_factory=dict)
    runbooks: dict[str, Runbook] = field(default_factory=dict)
    maintenance_windows: dict[str, MaintenanceWindow] = field(default_factory=dict)

    def signals(self) -> list[SignalRef]:
        """Every signal of every flow, in a stable order."""
        return [
            SignalRef(flow_id, signal_id, flow, signal)
            for flow_id, flow in sorted(self.flows.items())
            for signal_id, signal in sorted(flow.signals.items())
        ]

    def signal(self, flow_id: str, signal_id: str) -> Signal:
        return self.flows[flow_id].signals[signal_id]

    def rule_owner(self, rule_id: str) -> str:
        """The team an alert of this rule goes to: override, failure-mode owner, flow owner."""
        rule = self.rules[rule_id]
        if rule.owner:
            return rule.owner
        flow = self.flows[rule.flow]
        if rule.failure_mode and rule.failure_mode in flow.failure_owners:
            return flow.failure_owners[rule.failure_mode]
        return flow.owner

    def flow_systems(self, flow_id: str) -> list[str]:
        """Systems a flow touches: its source of truth and its targets."""
        flow = self.flows[flow_id]
        return sorted({flow.source_of_truth, *flow.targets})

    def flows_touching(self, system_id: str) -> list[str]:
        return sorted(f for f in self.flows if system_id in self.flow_systems(f))

    def rule_threshold(self, rule_id: str) -> tuple[str, float]:
        """('above' | 'below', threshold) with latency-class defaults filled in."""
        rule = self.rules[rule_id]
        if rule.below is not None:
            return "below", rule.below
        if rule.above is not None:
            return "above", rule.above
        flow = self.flows[rule.flow]
        return "above", flow.latency_class.default_delay_threshold / timedelta(seconds=1)
