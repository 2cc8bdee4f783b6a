"""A lean reading of ExportTraceServiceRequest: the fields flowhealth uses, attributes as maps.

The messages here are wire-compatible with OTLP's: a protobuf map is a repeated message with the
key as field 1 and the value as field 2, which is exactly a KeyValue. Parsed this way, upb (C)
builds each span's attributes into a map once, and the extractor asks it for the few keys it
needs instead of walking every KeyValue in Python; fields flowhealth never reads (kind, links,
dropped counts, scope, trace state) are skipped by the parser. That more than halves the Python
work per span on the receiver's request path.

Events and status reuse OTLP's own messages (they are read only for rejected spans).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

# Importing the generated modules registers OTLP's files in the default pool, which ours depends on.
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as _trace_service  # noqa: F401

_PACKAGE = "flowhealth.otlp.lean"
_ANY_VALUE = ".opentelemetry.proto.common.v1.AnyValue"
_FIELD = descriptor_pb2.FieldDescriptorProto


def _field(message: Any, name: str, number: int, kind: int, type_name: str = "", repeated: bool = False) -> None:
    label = _FIELD.LABEL_REPEATED if repeated else _FIELD.LABEL_OPTIONAL
    added = message.field.add(name=name, number=number, type=kind, label=label)
    if type_name:
        added.type_name = type_name


def _attributes(message: Any, number: int) -> None:
    """`map<string, AnyValue> attributes = number`, as protoc would declare it."""
    entry = message.nested_type.add(name="AttributesEntry")
    entry.options.map_entry = True
    _field(entry, "key", 1, _FIELD.TYPE_STRING)
    _field(entry, "value", 2, _FIELD.TYPE_MESSAGE, _ANY_VALUE)
    _field(message, "attributes", number, _FIELD.TYPE_MESSAGE, f".{_PACKAGE}.{message.name}.AttributesEntry", True)


def _file() -> descriptor_pb2.FileDescriptorProto:
    # Field numbers are OTLP's (opentelemetry/proto/trace/v1/trace.proto and its collector service).
    msg = _FIELD.TYPE_MESSAGE
    fd = descriptor_pb2.FileDescriptorProto(name="flowhealth/otlp_lean.proto", package=_PACKAGE, syntax="proto3")
    fd.dependency.extend(["opentelemetry/proto/common/v1/common.proto", "opentelemetry/proto/trace/v1/trace.proto"])
    request = fd.message_type.add(name="Request")
    _field(request, "resource_spans", 1, msg, f".{_PACKAGE}.ResourceSpans", True)
    resource_spans = fd.message_type.add(name="ResourceSpans")
    _field(resource_spans, "resource", 1, msg, f".{_PACKAGE}.Resource")
    _field(resource_spans, "scope_spans", 2, msg, f".{_PACKAGE}.ScopeSpans", True)
    _attributes(fd.message_type.add(name="Resource"), 1)
    scope_spans = fd.message_type.add(name="ScopeSpans")
    _field(scope_spans, "spans", 2, msg, f".{_PACKAGE}.Span", True)
    span = fd.message_type.add(name="Span")
    _field(span, "trace_id", 1, _FIELD.TYPE_BYTES)
    _field(span, "span_id", 2, _FIELD.TYPE_BYTES)
    _field(span, "name", 5, _FIELD.TYPE_STRING)
    _field(span, "start_time_unix_nano", 7, _FIELD.TYPE_FIXED64)
    _field(span, "end_time_unix_nano", 8, _FIELD.TYPE_FIXED64)
    _attributes(span, 9)
    _field(span, "events", 11, msg, ".opentelemetry.proto.trace.v1.Span.Event", True)
    _field(span, "status", 15, msg, ".opentelemetry.proto.trace.v1.Status")
    return fd


def _request_class() -> Any:
    pool = descriptor_pool.Default()
    try:
        found = pool.FindMessageTypeByName(f"{_PACKAGE}.Request")
    except KeyError:
        pool.Add(_file())
        found = pool.FindMessageTypeByName(f"{_PACKAGE}.Request")
    return message_factory.GetMessageClass(found)


LeanRequest: Any = _request_class()
