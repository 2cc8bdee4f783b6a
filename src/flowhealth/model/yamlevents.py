"""Plain YAML built straight from libyaml's events, with the line of every value.

`yamlsource` composes a node tree and walks it; at 10,000 rules (~900,000 events) that was most
of `validate`. Model files are almost always plain: no anchors, aliases or tags, and keys that
are scalars. For those this builder makes the same data, lines and issues in one pass over the
parser's events, and asks PyYAML's resolver only about plain scalars whose first character can
start a number, boolean, null or date. Anything else raises `NotPlain`, and the caller uses the
node builder, which knows how to bound aliases and report them.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import ScalarNode

from ..errors import ModelIssue

PathKey = tuple[str | int, ...]

_PARSER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
# PyYAML picks a plain scalar's implicit type by its first character; others are strings.
_TYPED_FIRST = frozenset(key for key in yaml.SafeLoader.yaml_implicit_resolvers if key)


class NotPlain(Exception):
    """The file uses YAML beyond this builder (anchors, aliases, tags, complex keys, deep nesting)."""


class Unreadable(Exception):
    """A scalar PyYAML resolves but cannot build (`2026-13-45`); `line` and `loc` say where."""

    def __init__(self, line: int, loc: PathKey, message: str) -> None:
        super().__init__(message)
        self.line, self.loc, self.message = line, loc, message


class Unbuildable(Exception):
    """PyYAML's constructor refused a scalar (a merge key outside a mapping it merges)."""

    def __init__(self, error: yaml.YAMLError) -> None:
        super().__init__(str(error))
        self.error = error


class OverBudget(Exception):
    """The file holds more values than the model has left; `values` counts all of them."""

    def __init__(self, values: int) -> None:
        super().__init__(values)
        self.values = values


_NEED_KEY = object()  # the next scalar in this mapping is a key
_REFUSED = object()  # the last key was refused (not a string, or a duplicate): skip its value
_VALUE_EVENTS = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.AliasEvent)


class _Frame:
    """An open mapping or sequence."""

    __slots__ = ("container", "first_key_line", "key", "loc", "skip")

    def __init__(self, container: dict[Any, Any] | list[Any], loc: PathKey, skip: bool) -> None:
        self.container = container
        self.loc = loc
        self.skip = skip  # inside the value of a refused key: parsed, not kept
        self.key: Any = _NEED_KEY
        self.first_key_line = 0


class _Scalars:
    """Scalar values as PyYAML's safe loader builds them."""

    def __init__(self) -> None:
        self._loader = yaml.SafeLoader("")

    def value(self, event: yaml.ScalarEvent, line: int, loc: PathKey) -> Any:
        text: str = event.value
        if not event.implicit[0] or (text and text[0] not in _TYPED_FIRST):
            return text  # quoted, or plain and only readable as a string
        tag = self._loader.resolve(ScalarNode, text, event.implicit)  # type: ignore[no-untyped-call]
        if tag == _STR_TAG:
            return text
        node = ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)  # type: ignore[arg-type]
        try:
            return self._loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:
            # PyYAML resolves `2026-13-45` as a date and 5,000 digits as an int, then fails.
            raise Unreadable(line, loc, f"unreadable value {text[:40]!r}: {exc}") from None
        except yaml.YAMLError as exc:
            raise Unbuildable(exc) from None


class _Builder:
    def __init__(self, path: str, max_depth: int) -> None:
        self.path = path
        self.max_depth = max_depth
        self.scalars = _Scalars()
        self.lines: dict[PathKey, int] = {}
        self.issues: list[ModelIssue] = []
        self.stack: list[_Frame] = []
        self.root: list[Any] = []

    def value(self, event: Any, is_scalar: bool) -> None:
        """One scalar, or the start of a mapping or sequence."""
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.skip:
            if not is_scalar:
                self.stack.append(_Frame({}, (), True))
            return
        line = event.start_mark.line + 1
        if parent is not None and type(parent.container) is dict:
            if parent.key is _NEED_KEY:
                self.key(parent, event, line, is_scalar)
                return
            if parent.key is _REFUSED:
                if is_scalar:
                    parent.key = _NEED_KEY
                else:
                    self.stack.append(_Frame({}, (), True))
                return
        loc = self.child_loc(parent)
        line = self.lines.setdefault(loc, line)
        if is_scalar:
            self.attach(parent, self.scalars.value(event, line, loc))
            return
        if len(loc) > self.max_depth:
            raise NotPlain("nested too deep")  # the node builder words this error
        container: dict[Any, Any] | list[Any] = {} if type(event) is yaml.MappingStartEvent else []
        self.attach(parent, container)
        self.stack.append(_Frame(container, loc, False))

    def key(self, parent: _Frame, event: Any, line: int, is_scalar: bool) -> None:
        if not is_scalar:
            raise NotPlain("a mapping or sequence as a key")
        if not parent.first_key_line:
            parent.first_key_line = line
        # (The node builder reports an unreadable key at the mapping's first key.)
        key = self.scalars.value(event, parent.first_key_line, (*parent.loc, "<key>"))
        container = parent.container
        assert isinstance(container, dict)
        if not isinstance(key, str | int):
            self.issues.append(ModelIssue(self.path, line, _dotted(parent.loc), "keys must be strings"))
            parent.key = _REFUSED
        elif key in container:
            message = "duplicate key (YAML would silently keep only the last one)"
            self.issues.append(ModelIssue(self.path, line, _dotted((*parent.loc, key)), message))
            parent.key = _REFUSED
        else:
            parent.key = key
            self.lines[(*parent.loc, key)] = line

    def child_loc(self, parent: _Frame | None) -> PathKey:
        if parent is None:
            return ()
        if type(parent.container) is dict:
            return (*parent.loc, parent.key)
        return (*parent.loc, len(parent.container))

    def attach(self, parent: _Frame | None, value: Any) -> None:
        if parent is None:
            self.root.append(value)
        elif type(parent.container) is dict:
            parent.container[parent.key] = value
            parent.key = _NEED_KEY
        else:
            parent.container.append(value)  # type: ignore[union-attr]

    def end(self) -> None:
        done = self.stack.pop()
        parent = self.stack[-1] if self.stack else None
        if done.skip and parent is not None and not parent.skip and parent.key is _REFUSED:
            parent.key = _NEED_KEY


def build_plain(
    text: str, path: str, max_values: int, max_depth: int
) -> tuple[Any, dict[PathKey, int], list[ModelIssue], int] | None:
    """(data, lines, issues, values) of a one-document plain file; None when it holds nothing."""
    builder = _Builder(path, max_depth)
    values = documents = 0
    events = yaml.parse(text, Loader=_PARSER)
    for event in events:
        kind = type(event)
        if kind is yaml.ScalarEvent or kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if event.anchor is not None or event.tag is not None:  # type: ignore[attr-defined]
                raise NotPlain("anchors or tags")
            values += 1
            if values > max_values:
                raise OverBudget(values + sum(1 for rest in events if isinstance(rest, _VALUE_EVENTS)))
            try:
                builder.value(event, kind is yaml.ScalarEvent)
            except (Unreadable, Unbuildable) as exc:
                # Which error the node builder reports first (syntax, alias, then value) is its to say.
                raise NotPlain("a value PyYAML cannot build") from exc
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            builder.end()
        elif kind is yaml.AliasEvent:
            raise NotPlain("aliases")
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise NotPlain("more than one document")  # the composer words this error
    if not builder.root:
        return None
    return builder.root[0], builder.lines, builder.issues, values


def _dotted(loc: PathKey) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
