"""Rule texts from flowhealth's Jinja to Prometheus' Go templates.

Only what has a faithful equivalent is translated: `value` (with `duration`/`number`) becomes
`$value` (with `humanizeDuration`/`humanize`), `labels.x` becomes `$labels.x`, and the names fixed
by the model (`flow`, `signal`, `unit`, `owner`, `severity`, `threshold`) become literal text.
`since` and Jinja statements (`{% if %}`) have no equivalent and raise `NotTranslatable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..model.simple_templates import Expression, simple_parts
from ..model.templates import environment

if TYPE_CHECKING:
    from jinja2 import nodes


class NotTranslatable(ValueError):
    """A template uses something Prometheus templates cannot express."""


_FILTERS = {"duration": "humanizeDuration", "number": "humanize"}


def _expression(node: nodes.Node, literals: Mapping[str, str]) -> str:
    """The Go template text for one `{{ ... }}` expression."""
    from jinja2 import nodes  # only texts of an uncommon shape get here (see `translate`)

    if isinstance(node, nodes.Filter) and node.name in _FILTERS and not node.args and node.node is not None:
        inner = node.node
        if isinstance(inner, nodes.Name) and inner.name == "value":
            return f"{{{{ $value | {_FILTERS[node.name]} }}}}"
        if isinstance(inner, nodes.Name) and inner.name == "threshold" and f"threshold|{node.name}" in literals:
            return literals[f"threshold|{node.name}"]
    if isinstance(node, nodes.Name):
        if node.name == "value":
            return "{{ $value }}"
        if node.name in literals:
            return literals[node.name]
    label = None
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "labels":
        label = node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "labels"
        and isinstance(node.arg, nodes.Const)
    ):
        label = str(node.arg.value)
    if label is not None and label.isidentifier():
        return f"{{{{ $labels.{label} }}}}"
    raise NotTranslatable(f"no Prometheus template equivalent for {node!r}")


def _simple(expression: Expression, literals: Mapping[str, str]) -> str:
    """`_expression` for the common shapes, without building Jinja nodes (tests compare the two)."""
    name, attr, filter_name = expression.name, expression.attr, expression.filter
    if filter_name is not None:
        if filter_name in _FILTERS and name == "value" and attr is None:
            return f"{{{{ $value | {_FILTERS[filter_name]} }}}}"
        if filter_name in _FILTERS and name == "threshold" and attr is None and f"threshold|{filter_name}" in literals:
            return literals[f"threshold|{filter_name}"]
        raise NotTranslatable(f"no Prometheus template equivalent for {expression.node()!r}")
    if attr is None:
        if name == "value":
            return "{{ $value }}"
        if name in literals:
            return literals[name]
    elif name == "labels" and attr.isidentifier():
        return f"{{{{ $labels.{attr} }}}}"
    raise NotTranslatable(f"no Prometheus template equivalent for {expression.node()!r}")


def translate(source: str, literals: Mapping[str, str]) -> str:
    """Translate a rule template; `literals` maps model-fixed names (and 'threshold|duration') to text."""
    simple = simple_parts(source)
    if simple is not None:
        # No '{' outside the tags, so no literal '{{' in the text either.
        text = "".join(part if isinstance(part, str) else _simple(part, literals) for part in simple)
        return " ".join(text.split())
    return translate_with_jinja(source, literals)


def translate_with_jinja(source: str, literals: Mapping[str, str]) -> str:
    """`translate` through Jinja's parser, for any template."""
    from jinja2 import nodes

    tree = environment().parse(source)
    parts: list[str] = []
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            raise NotTranslatable(f"Jinja statement {type(statement).__name__} has no Prometheus equivalent")
        for node in statement.nodes:
            if isinstance(node, nodes.TemplateData):
                if "{{" in node.data:
                    raise NotTranslatable("literal '{{' in the text")
                parts.append(node.data)
            else:
                parts.append(_expression(node, literals))
    return " ".join("".join(parts).split())
