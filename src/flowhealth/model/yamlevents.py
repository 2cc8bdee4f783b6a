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
# Of those, a letter can only start a boolean or null word (`yes`, `Off`, `false`, `NULL`): none
# is longer than this, so a longer text starting with a letter is a string (a test checks PyYAML's
# table). Names such as `flow-00042` or `team-a` start with such letters: 30,000 resolver calls
# at 10,000 rules.
LONGEST_WORD = 5


def surely_str(text: str) -> bool:
    """Whether a plain scalar of this text reads as a string, without asking PyYAML's resolver (empty is null)."""
    return text != "" and (text[0] not in _TYPED_FIRST or (len(text) > LONGEST_WORD and text[0].isalpha()))


class NotPlain(Exception):
    """The file uses YAML beyond this builder (anchors, aliases, tags, complex keys, deep nesting,
    a value PyYAML cannot build)."""


class OverBudget(Exception):
    """The file holds more values than the model has left; `values` counts all of them."""

    def __init__(self, values: int) -> None:
        super().__init__(values)
        self.values = values


_NEED_KEY = object()  # the next scalar in this mapping is a key
_REFUSED = object()  # the last key was refused (not a string, or a duplicate): skip its value
_VALUE_EVENTS = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.AliasEvent)
_SCALAR, _MAPPING, _SEQUENCE = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
# An open collection: [container, loc, key state, is a mapping, skipped]. Lists, not objects:
# this loop runs once per value, ~900,000 times at 10,000 rules.
_CONTAINER, _LOC, _KEY, _IS_MAP, _SKIPPED = range(5)


class _Scalars:
    """Scalar values as PyYAML's safe loader builds them, each distinct text resolved once per file.

    Keys such as `name`, `type`, `for` or `threshold` start with a letter that can start a boolean
    or null, so every one of them asked the resolver's regular expressions again: 110,000 times at
    10,000 rules for a few hundred distinct texts. A plain scalar's value depends on its text
    alone, and what PyYAML builds from one (str, int, float, bool, None, date, datetime) is
    immutable, so one answer can be shared.
    """

    def __init__(self) -> None:
        self._loader = yaml.SafeLoader("")
        self.known: dict[str, Any] = {}  # text -> value, for every text resolved so far

    def typed(self, event: yaml.ScalarEvent) -> Any:
        """A plain scalar whose first character may start a number, boolean, null or date."""
        text = event.value
        try:
            return self.known[text]
        except KeyError:
            pass
        if surely_str(text):
            self.known[text] = text
            return text
        tag = self._loader.resolve(ScalarNode, text, event.implicit)  # type: ignore[no-untyped-call]
        if tag == _STR_TAG:
            value: Any = text
        else:
            node = ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)  # type: ignore[arg-type]
            try:
                value = self._loader.construct_object(node, deep=True)
            except (ValueError, OverflowError, yaml.YAMLError) as exc:
                # `2026-13-45` resolves as a date, then fails; which error the node builder reports
                # first (syntax, alias, then value) and where is for it to say.
                raise NotPlain("a value PyYAML cannot build") from exc
        self.known[text] = value
        return value


def build_plain(
    text: str, path: str, max_values: int, max_depth: int, *, track_lines: bool = True
) -> tuple[Any, dict[PathKey, int], list[ModelIssue], int] | None:
    """(data, lines, issues, values) of a one-document plain file; None when it holds nothing.

    Without `track_lines` the lines table stays empty (a quarter faster): the loader builds it
    in a second pass only for a file whose problems it reports.
    """
    loader = _PARSER(text)
    try:
        if not track_lines:
            return _build_data(loader.get_event, path, max_values, max_depth)
        return _build(loader, path, max_values, max_depth)
    finally:
        loader.dispose()


def _build_data(  # one flat loop, the open collection in locals: it runs once per event
    next_event: Any, path: str, max_values: int, max_depth: int
) -> tuple[Any, dict[PathKey, int], list[ModelIssue], int] | None:
    """`_build` without the lines: the same data, issues and count, ~40% cheaper.

    Every model load takes this path and needs lines only for a file with a problem, so the
    open collection's state lives in local variables instead of a list per collection, and a
    key that is a new string (nearly all of them) takes no further checks.
    """
    scalars = _Scalars()
    typed, known = scalars.typed, scalars.known  # `known` first: a call per typed-looking text costs
    typed_first = _TYPED_FIRST
    issues: list[ModelIssue] = []
    # The collections above the open one, each as (container, is a mapping, its key state).
    stack: list[tuple[Any, bool, Any]] = []
    container: Any = None  # the open collection; None at the top of the document
    is_map = False
    key: Any = _NEED_KEY
    skipping = 0  # collections open inside the value of a refused key
    root: list[Any] = []
    values = documents = 0
    while (event := next_event()) is not None:
        kind = type(event)
        if kind is _SCALAR or kind is _MAPPING or kind is _SEQUENCE:
            if event.anchor is not None or event.tag is not None:
                raise NotPlain("anchors or tags")
            values += 1
            if values > max_values:
                raise OverBudget(values + _count_rest(next_event))
            if skipping:
                if kind is not _SCALAR:
                    skipping += 1
                continue
            if kind is _SCALAR:
                if is_map:
                    if key is _NEED_KEY:
                        key = event.value
                        if event.implicit[0] and (not key or key[0] in typed_first):
                            key = known[key] if key in known else typed(event)
                        if type(key) is not str or key in container:
                            key = _odd_key(key, container, _location(stack), path, event.start_mark.line + 1, issues)
                        continue
                    if key is _REFUSED:
                        key = _NEED_KEY
                        continue
                value = event.value
                if event.implicit[0] and (not value or value[0] in typed_first):
                    value = known[value] if value in known else typed(event)
            else:
                if is_map:
                    if key is _NEED_KEY:
                        raise NotPlain("a mapping or sequence as a key")
                    if key is _REFUSED:
                        skipping = 1
                        continue
                if len(stack) > max_depth:
                    raise NotPlain("nested too deep")  # the node builder words this error
                value = {} if kind is _MAPPING else []
            if is_map:
                container[key] = value
            elif container is not None:
                container.append(value)
            else:
                root.append(value)
            if kind is _SCALAR:
                key = _NEED_KEY
            else:
                stack.append((container, is_map, key))
                container, is_map, key = value, kind is _MAPPING, _NEED_KEY
        elif kind in _ENDS:
            if skipping:
                skipping -= 1
                if not skipping:
                    key = _NEED_KEY  # the refused key's value is over
                continue
            container, is_map, key = stack.pop()
            key = _NEED_KEY
        elif kind is yaml.AliasEvent:
            raise NotPlain("aliases")
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise NotPlain("more than one document")  # the composer words this error
    if not root:
        return None
    return root[0], {}, issues, values


