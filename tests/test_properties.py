"""Property tests: the model loader and the OTLP decoder answer any input with a clear error, never a crash."""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowhealth.errors import IngestError, ModelError
from flowhealth.model import load_model
from flowhealth.traces.decode import JSON, PROTOBUF, BodyReader, parse
from tests.support.models import copy_reference

REPO = Path(__file__).resolve().parent.parent
MODEL_FILES = sorted(p.relative_to(REPO) for d in ("flows", "alert_rules") for p in (REPO / d).glob("*.yaml"))
FAST = settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["5m", "1h", "-1s", "0s", "10x", "${NOPE}", "#chan", "sqlite://", "{{ value }}", "*", "&a"]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=25,
)


def load_outcome(root: Path) -> None:
    """Loading succeeds or fails with located issues; nothing else may escape."""
    try:
        load_model(root)
    except ModelError as exc:
        assert exc.issues, "a ModelError without issues"
        for issue in exc.issues:
            assert issue.path and issue.line >= 1 and issue.message


def reference_copy() -> Path:
    root = Path(tempfile.mkdtemp(prefix="fh-prop-"))
    copy_reference(root)
    return root


def mutate(document: Any, path: list[int], replacement: Any, action: int) -> Any:
    """Replace, delete or duplicate-into a node picked by a list of choices."""
    if not path or not isinstance(document, dict | list) or not document:
        return replacement
    keys = list(document) if isinstance(document, dict) else list(range(len(document)))
    key = keys[path[0] % len(keys)]
    if len(path) == 1 and action == 1:
        if isinstance(document, dict):
            del document[key]
        else:
            document.pop(key)
        return document
    if len(path) == 1 and action == 2 and isinstance(document, dict):
        document[f"{key}_extra"] = replacement
        return document
    document[key] = mutate(document[key], path[1:], replacement, action)
    return document


@FAST
@given(text=st.one_of(st.text(max_size=300), documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True))))
def test_any_flows_file_loads_or_fails_with_located_issues(text: str) -> None:
    root = reference_copy()
    try:
        (root / "flows" / "fuzz.yaml").write_text(text, encoding="utf-8")
        load_outcome(root)
    finally:
        shutil.rmtree(root)


@FAST
@given(
    file=st.sampled_from(MODEL_FILES),
    path=st.lists(st.integers(0, 50), min_size=1, max_size=6),
    replacement=documents,
    action=st.integers(0, 2),
)
def test_mutations_of_the_reference_model_load_or_fail_with_located_issues(
    file: Path, path: list[int], replacement: Any, action: int
) -> None:
    root = reference_copy()
    try:
        document = yaml.safe_load((root / file).read_text())
        (root / file).write_text(yaml.safe_dump(mutate(document, path, replacement, action)))
        load_outcome(root)
    finally:
        shutil.rmtree(root)


def decode_outcome(media: str, body: bytes, encoding: str = "") -> None:
    try:
        reader = BodyReader(encoding, 1024 * 1024)
        reader.feed(body)
        parse(media, reader.body())
    except IngestError as exc:
        assert exc.status in (400, 413, 415)


@settings(max_examples=300, deadline=2000)
@given(body=st.binary(max_size=2000), media=st.sampled_from([PROTOBUF, JSON]))
def test_random_bytes_are_decoded_or_refused_as_malformed(body: bytes, media: str) -> None:
    decode_outcome(media, body)
    decode_outcome(media, gzip.compress(body), "gzip")
    decode_outcome(media, gzip.compress(body)[: len(body) // 2], "gzip")


otlp_like = st.recursive(
    st.one_of(scalars, st.sampled_from(["00" * 16, "zz", "AAAA", "resourceSpans", "traceId"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "resourceSpans",
                    "scopeSpans",
                    "spans",
                    "traceId",
                    "spanId",
                    "attributes",
                    "key",
                    "value",
                    "stringValue",
                    "intValue",
                    "startTimeUnixNano",
                    "endTimeUnixNano",
                    "resource",
                    "status",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=2000)
@given(document=otlp_like)
def test_random_otlp_shaped_json_is_decoded_or_refused_as_malformed(document: Any) -> None:
    decode_outcome(JSON, json.dumps(document).encode())
