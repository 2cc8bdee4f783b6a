"""The native span reader (traces/_spans.c) gives exactly what upb plus extract.py give.

Requests are generated with hypothesis and encoded by hand where protobuf's own serializer would
not produce the encoding (a field repeated so that messages merge, the resource after its spans,
unknown fields of every wire type); malformed and truncated bodies must give the same 400.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from flowhealth.errors import MalformedPayload
from flowhealth.model.traces import FlowTraces, SpanMapping
from flowhealth.traces import records
from flowhealth.traces.convention import FlowPlan, Routing, StageEvent
from flowhealth.traces.decode import PROTOBUF, BodyReader, parse
from flowhealth.traces.extract import extract
from tests.support.services import REQUIRED


def test_the_native_reader_is_built() -> None:
    if not records.AVAILABLE:
        if REQUIRED:
            pytest.fail("flowhealth.traces._spans is not built, but FLOWHEALTH_REQUIRE_SERVICES=1 requires it")
        pytest.skip("flowhealth.traces._spans is not built (no C compiler at install): the upb path serves")


native = pytest.mark.skipif(not records.AVAILABLE, reason="flowhealth.traces._spans is not built")


@dataclass
class Violation:
    field: str
    reason: str


class Contract:
    """Stands in for a LoadedContract: every payload but {"ok": true} breaks it."""

    def violations(self, payload: Any) -> list[Violation]:
        return [] if payload == {"ok": True} else [Violation("$.ok", "required")]


def routing() -> Routing:
    orders = FlowTraces(
        stages=["placed", "exported", "accepted"],
        spans=[
            SpanMapping(service="erp", name="Create", stage="accepted", entity_id="erp.ref", payload="erp.body"),
            # One flow only, with a contract: the native reader builds its events unless a payload is there.
            SpanMapping(service="erp", name="other", stage="exported", entity_id="erp.ref", payload="erp.body"),
        ],
    )
    billing = FlowTraces(
        entity="invoice",
        stages=["issued", "paid"],
        spans=[
            SpanMapping(service="erp", name="Create", stage="issued", entity_id="flowhealth.entity.id"),
            SpanMapping(service="shop", name="other", stage="paid", entity_id="erp.ref"),
        ],
    )
    plans = {
        "orders": FlowPlan("orders", orders, "order", frozenset(), Contract()),  # type: ignore[arg-type]
        "billing": FlowPlan("billing", billing, "invoice", frozenset()),
    }
    mappings: dict[tuple[str, str], list[tuple[str, SpanMapping]]] = {}
    for flow_id, traces in (("orders", orders), ("billing", billing)):
        for m in traces.spans:
            mappings.setdefault((m.service, m.name), []).append((flow_id, m))
    return Routing(plans, mappings)


ROUTING = routing()

# ---- hand encoding: what protobuf's serializer never writes, but a valid sender may ----


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


unknown_fields = st.lists(
    st.one_of(
        st.tuples(st.integers(16, 2000), st.integers(0, 2**64 - 1)).map(lambda t: varint(t[0] << 3) + varint(t[1])),
        st.tuples(st.integers(16, 2000), st.binary(min_size=8, max_size=8)).map(lambda t: varint(t[0] << 3 | 1) + t[1]),
        st.tuples(st.integers(16, 2000), st.binary(max_size=12)).map(lambda t: field(t[0], t[1])),
        st.tuples(st.integers(16, 2000), st.binary(min_size=4, max_size=4)).map(lambda t: varint(t[0] << 3 | 5) + t[1]),
        # A packed repeated varint, as a sender with a newer schema would write it.
        st.tuples(st.integers(16, 2000), st.lists(st.integers(0, 2**32), max_size=4)).map(
            lambda t: field(t[0], b"".join(varint(v) for v in t[1]))
        ),
    ),
    max_size=2,
).map(b"".join)

KEYS = [
    "flowhealth.flow",
    "flowhealth.stage",
    "flowhealth.entity.id",
    "flowhealth.entity.type",
    "flowhealth.outcome",
    "flowhealth.reason",
    "flowhealth.payload",
    "erp.ref",
    "erp.body",
    "service.name",
    "http.method",
]
TEXTS = [
    "orders",
    "billing",
    "nope",
    "",
    "placed",
    "exported",
    "accepted",
    "issued",
    "paid",
    "O-1",
    "ok",
    "rejected",
    "retried",
    "bogus",
    '{"ok": true}',
    "[1",
    "x" * 201,
    "ünïcødé",
]


def any_values(depth: int = 2) -> st.SearchStrategy[AnyValue]:
    leaves = st.one_of(
        st.sampled_from(TEXTS).map(lambda s: AnyValue(string_value=s)),
        st.text(max_size=6).map(lambda s: AnyValue(string_value=s)),
        st.integers(-(2**63), 2**63 - 1).map(lambda n: AnyValue(int_value=n)),
        st.booleans().map(lambda b: AnyValue(bool_value=b)),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda f: AnyValue(double_value=f)),
        st.binary(max_size=4).map(lambda b: AnyValue(bytes_value=b)),
        st.just(AnyValue()),
    )
    if depth == 0:
        return leaves
    nested = st.lists(any_values(depth - 1), max_size=2).map(lambda vs: AnyValue(array_value=ArrayValue(values=vs)))
    return st.one_of(leaves, nested)


key_values = st.builds(lambda k, v: KeyValue(key=k, value=v), st.sampled_from(KEYS), any_values())


@st.composite
def spans(draw: st.DrawFn) -> bytes:
    span = Span(
        trace_id=draw(st.sampled_from([b"", os.urandom(16)])),
        span_id=draw(st.binary(max_size=8)),
        name=draw(st.sampled_from(["Create", "other", "", "ünï"])),
        start_time_unix_nano=draw(st.sampled_from([0, 1, 1_700_000_000_123_456_789, 2**64 - 1])),
        end_time_unix_nano=draw(st.sampled_from([0, 1_700_000_001_987_654_321, 2**53 + 1])),
        kind=draw(st.integers(0, 5)),  # a field the lean reading skips
        attributes=draw(st.lists(key_values, max_size=8)),
    )
    if draw(st.booleans()):
        span.status.CopyFrom(
            Status(code=draw(st.sampled_from([0, 1, 2, 7])), message=draw(st.sampled_from(["", "boom"])))
        )
    for name in draw(st.lists(st.sampled_from(["exception", "log"]), max_size=2)):
        event = span.events.add(name=name)
        event.attributes.extend(
            draw(
                st.lists(
                    st.builds(
                        lambda k, v: KeyValue(key=k, value=v), st.sampled_from(["exception.type", "x"]), any_values(0)
                    ),
                    max_size=2,
                )
            )
        )
    encoded = span.SerializeToString() + draw(unknown_fields)
    if draw(st.integers(0, 4)) == 0:
        # The span's fields again: the later trace id, name and times win, attributes and status merge.
        again = Span(name="other", end_time_unix_nano=5, attributes=draw(st.lists(key_values, max_size=2)))
        encoded += again.SerializeToString()
    return encoded


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    body = b""
    for _ in range(draw(st.integers(0, 3))):
        service = draw(st.sampled_from(["erp", "shop", "", None, 7]))
        attrs = (
            []
            if service is None
            else [
                KeyValue(
                    key="service.name",
                    value=AnyValue(string_value=service) if isinstance(service, str) else AnyValue(int_value=service),
                )
            ]
        )
        resource = field(1, Resource(attributes=attrs + draw(st.lists(key_values, max_size=1))).SerializeToString())
        scopes = b"".join(
            field(2, field(1, b"\x0a\x03lib") + b"".join(field(2, s) for s in draw(st.lists(spans(), max_size=4))))
            for _ in range(draw(st.integers(0, 2)))
        )
        parts = [resource, scopes, draw(unknown_fields)]
        if draw(st.booleans()):
            parts.reverse()  # the resource after its spans: the reader must not take the service from the next one
        body += field(1, b"".join(parts))
    return body + draw(unknown_fields)


def outcome(run: Callable[[], Any]) -> Any:
    try:
        extracted = run()
    except MalformedPayload as exc:
        return ("malformed", str(exc))
    return ([tuple(_same_nan(v) for v in ev) for ev in extracted.events], dict(extracted.rejected))


def _same_nan(value: Any) -> Any:
    return "nan" if value != value else value


def both(body: bytes, routing: Routing = ROUTING) -> tuple[Any, Any]:
    python = outcome(lambda: extract(parse(PROTOBUF, body), routing))
    fast = outcome(lambda: records.extract_protobuf(body, routing, native=True))
    return python, fast


@native
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(requests())
def test_generated_requests_give_the_same_events_and_rejections(body: bytes) -> None:
    assert records.read_spans is not None
    assert records.read_spans(body, ROUTING.span_keys, ROUTING.native_plans, StageEvent) is not None, (
        "a valid body fell back to upb"
    )
    python, fast = both(body)
    assert fast == python


@native
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(requests(), st.data())
def test_truncated_and_corrupted_bodies_give_the_same_answer(body: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(body)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, max(0, len(body) - 1)), st.integers(1, 255)), max_size=3))
    damaged = bytearray(body[:cut])
    for at, mask in flips:
        if at < len(damaged):
            damaged[at] ^= mask
    python, fast = both(bytes(damaged))
    assert fast == python


@native
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_give_the_same_answer(body: bytes) -> None:
    python, fast = both(body)
    assert fast == python
    if python[0] == "malformed":
        # The reader never vouches for a body upb refuses.
        assert records.read_spans is not None
        assert records.read_spans(body, ROUTING.span_keys, ROUTING.native_plans, StageEvent) is None


@native
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(requests())
def test_gzip_bodies_as_the_receiver_inflates_them(body: bytes) -> None:
    reader = BodyReader("gzip", 1 << 20)
    reader.feed(gzip.compress(body))
    python, fast = both(reader.body())
    assert fast == python


SPAN = Span(name="Create", attributes=[KeyValue(key="flowhealth.flow", value=AnyValue(string_value="orders"))])


@native
@pytest.mark.parametrize(
    "body",
    [
        # invalid UTF-8 in an attribute value no rule reads: upb refuses the whole request
        field(1, field(2, field(2, field(9, field(1, b"other") + field(2, field(1, b"\xff\xfe")))))),
        # a surrogate code point, and an overlong encoding, in the span name
        field(1, field(2, field(2, field(5, b"\xed\xa0\x80")))),
        field(1, field(2, field(2, field(5, b"\xc0\xaf")))),
        # a length past the end, wire type 7, field number 0
        field(1, field(2, field(2, SPAN.SerializeToString())))[:-3],
        varint(5 << 3 | 7),
        b"\x02\x00",
    ],
)
def test_malformed_bodies_are_the_same_400(body: bytes) -> None:
    python, fast = both(body)
    assert python[0] == "malformed"
    assert fast == python


def nested(depth: int) -> bytes:
    value = field(1, b"x")  # AnyValue.string_value, inside `depth` array_values (by hand: protobuf refuses to build it)
    for _ in range(depth):
        value = field(5, field(1, value))
    return field(1, field(2, field(2, field(9, field(1, b"k") + field(2, value)))))


@native
@pytest.mark.parametrize(
    "body",
    [
        nested(40),  # valid for upb (its limit is 100 messages), past the reader's
        nested(60),  # refused by upb
        field(1, SPAN.SerializeToString()) + varint(99 << 3 | 3) + varint(99 << 3 | 4),  # an unknown group
    ],
    ids=["nested-40", "nested-60", "group"],
)
def test_what_the_reader_leaves_to_upb(body: bytes) -> None:
    assert records.read_spans is not None
    assert records.read_spans(body, ROUTING.span_keys, ROUTING.native_plans, StageEvent) is None
    python, fast = both(body)
    assert fast == python


@native
def test_values_are_rendered_as_extract_renders_them() -> None:
    attrs = [
        KeyValue(key="flowhealth.flow", value=AnyValue(string_value="orders")),
        KeyValue(key="flowhealth.stage", value=AnyValue(string_value="placed")),
        KeyValue(key="flowhealth.entity.id", value=AnyValue(int_value=-42)),
        KeyValue(key="flowhealth.entity.type", value=AnyValue(double_value=1e22)),
        KeyValue(key="flowhealth.reason", value=AnyValue(bool_value=True)),
        KeyValue(key="flowhealth.outcome", value=AnyValue(string_value="rejected")),
    ]
    body = field(
        1, field(2, field(2, Span(trace_id=b"\x01" * 16, span_id=b"\xab" * 8, attributes=attrs).SerializeToString()))
    )
    python, fast = both(body)
    assert fast == python
    [event] = fast[0]
    assert event[:7] == ("01" * 16 + "ab" * 8, "orders", "placed", "-42", "1e+22", "rejected", "True")


def test_flowhealth_native_0_forces_the_upb_path() -> None:
    code = "from flowhealth.traces import records; print(records.ENABLED)"
    env = {**os.environ, "FLOWHEALTH_NATIVE": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def convention_span(attrs: dict[str, str]) -> Span:
    span = Span(trace_id=os.urandom(16), span_id=os.urandom(8), name="x", end_time_unix_nano=1_700_000_000_000_000_000)
    for key, value in attrs.items():
        span.attributes.add(key=f"flowhealth.{key}").value.string_value = value
    return span


@native
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {"entity.id": st.just("I-1")},
        optional={
            "entity.type": st.sampled_from(["invoice", "credit", ""]),
            "outcome": st.sampled_from(["ok", "rejected", "retried", "manual", ""]),
            "reason": st.sampled_from(["", "declined", "r" * 128]),
        },
    ),
    # orders has a contract: without a payload attribute there is nothing to validate
    st.sampled_from([("billing", "issued"), ("billing", "paid"), ("orders", "placed"), ("orders", "accepted")]),
    st.sampled_from([0, 1, 2]),
    st.lists(st.sampled_from(["exception", "log"]), max_size=2),
)
def test_the_reader_builds_the_events_of_plain_convention_spans(
    attrs: dict[str, str], flow_stage: tuple[str, str], code: int, events: list[str]
) -> None:
    span = convention_span({"flow": flow_stage[0], "stage": flow_stage[1], **attrs})
    span.status.code = code  # type: ignore[assignment]
    for name in events:
        span.events.add(name=name).attributes.add(key="exception.type").value.string_value = "Timeout"
    body = field(1, field(2, field(2, span.SerializeToString())))
    assert records.read_spans is not None
    found = records.read_spans(body, ROUTING.span_keys, ROUTING.native_plans, StageEvent)
    assert found is not None and found[0] == 0, "left to Python"
    python, fast = both(body)
    assert fast == python
    assert type(records.extract_protobuf(body, ROUTING).events[0]) is StageEvent


def mapped_body(service: str, name: str, attrs: dict[str, str], code: int) -> bytes:
    """An export request of one span from `service`, without the convention's flow attribute."""
    span = Span(trace_id=os.urandom(16), span_id=os.urandom(8), name=name, end_time_unix_nano=1_700_000_000_000_000_000)
    span.status.code = code  # type: ignore[assignment]
    for key, value in attrs.items():
        span.attributes.add(key=key).value.string_value = value
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))])
    return field(1, field(1, resource.SerializeToString()) + field(2, field(2, span.SerializeToString())))


