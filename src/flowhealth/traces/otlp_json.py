"""Types of an OTLP/JSON export request, checked before protobuf's JSON parser sees it.

protobuf's `json_format` accepts what proto3 JSON allows, which is looser than OTLP/JSON
(opentelemetry-proto's "JSON Protobuf Encoding"): it takes `null` for a list or an object, and,
told to ignore unknown fields as OTLP requires, silently drops an enum given as an unknown name.
OTLP/JSON encodes enums as integers and ids as hex; those and the shape of the containers are
checked here, so a wrong type is a 400 naming where it is, not a 200 with the spans gone.
"""

from __future__ import annotations

from typing import Any

from ..errors import MalformedPayload

# The containers of a trace export, by JSON key; each names what its items are.
_LISTS: dict[str, str] = {
    "resourceSpans": "ResourceSpans",
    "scopeSpans": "ScopeSpans",
    "spans": "Span",
    "events": "Event",
    "links": "Link",
    "attributes": "KeyValue",
}
_OBJECTS = ("resource", "scope", "status")
# Enums are integers in OTLP/JSON (Span.kind, Status.code).
_ENUMS = ("kind", "code")
# Hex-encoded ids and their length in hex digits.
_IDS = {"traceId": 32, "spanId": 16, "parentSpanId": 16}


def check_types(document: object) -> None:
    """Raise MalformedPayload naming the first value whose JSON type OTLP/JSON does not allow."""
    if not isinstance(document, dict):
        raise MalformedPayload("the body is not an OTLP JSON ExportTraceServiceRequest object")
    _check_object(document, "")


def _check_object(obj: dict[str, Any], where: str) -> None:
    for key, value in obj.items():
        path = f"{where}.{key}" if where else key
        if key in _LISTS:
            _check_list(value, path, _LISTS[key])
        elif key in _OBJECTS:
            if not isinstance(value, dict):
                raise MalformedPayload(f"{path} must be an object, not {_kind(value)}")
            _check_object(value, path)
        elif key in _ENUMS:
            # JSON has one number type: 1.0 is the integer 1 (as JSON Schema's "integer" says too).
            if isinstance(value, float) and value.is_integer():
                obj[key] = value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise MalformedPayload(
                    f"{path} must be an integer (OTLP/JSON encodes enums as numbers), not {_kind(value)}"
                )
        elif key in _IDS and not _is_id(value, _IDS[key]):
            raise MalformedPayload(f"{path} must be {_IDS[key]} hex digits (or empty), not {_kind(value)}")


def _check_list(value: object, path: str, item: str) -> None:
    if not isinstance(value, list):
        raise MalformedPayload(f"{path} must be an array of {item}, not {_kind(value)}")
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise MalformedPayload(f"{path}[{index}] must be a {item} object, not {_kind(entry)}")
        if item != "KeyValue":  # attribute values (AnyValue) are typed by protobuf's parser
            _check_object(entry, f"{path}[{index}]")


def _is_id(value: object, digits: int) -> bool:
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return len(value) == digits


def _kind(value: object) -> str:
    if value is None:
        return "null"
    name = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value))
    return name or ("a number" if isinstance(value, int | float) else type(value).__name__)
