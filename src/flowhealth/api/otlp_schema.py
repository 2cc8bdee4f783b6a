"""The JSON Schema of an OTLP/JSON ExportTraceServiceRequest, as `traces/otlp_json.py` checks it.

The schema lists the fields flowhealth reads with the types OTLP/JSON gives them (ids as hex,
enums and counts as integers, 64-bit times as decimal strings or integers). It is closed
(`additionalProperties: false`) so that every body it allows is one the receiver accepts; the
receiver itself still ignores unknown fields, as OTLP requires.
"""

from __future__ import annotations

from typing import Any


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _hex(digits: int) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^([0-9a-f]{{{digits}}})?$"}


_UINT32 = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
_INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
# fixed64 nanoseconds: protobuf's JSON mapping writes 64-bit integers as decimal strings.
_NANOS = {
    "anyOf": [{"type": "string", "pattern": "^[0-9]{1,19}$"}, {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}]
}
_VALUE = {
    "type": "object",
    "description": "An AnyValue: one of stringValue, boolValue, intValue, doubleValue.",
    "properties": {
        "stringValue": {"type": "string"},
        "boolValue": {"type": "boolean"},
        "intValue": {"anyOf": [{"type": "string", "pattern": "^-?[0-9]{1,18}$"}, _INT32]},
        "doubleValue": {"type": "number"},
    },
    "additionalProperties": False,
    "maxProperties": 1,
}
_ATTRIBUTES = _array(_obj({"key": {"type": "string"}, "value": _VALUE}))
_SPAN = _obj(
    {
        "traceId": _hex(32),
        "spanId": _hex(16),
        "parentSpanId": _hex(16),
        "name": {"type": "string"},
        "kind": {"type": "integer", "minimum": 0, "maximum": 5, "description": "SpanKind, as a number."},
        "startTimeUnixNano": _NANOS,
        "endTimeUnixNano": _NANOS,
        "attributes": _ATTRIBUTES,
        "droppedAttributesCount": _UINT32,
        "events": _array(_obj({"timeUnixNano": _NANOS, "name": {"type": "string"}, "attributes": _ATTRIBUTES})),
        "links": _array(_obj({"traceId": _hex(32), "spanId": _hex(16), "attributes": _ATTRIBUTES})),
        "status": _obj({"message": {"type": "string"}, "code": {"type": "integer", "minimum": 0, "maximum": 2}}),
    }
)
OTLP_JSON_REQUEST: dict[str, Any] = _obj(
    {
        "resourceSpans": _array(
            _obj(
                {
                    "resource": _obj({"attributes": _ATTRIBUTES, "droppedAttributesCount": _UINT32}),
                    "scopeSpans": _array(
                        _obj(
                            {
                                "scope": _obj({"name": {"type": "string"}, "version": {"type": "string"}}),
                                "spans": _array(_SPAN),
                                "schemaUrl": {"type": "string"},
                            }
                        )
                    ),
                    "schemaUrl": {"type": "string"},
                }
            )
        )
    }
)
