"""schemathesis against the app in-process: no 500s, every answer as the OpenAPI document says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, settings
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from schemathesis.checks import positive_data_acceptance

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from flowhealth.store.db import transaction
from flowhealth.store.samples import Reading, record_readings
from tests.support.faults import THRESHOLD, TOKEN, pushed_flows, pushed_rules
from tests.support.models import write_model

AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 20
# Generated paths and bodies rarely name what exists: these reach the 2xx answers of the seeded runtime.
EXPLICIT: dict[str, list[dict[str, Any]]] = {
    "GET /runbooks/{runbook_id}": [
        {"path_parameters": {"runbook_id": "orders-late"}},
        {"path_parameters": {"runbook_id": "probe-failing"}},
    ],
    "GET /api/v1/incidents": [{"query": {"all": True}}],
    "GET /api/v1/silences": [{"query": {"all": True}}],
    "POST /api/v1/flows/{flow}/signals/{signal}": [
        {"path_parameters": {"flow": "f2", "signal": "backlog"}, "body": {"value": 3, "labels": {"region": "eu"}}},
        {"path_parameters": {"flow": "orders", "signal": "latency"}, "body": {"value": 3}},  # 409: traced
        {"path_parameters": {"flow": "f2", "signal": "backlog"}, "body": {"value": 3, "labels": {"flow": "x"}}},
    ],
    "POST /api/v1/flows/{flow}/interventions": [
        {"path_parameters": {"flow": "f2"}, "body": {"reason": "resend", "record": "SO-1", "actor": "ops"}},
    ],
    "POST /api/v1/incidents/{ref}/ack": [{"path_parameters": {"ref": "1"}, "body": {"actor": "alice", "ttl": "1h"}}],
    "POST /api/v1/incidents/{ref}/silence": [
        {"path_parameters": {"ref": "1"}, "body": {"actor": "alice", "duration": "1h", "reason": "rehearsal"}},
        {"path_parameters": {"ref": "1"}, "body": {"actor": "alice", "until": "2020-01-01T00:00:00Z", "reason": "x"}},
    ],
    "POST /api/v1/silences": [
        {"body": {"matchers": {"flow": "f2"}, "duration": "2h", "author": "bob", "reason": "cutover"}},
        {"body": {"matchers": {"flow": "nope"}, "duration": "2h", "author": "bob", "reason": "cutover"}},
    ],
    "DELETE /api/v1/silences/{silence_id}": [{"path_parameters": {"silence_id": 1}, "query": {"actor": "ops"}}],
    # Resolve last: the incident's own routes above answer 409 once it is resolved (also documented).
    "POST /api/v1/incidents/{ref}/resolve": [
        {"path_parameters": {"ref": "1"}, "body": {"actor": "alice"}},
        {"path_parameters": {"ref": "1"}, "body": {"actor": "alice"}},
    ],
    "POST /v1/traces": [
        {"body": {"resourceSpans": []}, "media_type": "application/json"},
        {"body": {"resourceSpans": "no"}, "media_type": "application/json"},
    ],
}
# Every check schemathesis has: no 5xx; every status code, media type, header and body as the
# OpenAPI document says; invalid requests refused (negative data), valid ones accepted (positive
# data), required headers required, unsupported methods 405 with a correct Allow, auth not ignored.
schemathesis.checks.load_all_checks()
CHECKS = list(schemathesis.checks.CHECKS.get_all())
# Where the schema cannot say what the API accepts, positive-data acceptance is off, for this reason:
POSITIVE_DATA_NOT_EXPRESSIBLE = {
    # `until` and `starts_at` are judged against the clock (a silence must end in the future and
    # after it starts); JSON Schema has no bound relative to now. Durations and matchers (enums of
    # the model's names, see api/openapi_model.py) are in the schema and are checked elsewhere.
    "POST /api/v1/silences": "until/starts_at must be in the future",
    "POST /api/v1/incidents/{ref}/silence": "until must be in the future",
    # At least one of five optional query parameters: OpenAPI parameters cannot say "one of these".
    "GET /api/v1/silences/preview": "at least one matcher is required",
}


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    model = write_model(tmp_path / "m", pushed_flows(), pushed_rules())
    settings_ = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        api_token=SecretStr(TOKEN),
        slack_signing_secret=SecretStr("signing"),
        pagerduty_webhook_secret=SecretStr("pd-signing"),
        # Large enough for any generated body: a schema cannot bound a JSON body's size in bytes.
        otlp_max_body_bytes=4 * 1024 * 1024,
        model_dir=tmp_path / "m",
    )
    runtime = Runtime.build(settings_, model, clock=FakeClock(), registry=CollectorRegistry(), environ={})
    # Something to show: signal values, a firing alert with its open incident, and a silence.
    now = runtime.clock.now()
    with transaction(runtime.engine) as session:
        record_readings(session, "f1", "backlog", [Reading(THRESHOLD * 2)], now, "push")
        record_readings(session, "f2", "backlog", [Reading(1.0)], now, "push")
    runtime.evaluator.evaluate()
    runtime.actions.silence({"flow": "f3"}, now + timedelta(hours=1), "bob", "cutover rehearsal")
    assert runtime.actions.list_incidents(include_resolved=False)
    yield runtime
    runtime.stop()


def test_api_answers_as_documented(runtime: Runtime) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime, manage_runtime=False))
    failures: list[str] = []
    operations = 0
    # Operations in document order, the ones with explicit cases in EXPLICIT's order (resolve after ack).
    ordered = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: list(EXPLICIT).index(op.label) if op.label in EXPLICIT else -1,
    )
    for operation in ordered:
        operations += 1
        strategy = operation.as_strategy()
        if operation.label == "POST /v1/traces":
            # Random bytes are never a valid ExportTraceServiceRequest; JSON bodies (generated and explicit)
            # still reach the decoder. Protobuf bodies are covered by tests/test_traces_receiver.py.
            strategy = operation.as_strategy(media_type="application/json")

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def check(case: Any) -> None:
            expressible = case.operation.label not in POSITIVE_DATA_NOT_EXPRESSIBLE
            excluded = [] if expressible else [positive_data_acceptance]
            case.call_and_validate(headers=AUTH, checks=CHECKS, excluded_checks=excluded)

        for explicit in reversed(EXPLICIT.get(operation.label, [])):  # run in the order listed
            check = example(case=operation.Case(**explicit))(check)
        try:
            check()
        except BaseException as exc:  # every operation is checked; all findings are reported together
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)