def _location(stack: list[tuple[Any, bool, Any]]) -> PathKey:
    """Where `_build_data`'s open collection is: the key or index of each open collection in its parent."""
    return tuple(k if is_map else len(c) - 1 for c, is_map, k in stack[1:])


def _odd_key(key: Any, container: dict[Any, Any], loc: PathKey, path: str, line: int, issues: list[ModelIssue]) -> Any:
    """A key that is not a new string: an int is kept; others, and duplicates, are refused (an issue at `loc`)."""
    if not isinstance(key, str | int):
        issues.append(ModelIssue(path, line, _dotted(loc), "keys must be strings"))
        return _REFUSED
    if key in container:
        message = "duplicate key (YAML would silently keep only the last one)"
        issues.append(ModelIssue(path, line, _dotted((*loc, key)), message))
        return _REFUSED
    return key


def _build(  # one loop, kept flat: it runs once per value
    loader: yaml.SafeLoader, path: str, max_values: int, max_depth: int
) -> tuple[Any, dict[PathKey, int], list[ModelIssue], int] | None:
    """The data with the line of every value (`_build_data` is the same without the lines)."""
    scalars = _Scalars()
    typed_first = _TYPED_FIRST
    lines: dict[PathKey, int] = {}
    issues: list[ModelIssue] = []
    stack: list[list[Any]] = []
    root: list[Any] = []
    values = documents = 0
    next_event: Any = loader.get_event
    while (event := next_event()) is not None:
        kind = type(event)
        if kind in _ENDS:
            done = stack.pop()
            if done[_SKIPPED] and stack and not stack[-1][_SKIPPED] and stack[-1][_KEY] is _REFUSED:
                stack[-1][_KEY] = _NEED_KEY
            continue
        if kind is not _SCALAR and kind is not _MAPPING and kind is not _SEQUENCE:
            if kind is yaml.AliasEvent:
                raise NotPlain("aliases")
            if kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise NotPlain("more than one document")  # the composer words this error
            continue
        if event.anchor is not None or event.tag is not None:
            raise NotPlain("anchors or tags")
        values += 1
        if values > max_values:
            raise OverBudget(values + _count_rest(next_event))
        is_scalar = kind is _SCALAR
        parent = stack[-1] if stack else None
        if parent is None:
            loc: PathKey = ()
            lines.setdefault(loc, event.start_mark.line + 1)
        elif parent[_SKIPPED]:
            if not is_scalar:
                stack.append([None, (), None, False, True])
            continue
        elif parent[_IS_MAP]:
            key = parent[_KEY]
            if key is _NEED_KEY:
                if not is_scalar:
                    raise NotPlain("a mapping or sequence as a key")
                key = event.value
                if event.implicit[0] and (not key or key[0] in typed_first):
                    key = scalars.typed(event)
                line = event.start_mark.line + 1
                if type(key) is not str or key in parent[_CONTAINER]:
                    key = _odd_key(key, parent[_CONTAINER], parent[_LOC], path, line, issues)
                parent[_KEY] = key
                if key is not _REFUSED:
                    lines[(*parent[_LOC], key)] = line
                continue
            if key is _REFUSED:
                if is_scalar:
                    parent[_KEY] = _NEED_KEY
                else:
                    stack.append([None, (), None, False, True])
                continue
            loc = (*parent[_LOC], key)
        else:
            loc = (*parent[_LOC], len(parent[_CONTAINER]))
            lines.setdefault(loc, event.start_mark.line + 1)
        if is_scalar:
            value = event.value
            if event.implicit[0] and (not value or value[0] in typed_first):
                value = scalars.typed(event)
        else:
            if len(loc) > max_depth:
                raise NotPlain("nested too deep")  # the node builder words this error
            value = {} if kind is _MAPPING else []
            stack.append([value, loc, _NEED_KEY, kind is _MAPPING, False])
        if parent is None:
            root.append(value)
        elif parent[_IS_MAP]:
            parent[_CONTAINER][parent[_KEY]] = value
            parent[_KEY] = _NEED_KEY
        else:
            parent[_CONTAINER].append(value)
    if not root:
        return None
    return root[0], lines, issues, values


def _count_rest(next_event: Any) -> int:
    count = 0
    while (event := next_event()) is not None:
        count += isinstance(event, _VALUE_EVENTS)
    return count


def _dotted(loc: PathKey) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
