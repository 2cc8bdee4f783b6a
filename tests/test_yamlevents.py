"""The one-pass YAML builder gives the data, lines and issues the node builder gives."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flowhealth.model.files import FileBudget, ModelLimits
from flowhealth.model.yamlevents import LONGEST_WORD, NotPlain, OverBudget, build_plain
from flowhealth.model.yamlsource import _load_nodes, load_text

# Lines of model-like YAML at a few depths: plain and quoted strings, numbers, dates (one
# impossible), nulls, keys that are not strings, flow collections, and now and then an anchor,
# alias, tag or second document, which the one-pass builder hands back.
LINES = st.sampled_from(
    [
        "flows:", "  order-export:", "    owner: team-a", "    owner: team-b", "    targets: [erp, shop]",
        "    signals:", "      lag:", "        kind: delay", "        above: 900", "        below: 1.5e3",
        "        since: 2026-01-01", "        when: 2026-13-45", "        note: 'quoted: yes'",
        '        text: "x\\ty"', "        empty:", "        nothing: ~", "        flag: yes", "        on: 1",
        "  1.5: float key", "  null: null key", "  true: bool key", "  12: int key", "  - item",
        "  - [a, b]", "  - {a: 1, a: 2}", "    - nested", "rules: {}", "teams: &t {a: 1}", "copy: *t",
        "tagged: !!str 3", "---", "<<: {a: 1}", "  ? complex", "key: [unclosed", "  -", "- top",
        "deep: [[[[[[1]]]]]]", "x: 99999999999999999999999999", "  0o17: octal", "  'q': 1",
    ]
)  # fmt: skip
TEXT = st.lists(LINES, max_size=12).map("\n".join)


KEYS = st.sampled_from(["owner", "kind", "above", "signals", "a", "'q'", "1.5", "null", "true", "12", "0o17", "on"])
SCALARS = st.sampled_from(
    [
        "team-a", "900", "1.5e3", "2026-01-01", "2026-13-45", "'quoted: yes'", '"x\\ty"', "", "~", "yes",
        "[erp, shop]", "{a: 1, a: 2}", "{}", "[]", "99999999999999999999", "-.inf", "0x1F", "1_000", "=",
    ]
)  # fmt: skip
TREE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(st.tuples(KEYS, inner), min_size=1, max_size=4).map(lambda items: ("map", items)),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: ("seq", items)),
    ),
    max_leaves=25,
)


def _block(tree: Any, indent: int = 0) -> str:
    """Block YAML text with the scalars written raw, so they resolve as PyYAML reads them."""
    pad = " " * indent
    if isinstance(tree, str):
        return f"{pad}{tree}\n"
    kind, items = tree
    out = ""
    for item in items:
        key, value = item if kind == "map" else ("-", item)
        head = f"{pad}{key}:" if kind == "map" else f"{pad}-"
        if isinstance(value, str):
            out += f"{head} {value}\n" if value else f"{head}\n"
        else:
            out += f"{head}\n" + _block(value, indent + 2)
    return out


def _result(load: Any, text: str, limit: int) -> Any:
    budget = FileBudget(ModelLimits(model_values=limit))
    doc, issues = load(text, "m.yaml", budget)
    shown = None if doc is None else (doc.data, doc.lines)
    return shown, [(i.path, i.line, i.field, i.message) for i in issues], budget.values if doc else None


@settings(max_examples=1500, deadline=None)
@given(TEXT, st.sampled_from([10, 10_000]))
@example("flows:\n  a: 1\n  a: 2\n  1.5: x\n  b: [1, {c: d}]", 10_000)
@example("x: 2026-13-45", 10_000)
@example("{a: 1, 2026-13-45: 2}", 10_000)
@example("", 10_000)
@example("---", 10_000)
def test_one_pass_builder_matches_the_node_builder(text: str, limit: int) -> None:
    assert _result(load_text, text, limit) == _result(_load_nodes, text, limit)


@settings(max_examples=1500, deadline=None)
@given(TREE.filter(lambda tree: not isinstance(tree, str)), st.sampled_from([5, 10_000]))
def test_one_pass_builder_matches_on_well_formed_files(tree: Any, limit: int) -> None:
    text = _block(tree)
    assert _result(load_text, text, limit) == _result(_load_nodes, text, limit)


def test_a_repeated_value_keeps_its_own_type_each_time() -> None:
    # Each distinct text is resolved once per file and its value shared; quoting still makes a string.
    text = "a: yes\nb: 'yes'\nc: yes\nd: 012\ne: 012\nf: 1.0\ng: 1\nh: 2026-01-01\ni: 2026-01-01\n"
    doc, issues = load_text(text, "m.yaml", FileBudget(ModelLimits()))
    assert doc is not None and issues == []
    assert [(k, type(v).__name__, v) for k, v in doc.data.items()] == [
        ("a", "bool", True),
        ("b", "str", "yes"),
        ("c", "bool", True),
        ("d", "int", 10),
        ("e", "int", 10),
        ("f", "float", 1.0),
        ("g", "int", 1),
        ("h", "date", doc.data["i"]),
        ("i", "date", doc.data["h"]),
    ]


def _plain(text: str, limit: int, track_lines: bool) -> Any:
    """What the one-pass builder makes of a text, with or without its lines: result or refusal."""
    try:
        built = build_plain(text, "m.yaml", limit, 3, track_lines=track_lines)
    except (NotPlain, OverBudget) as exc:
        return type(exc).__name__, getattr(exc, "values", None)
    except yaml.YAMLError as exc:
        return "YAMLError", str(exc)
    if built is None:
        return None
    data, _, issues, values = built
    return data, [(i.line, i.field, i.message) for i in issues], values


@settings(max_examples=1500, deadline=None)
@given(TEXT, st.sampled_from([10, 10_000]))
@example("a:\n  b:\n    c:\n      d:\n        e: 1", 10_000)  # deeper than 3: refused by both
@example("a: 1\na: [1, {b: 2026-13-45}]\nc: 2", 10_000)  # a refused key's value is skipped, not read
@example("x:\n  1.5: [a, b]\n  2: {c: 1}\n  y: 2", 10_000)
def test_every_model_load_builds_what_the_line_tracking_builder_builds(text: str, limit: int) -> None:
    # Model loads build without lines (a loop of its own); lines are built only for a file
    # with a problem. Both must agree on the data, the issues, the count and every refusal.
    assert _plain(text, limit, track_lines=False) == _plain(text, limit, track_lines=True)


def test_only_short_words_starting_with_a_letter_are_typed() -> None:
    # The builder takes a text longer than LONGEST_WORD that starts with a letter as a string
    # without asking PyYAML's resolver; that holds while only booleans and nulls start with one.
    bool_tag, null_tag = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
    table = yaml.SafeLoader.yaml_implicit_resolvers
    patterns = {regexp.pattern for first in table if first.isalpha() for _, regexp in table[first]}
    tags = {tag for first in table if first.isalpha() for tag, _ in table[first]}
    assert tags == {bool_tag, null_tag}
    bare = ("".join(p.split()).strip("^$").removeprefix("(?:").removesuffix(")") for p in patterns)  # verbose regexes
    words = [w for p in bare for w in p.split("|")]
    assert "false" in words and "NULL" in words and "~" in words
    assert max(len(w) for w in words if w[:1].isalpha()) == LONGEST_WORD
    doc, _ = load_text("a: falsey\nb: nulls\nc: Yes\nd: FALSE\ne: Nullx\nf: onwards\n", "m.yaml", FileBudget())
    assert doc is not None and doc.data == {
        "a": "falsey", "b": "nulls", "c": True, "d": False, "e": "Nullx", "f": "onwards"
    }  # fmt: skip
