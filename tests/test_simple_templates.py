"""Rule texts read without Jinja's parser mean exactly what Jinja reads in them."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from jinja2 import nodes

from flowhealth.export.templates import NotTranslatable, translate, translate_with_jinja
from flowhealth.model.simple_templates import simple_parts
from flowhealth.model.templates import check_template, check_with_jinja, environment

PIECES = st.sampled_from(
    [
        "Flow ", " is ", "behind", "{{ value }}", "{{value|duration}}", "{{ value | number }}",
        "{{ labels.currency }}", "{{ labels.x | number }}", "{{ threshold | duration }}", "{{ flow }}",
        "{{ unknown }}", "{{ true }}", "{{ none }}", "{{ not }}", "{{ in }}", "{{ value | bogus }}",
        "{{ value * 2 }}", "{{- value }}", "{% if value %}x{% endif %}", "{# note #}", "{", "}", "}}",
        "{{", "{{ 'a' }}", "{{ labels['x'] }}", "{{ since }}", " € ", "\n", "\t", "{{ value\n}}",
        "{{ é }}", "{{ labels._a1 }}",
    ]
)  # fmt: skip
TEMPLATE = st.lists(PIECES, max_size=6).map("".join)
LITERALS = {
    "flow": "orders",
    "signal": "lag",
    "unit": "s",
    "owner": "core",
    "severity": "warning",
    "threshold": "15m",
    "threshold|duration": "15m",
    "threshold|number": "900",
}


def _jinja_parts(source: str) -> list[nodes.Node] | None:
    body = environment().parse(source).body
    if not all(isinstance(statement, nodes.Output) for statement in body):
        return None
    return [node for statement in body for node in statement.nodes]  # type: ignore[attr-defined]


def _translated(source: str, *, jinja: bool) -> str:
    try:
        return (translate_with_jinja if jinja else translate)(source, LITERALS)
    except NotTranslatable:
        return "not translatable"


@settings(max_examples=800, deadline=None)
@given(TEMPLATE)
@example("Flow {{ flow }} is {{ value | duration }} behind")
@example("Orders wait.")
def test_simple_parts_are_the_nodes_jinja_parses(source: str) -> None:
    parts = simple_parts(source)
    if parts is None:
        return
    expected = _jinja_parts(source)
    assert expected is not None
    ours = [nodes.TemplateData(p) if isinstance(p, str) else p.node() for p in parts]
    # Jinja drops one trailing newline of the text (keep_trailing_newline is off) and merges data.
    text = "".join(p for p in parts if isinstance(p, str))
    assert "".join(n.data for n in expected if isinstance(n, nodes.TemplateData)) == (
        text[:-1] if source.endswith("\n") else text
    )
    assert [n for n in ours if not isinstance(n, nodes.TemplateData)] == [
        n for n in expected if not isinstance(n, nodes.TemplateData)
    ]


@settings(max_examples=800, deadline=None)
@given(TEMPLATE)
def test_check_template_says_what_jinja_says(source: str) -> None:
    assert check_template(source) == check_with_jinja(source)


def test_an_unknown_filter_is_a_located_problem_not_a_crash() -> None:
    assert check_template("{{ value | bogus }}") == "template syntax error: No filter named 'bogus'."


@settings(max_examples=400, deadline=None)
@given(TEMPLATE)
def test_translation_is_the_same_without_the_parser(source: str) -> None:
    if simple_parts(source) is None or check_template(source) is not None:
        return
    assert _translated(source, jinja=False) == _translated(source, jinja=True)
