"""The common shape of rule texts, read without Jinja's parser.

Almost every summary is text with a few `{{ name }}`, `{{ labels.x }}` or `{{ value | duration }}`
in it. Jinja's parser takes ~0.1 ms per text, which at 10,000 rules is a second of `validate` and
several of `export`. `simple_parts` reads exactly that shape with one regular expression and
builds the nodes Jinja's parser would; anything else (a `{` outside such a tag, a statement, a
keyword, another filter, non-ASCII inside a tag) returns None and the caller asks Jinja.
"""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import nodes

# The filters flowhealth registers (templates.environment); an unknown one is Jinja's error to tell.
SIMPLE_FILTERS = frozenset({"duration", "number"})
# Names Jinja's parser reads as constants or operators, not as variables.
_NOT_NAMES = frozenset({"true", "false", "none", "True", "False", "None", "not", "and", "or", "in", "is", "if", "else"})
_TAG = re.compile(r"\{\{\s*([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?\s*(?:\|\s*([A-Za-z_]\w*)\s*)?\}\}", re.ASCII)

Part = str | nodes.Expr


def _expression(name: str, attr: str | None, filter_name: str | None) -> nodes.Expr | None:
    if name in _NOT_NAMES or (filter_name is not None and filter_name not in SIMPLE_FILTERS):
        return None
    node: nodes.Expr = nodes.Name(name, "load")
    if attr is not None:
        node = nodes.Getattr(node, attr, "load")
    if filter_name is not None:
        node = nodes.Filter(node, filter_name, [], [], None, None)
    return node


@lru_cache(maxsize=4096)  # `export` reads each rule's texts several times
def simple_parts(source: str) -> tuple[Part, ...] | None:
    """Text and expression nodes in order, or None when the template needs Jinja's parser."""
    parts: list[Part] = []
    position = 0
    for match in _TAG.finditer(source):
        text = source[position : match.start()]
        expression = _expression(*match.groups())
        if "{" in text or expression is None:
            return None
        if text:
            parts.append(text)
        parts.append(expression)
        position = match.end()
    tail = source[position:]
    if "{" in tail:
        return None
    if tail:
        parts.append(tail)
    return tuple(parts)


def variables(parts: tuple[Part, ...]) -> set[str]:
    """The variables a simple template reads (what `jinja2.meta.find_undeclared_variables` says)."""
    found: set[str] = set()
    for part in parts:
        # `find_all` yields descendants only; the part itself may be the name.
        for node in (part, *part.find_all(nodes.Name)) if not isinstance(part, str) else ():
            if isinstance(node, nodes.Name):
                found.add(node.name)
    return found