@native
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {"erp.ref": st.just("I-1")},
        optional={
            "flowhealth.outcome": st.sampled_from(["ok", "rejected", "retried", "manual", ""]),
            "flowhealth.reason": st.sampled_from(["", "declined", "r" * 128]),
        },
    ),
    st.sampled_from([("shop", "other"), ("erp", "other")]),
    st.sampled_from([0, 1, 2]),
)
def test_the_reader_builds_the_events_of_spans_mapped_to_one_flow(
    attrs: dict[str, str], service_name: tuple[str, str], code: int
) -> None:
    body = mapped_body(*service_name, attrs, code)
    assert records.read_spans is not None
    found = records.read_spans(body, ROUTING.span_keys, ROUTING.native_plans, StageEvent, ROUTING.native_mappings)
    assert found is not None and found[0] == 0, "left to Python"
    python, fast = both(body)
    assert fast == python and len(fast[0]) == 1


@native
def test_mapped_spans_python_must_judge_are_left_to_it() -> None:
    cases = [
        ("erp", "Create", {"erp.ref": "I-1"}),  # mapped to two flows
        ("erp", "other", {"erp.ref": "I-1", "erp.body": '{"ok": true}'}),  # a payload for a contract
        ("shop", "other", {}),  # no entity id: rejected
        ("shop", "other", {"erp.ref": "I-1", "flowhealth.outcome": "maybe"}),  # an unknown outcome
        ("shop", "nothing", {"erp.ref": "I-1"}),  # not mapped: rejected
    ]
    for service, name, attrs in cases:
        body = mapped_body(service, name, attrs, 0)
        assert records.read_spans is not None
        found = records.read_spans(body, ROUTING.span_keys, ROUTING.native_plans, StageEvent, ROUTING.native_mappings)
        assert found is not None and found[0] == 1, (service, name, attrs)
        python, fast = both(body)
        assert fast == python


@native
def test_spans_left_to_python_after_spans_the_reader_built_keep_their_places() -> None:
    # The reader fills its per-field columns only from the first span it leaves to Python on, so
    # the spans it built before that one, between and after must all still come out in order.
    kinds = ["built", "built", "python", "built", "python", "built"]
    spans = [
        convention_span({"flow": "orders", "stage": "placed", "entity.id": f"O-{i}"})
        if kind == "built"
        else convention_span({"flow": "orders", "stage": "placed", "entity.id": f"O-{i}", "outcome": "maybe"})
        for i, kind in enumerate(kinds)
    ]
    body = field(1, field(2, b"".join(field(2, span.SerializeToString()) for span in spans)))
    assert records.read_spans is not None
    found = records.read_spans(body, ROUTING.span_keys, ROUTING.native_plans, StageEvent)
    assert found is not None and found[0] == 2, "two spans left to Python"
    python, fast = both(body)
    assert fast == python
    assert [event.entity_id for event in records.extract_protobuf(body, ROUTING).events] == ["O-0", "O-1", "O-3", "O-5"]
