"""The common shape of rule texts, read without Jinja's parser.

Almost every summary is text with a few `{{ name }}`, `{{ labels.x }}` or `{{ value | duration }}`
in it. Jinja's parser takes ~0.1 ms per text, which at 10,000 rules is a second of `validate` and
several of `export`. `simple_parts` reads exactly that shape with one regular expression (the
tests check it against Jinja's parser); anything else (a `{` outside such a tag, a statement, a
keyword, another filter, non-ASCII inside a tag) returns None and the caller asks Jinja.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import nodes

# The filters flowhealth registers (templates.environment); an unknown one is Jinja's error to tell.
SIMPLE_FILTERS = frozenset({"duration", "number"})
# Names Jinja's parser reads as constants or operators, not as variables.
_NOT_NAMES = frozenset({"true", "false", "none", "True", "False", "None", "not", "and", "or", "in", "is", "if", "else"})
_TAG = re.compile(r"\{\{\s*([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?\s*(?:\|\s*([A-Za-z_]\w*)\s*)?\}\}", re.ASCII)


@dataclass(frozen=True)
class Expression:
    """`{{ name }}`, `{{ name.attr }}`, either with `| filter` (no arguments)."""

    name: str
    attr: str | None
    filter: str | None

    def node(self) -> nodes.Expr:
        """The node Jinja's parser builds for it (Jinja's node constructor is slow: only on demand)."""
        from jinja2 import nodes

        node: nodes.Expr = nodes.Name(self.name, "load")
        if self.attr is not None:
            node = nodes.Getattr(node, self.attr, "load")
        if self.filter is not None:
            node = nodes.Filter(node, self.filter, [], [], None, None)
        return node


Part = str | Expression


def _expression(name: str, attr: str | None, filter_name: str | None) -> Expression | None:
    if name in _NOT_NAMES or (filter_name is not None and filter_name not in SIMPLE_FILTERS):
        return None
    return Expression(name, attr, filter_name)


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
    return {part.name for part in parts if isinstance(part, Expression)}
