"""Readiness on the reference deployment with one fact taken away at a time: the check that cares
fails, says why, and says what to add. Names that merely look right do not pass."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from flowhealth.hypercare.readiness import check_readiness
from flowhealth.model import Model
from flowhealth.model.facts import Operations


def with_flow(model: Model, flow_id: str, **changes: Any) -> Model:
    flows = dict(model.flows)
    flows[flow_id] = flows[flow_id].model_copy(update=changes)
    contracts = {k: v for k, v in model.contracts.items() if k != flow_id or "contract" not in changes}
    return replace(model, flows=flows, contracts=contracts)


def check(model: Model, flow_id: str, check_id: str) -> tuple[str, str]:
    result = next(r for r in check_readiness(model) if r.flow == flow_id)
    found = next(c for c in result.checks if c.id == check_id)
    return found.status, found.why


def without_signals(model: Model, flow_id: str, *names: str) -> Model:
    signals = {k: v for k, v in model.flows[flow_id].signals.items() if k not in names}
    return with_flow(model, flow_id, signals=signals)


def test_a_critical_flow_without_a_contract_fails(reference_model: Model) -> None:
    status, why = check(with_flow(reference_model, "order-export", contract=None), "order-export", "contract")
    assert status == "fail"
    assert why.startswith("add contract: {name, version, schema: FILE, owner: TEAM} and a contract_violations signal")


def test_a_contract_nobody_enforces_fails(reference_model: Model) -> None:
    model = without_signals(reference_model, "order-export", "contract_violations", "journey_contract_violations")
    status, why = check(model, "order-export", "contract")
    assert status == "fail"
    assert why.startswith("erp-sales-order v2.1.0 is not enforced: add a contract_violations signal")
    assert "spans carry payloads" in why  # the SalesOrder.create mapping has a payload attribute


def test_a_contract_with_only_an_example_fails(reference_model: Model) -> None:
    contract = reference_model.flows["order-export"].contract
    assert contract is not None
    model = with_flow(reference_model, "order-export", contract=contract.model_copy(update={"schema_file": None}))
    assert check(model, "order-export", "contract") == (
        "fail",
        "erp-sales-order v2.1.0 has only an example: add its JSON Schema",
    )


def test_a_failure_mode_that_only_mentions_retries_does_not_own_them(reference_model: Model) -> None:
    model = with_flow(
        reference_model,
        "refunds",
        failure_owners={"psp_rejection": "finance-ops", "no_retry_needed": "commerce-platform"},
    )
    status, why = check(model, "refunds", "retry_owner")
    assert status == "fail"
    assert why.startswith("add a failure mode named one of retry, dead_letter, dlq, replay, redelivery, manual_fix")


def test_a_journey_age_is_not_a_reconciliation(reference_model: Model) -> None:
    model = without_signals(reference_model, "order-export", "order_reconciliation")
    assert "orders_in_flight" in model.flows["order-export"].signals  # the journey is still there
    status, why = check(model, "order-export", "reconciliation")
    assert status == "fail"
    assert why == (
        "add a reconcile probe or a mismatches signal comparing 'order' records between commerce and "
        "middleware, erp (a trace journey's age is not a reconciliation)"
    )


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        ({"pause": None}, "add operations.pause (how to pause, or why it cannot be)"),
        ({"queues": None}, "add operations.queues (drainable queues, [] for none)"),
        ({"replay": None}, "add operations.replay (replayable events with their runbook step, [] for none)"),
    ],
)
def test_release_coordination_needs_pause_drain_and_replay(
    reference_model: Model, missing: dict[str, Any], reason: str
) -> None:
    ops = reference_model.flows["inventory-sync"].operations
    assert ops is not None
    model = with_flow(reference_model, "inventory-sync", operations=ops.model_copy(update=missing))
    assert check(model, "inventory-sync", "release") == ("fail", reason)


def test_release_coordination_needs_release_windows(reference_model: Model) -> None:
    systems = dict(reference_model.systems)
    systems["commerce"] = systems["commerce"].model_copy(update={"release_windows": []})
    status, why = check(replace(reference_model, systems=systems), "inventory-sync", "release")
    assert (status, why) == ("fail", "add release_windows of system(s) commerce")


def test_release_coordination_without_any_operations_facts(reference_model: Model) -> None:
    model = with_flow(reference_model, "payment-settlement", operations=None)
    status, why = check(model, "payment-settlement", "release")
    assert status == "fail"
    assert why.count("add ") == 1 and "operations.pause" in why and "operations.replay" in why
    # A high flow without operations facts is not held: they are asked of critical flows.
    assert check(reference_model, "refunds", "release")[0] == "n/a"
    declared = with_flow(reference_model, "refunds", operations=Operations(queues=[]))
    assert check(declared, "refunds", "release")[0] == "fail"  # declared half is still half
