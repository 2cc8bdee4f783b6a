"""OTLP/HTTP bodies: media types, gzip with a size limit, protobuf and JSON, and the answers.

Third-party errors (zlib, protobuf DecodeError, json_format, json) become `IngestError`s here.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ..errors import MalformedPayload, PayloadTooLarge, UnsupportedMedia
from .otlp_json import check_types
from .wire import LeanRequest

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MEDIA_TYPES = (PROTOBUF, JSON)
ENCODINGS = ("", "identity", "gzip")


def media_type(content_type: str | None) -> str:
    """The OTLP media type of a Content-Type header, or UnsupportedMedia."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise UnsupportedMedia(f"content type '{media or 'none'}' is not OTLP/HTTP; use {PROTOBUF} or {JSON}")
    return media


class BodyReader:
    """Collects a request body chunk by chunk, inflating gzip, and stops at `limit` bytes.

    Inflating incrementally with `max_length` means a zip bomb costs at most `limit` bytes of
    memory before it is refused, however far it would expand.
    """

    def __init__(self, encoding: str | None, limit: int) -> None:
        encoding = (encoding or "").strip().lower()
        if encoding not in ENCODINGS:
            raise UnsupportedMedia(f"content encoding '{encoding}' is not supported; use gzip or none")
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
        self._limit = limit
        self._size = 0
        self._raw = 0
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self._raw += len(chunk)
        if self._raw > self._limit:
            raise PayloadTooLarge(f"the body exceeds {self._limit} bytes")
        if self._inflater is None:
            self._keep(chunk)
            return
        data = chunk
        try:
            while data:
                self._keep(self._inflater.decompress(data, self._limit - self._size + 1))
                data = self._inflater.unconsumed_tail
        except zlib.error as exc:
            raise MalformedPayload(f"the gzip body is corrupt: {exc}") from None

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise PayloadTooLarge(f"the body exceeds {self._limit} bytes once decompressed")
        if data:
            self._parts.append(data)

    @property
    def gzip(self) -> bool:
        """Whether the body came gzip-compressed."""
        return self._inflater is not None

    def body(self) -> bytes:
        """The whole (decompressed) body; raises when a gzip stream ended early."""
        if self._inflater is not None:
            try:
                self._keep(self._inflater.flush())
            except zlib.error as exc:
                raise MalformedPayload(f"the gzip body is corrupt: {exc}") from None
            if not self._inflater.eof:
                raise MalformedPayload("the gzip body is truncated")
        return b"".join(self._parts)


def parse(media: str, body: bytes) -> Any:
    """The lean reading (`traces.wire`) of a protobuf or OTLP JSON ExportTraceServiceRequest body."""
    if media == PROTOBUF:
        try:
            return LeanRequest.FromString(body)
        except (DecodeError, ValueError) as exc:
            raise MalformedPayload(f"the body is not an OTLP protobuf ExportTraceServiceRequest: {exc}") from None
    # JSON is the rare, slow path: OTLP's own message checks it, then the lean reading takes its bytes.
    return lean(parse_json(body))


def inflate(stored: bytes) -> bytes:
    """A protobuf body as the span inbox keeps it: gzip as it came (a smaller row), or plain.

    A protobuf message never starts with gzip's magic 1f 8b (0x1f is field 3 with wire type 7,
    which does not exist), so the two cannot be confused. The size was checked when it came in.
    """
    return zlib.decompress(stored, 16 + zlib.MAX_WBITS) if stored[:2] == b"\x1f\x8b" else stored


def lean(request: ExportTraceServiceRequest) -> Any:
    """The lean reading of a request built in Python (the demo, tests, the JSON path)."""
    return LeanRequest.FromString(request.SerializeToString())


def parse_json(body: bytes) -> ExportTraceServiceRequest:
    """An ExportTraceServiceRequest from an OTLP JSON body."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedPayload(f"the body is not JSON: {exc}") from None
    check_types(document)
    _hex_ids_to_base64(document)
    try:
        parsed: ExportTraceServiceRequest = json_format.ParseDict(
            document, ExportTraceServiceRequest(), ignore_unknown_fields=True
        )
        return parsed
    except (json_format.Error, ValueError, TypeError, RecursionError) as exc:
        raise MalformedPayload(f"the body is not an OTLP JSON ExportTraceServiceRequest: {exc}") from None


_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    # OTLP JSON encodes trace and span ids as hex, where proto3 JSON (json_format) expects base64.
    for resource_spans in _items(document, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _convert(span)
                for link in _items(span, "links"):
                    _convert(link)


def _items(parent: Any, *names: str) -> list[Any]:
    if not isinstance(parent, dict):
        return []
    for name in names:
        value = parent.get(name)
        if isinstance(value, list):
            return value
    return []


def _convert(obj: Any) -> None:
    if not isinstance(obj, dict):
        return
    for name in _ID_FIELDS:
        value = obj.get(name)
        if isinstance(value, str):
            try:
                obj[name] = base64.b64encode(bytes.fromhex(value)).decode()
            except (ValueError, binascii.Error):
                raise MalformedPayload(f"{name} '{value[:40]}' is not hex") from None


def response(media: str, rejected: int, message: str) -> bytes:
    """An ExportTraceServiceResponse, with partial_success when spans were rejected."""
    answer = ExportTraceServiceResponse()
    if rejected:
        answer.partial_success.rejected_spans = rejected
        answer.partial_success.error_message = message
    if media == PROTOBUF:
        return bytes(answer.SerializeToString())
    return json.dumps(json_format.MessageToDict(answer)).encode()


# google.rpc.Code values for the statuses we answer with.
GRPC_CODES = {400: 3, 413: 8, 415: 3, 429: 8, 503: 14}


def status_body(media: str, http_status: int, message: str) -> bytes:
    """A google.rpc.Status body, as OTLP/HTTP asks for on failures."""
    status = status_pb2.Status(code=GRPC_CODES.get(http_status, 2), message=message)
    if media == PROTOBUF:
        return bytes(status.SerializeToString())
    return json.dumps(json_format.MessageToDict(status)).encode()
