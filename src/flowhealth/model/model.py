"""The loaded, cross-checked model that the rest of flowhealth reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from .baseline_rule import BaselineRule
from .business_calendar import BusinessCalendar
from .contracts import LoadedContract
from .runbooks import Runbook
from .schema import AlertRule, Connection, Flow, MaintenanceWindow, Signal, System, Team

PROBE_FAILING = "probe-failing"


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
    calendars: dict[str, BusinessCalendar] = field(default_factory=dict)
    probe_failure_threshold: int = 3
    contracts: dict[str, LoadedContract] = field(default_factory=dict)  # by flow, files read and checked

    @cached_property
    def builtin_rules(self) -> dict[str, AlertRule]:
        """A "probe failing" rule per scheduled probe, routed to the flow owner."""
        rules = {}
        for ref in self.signals():
            if getattr(ref.signal.probe, "interval", None) is None:
                continue  # pushed or derived values: no probe of ours to fail
            rules[f"{PROBE_FAILING}:{ref.flow_id}/{ref.signal_id}"] = AlertRule(
                flow=ref.flow_id,
                signal=ref.signal_id,
                above=self.probe_failure_threshold - 0.5,
                severity="warning",
                summary="flowhealth cannot measure {{ flow }}/{{ signal }}: its probe failed {{ value | number }} times in a row",
                business_impact=(
                    "Nobody can see whether this flow is healthy until the probe works again; "
                    "alerts on this signal hold their last state meanwhile."
                ),
                runbook=PROBE_FAILING,
                group_by=["rule"],
            )
        return rules

    def all_rules(self) -> dict[str, AlertRule]:
        """The model's rules and the built-in ones."""
        return {**self.rules, **self.builtin_rules}

    def rule(self, rule_id: str) -> AlertRule:
        return self.rules[rule_id] if rule_id in self.rules else self.builtin_rules[rule_id]

    def is_builtin(self, rule_id: str) -> bool:
        return rule_id.startswith(f"{PROBE_FAILING}:")

    @cached_property
    def _signal_refs(self) -> tuple[SignalRef, ...]:
        # Built once: start-up asks for them several times, ~0.05 s each at 10,000 signals.
        return tuple(
            SignalRef(flow_id, signal_id, flow, signal)
            for flow_id, flow in sorted(self.flows.items())
            for signal_id, signal in sorted(flow.signals.items())
        )

    def signals(self) -> list[SignalRef]:
        """Every signal of every flow, in a stable order."""
        return list(self._signal_refs)

    def signal(self, flow_id: str, signal_id: str) -> Signal:
        return self.flows[flow_id].signals[signal_id]

    @cached_property
    def _rules_by_flow(self) -> dict[str, list[str]]:
        # Built once: callers ask per flow, and a scan of every rule per flow is quadratic.
        by_flow: dict[str, list[str]] = {}
        for rule_id in sorted(self.rules):
            by_flow.setdefault(self.rules[rule_id].flow, []).append(rule_id)
        return by_flow

    @cached_property
    def _builtin_rules_by_flow(self) -> dict[str, list[str]]:
        by_flow: dict[str, list[str]] = {}
        for rule_id in sorted(self.builtin_rules):
            by_flow.setdefault(self.builtin_rules[rule_id].flow, []).append(rule_id)
        return by_flow

    def rules_of(self, flow_id: str, signal_id: str | None = None) -> list[str]:
        """The ids of a flow's rules (of one signal, if given), sorted."""
        return [
            rule_id
            for rule_id in self._rules_by_flow.get(flow_id, [])
            if signal_id is None or self.rules[rule_id].signal == signal_id
        ]

    def builtin_rules_of(self, flow_id: str) -> list[str]:
        """The ids of a flow's built-in (probe-failing) rules, sorted."""
        return list(self._builtin_rules_by_flow.get(flow_id, []))

    def rule_owner(self, rule_id: str) -> str:
        """The team an alert of this rule goes to: override, failure-mode owner, flow owner."""
        rule = self.rule(rule_id)
        if rule.owner:
            return rule.owner
        flow = self.flows[rule.flow]
        if rule.failure_mode and rule.failure_mode in flow.failure_owners:
            return flow.failure_owners[rule.failure_mode]
        return flow.owner

    @cached_property
    def _flow_systems(self) -> dict[str, list[str]]:
        return {flow_id: sorted({flow.source_of_truth, *flow.targets}) for flow_id, flow in self.flows.items()}

    def flow_systems(self, flow_id: str) -> list[str]:
        """Systems a flow touches: its source of truth and its targets."""
        return self._flow_systems[flow_id]

    def flows_touching(self, system_id: str) -> list[str]:
        return sorted(f for f in self.flows if system_id in self.flow_systems(f))

    def is_baseline(self, rule_id: str) -> bool:
        return isinstance(self.rules.get(rule_id), BaselineRule)

    def baseline_rules(self) -> dict[str, BaselineRule]:
        """Rules whose threshold is the expected band, by id."""
        return {rule_id: rule for rule_id, rule in self.rules.items() if isinstance(rule, BaselineRule)}

    def calendar_of(self, rule: BaselineRule) -> BusinessCalendar | None:
        """The calendar a baseline rule names, or the only one defined."""
        if rule.baseline.calendar is not None:
            return self.calendars.get(rule.baseline.calendar)
        return next(iter(self.calendars.values())) if len(self.calendars) == 1 else None

    def rule_threshold(self, rule_id: str) -> tuple[str, float]:
        """('above' | 'below', threshold) with latency-class defaults filled in."""
        rule = self.rule(rule_id)
        if isinstance(rule, BaselineRule):
            # The band moves with the time of week; the fixed part is the least volume it cares about.
            if rule.below_expected is not None:
                return "below", rule.below_expected.min_expected
            assert rule.above_expected is not None
            return "above", rule.above_expected.min_expected
        if rule.below is not None:
            return "below", rule.below
        if rule.above is not None:
            return "above", rule.above
        flow = self.flows[rule.flow]
        return "above", flow.latency_class.default_delay_threshold / timedelta(seconds=1)
