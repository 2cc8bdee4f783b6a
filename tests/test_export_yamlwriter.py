"""The fast YAML writer writes exactly what PyYAML writes, or steps aside."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flowhealth.export.files import pyyaml_dump, render_yaml
from flowhealth.export.yamlwriter import Unsupported, dump_block

# Characters that change PyYAML's choice of style: indicators, quotes, spaces, words that read
# back as other types, and a few non-ASCII and control characters.
PRINTABLE = st.sampled_from(
    [
        "a", "Z", "0", "7", " ", ":", "#", "-", "?", ",", "[", "]", "{", "}", "&", "*", "!", "|", ">",
        "'", '"', "%", "@", "`", ".", "~", "=", "<", "+", "_", "/", "\\", "$", "é", "€", "…", "yes",
        "no", "on", "null", "true", "1.5", "0x1f", "2026-01-01", "---", "...", ": ", " #", "{{ $value }}",
    ]
)  # fmt: skip
TEXT = st.lists(PRINTABLE, max_size=6).map("".join)
KEY = st.one_of(TEXT.filter(bool), st.integers())
# What only PyYAML writes: line breaks, controls, a byte-order mark.
SPECIAL = st.sampled_from(["\u2028", "\u2029", "\t", "\n", "\r", "\x85", "\ufeff", "\x00", "\x7f"])
SCALAR = st.one_of(
    TEXT,
    st.integers(-(10**20), 10**20),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
DOCUMENT = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEY, inner, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.dictionaries(KEY, DOCUMENT, min_size=1, max_size=5), st.lists(DOCUMENT, min_size=1, max_size=5)))
@example({"groups": [{"name": "g", "rules": [{"alert": "x", "expr": 'm{flow="f"} > 900', "labels": {}}]}]})
@example({"a": [[1, [2, []]], {}], "b": {"c": {"d": ""}}})
def test_writes_the_bytes_pyyaml_writes(document: Any) -> None:
    try:
        fast = dump_block(document)
    except Unsupported:
        return  # render_yaml uses PyYAML for this document
    assert fast == pyyaml_dump(document)


@given(TEXT, SPECIAL, TEXT)
def test_a_character_only_pyyaml_writes_sends_the_document_to_pyyaml(before: str, special: str, after: str) -> None:
    with pytest.raises(Unsupported):
        dump_block({"summary": before + special + after})


def test_a_string_pyyaml_folds_or_escapes_goes_to_pyyaml() -> None:
    for text in ("two\nlines", "tab\there", "x" * 5000):
        with pytest.raises(Unsupported):
            dump_block({"description": text})
        assert render_yaml({"description": text}, "export").endswith(pyyaml_dump({"description": text}))


def test_an_object_used_twice_keeps_pyyaml_anchor() -> None:
    labels = {"team": "core"}
    document = {"rules": [{"labels": labels}, {"labels": labels}]}
    with pytest.raises(Unsupported):
        dump_block(document)
    assert "&id001" in render_yaml(document, "export")
    assert yaml.safe_load(render_yaml(document, "export")) == document
