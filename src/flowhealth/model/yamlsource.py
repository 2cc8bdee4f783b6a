"""YAML loading that remembers where every value came from, so errors name file and line.

PyYAML's composer gives nodes with marks; we build plain Python data from them and keep a
table from the dotted path of each value to its line. Building is bounded: aliases may expand to
at most ALIAS_BUDGET values (a "billion laughs" file is an error, not a hang), an alias inside its
own anchor is a located error, and nesting deeper than MAX_DEPTH is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..errors import ModelIssue
from .files import FileBudget, read_text
from .yamlevents import NotPlain, OverBudget, build_plain

if TYPE_CHECKING:
    from .parse_ahead import ParseAhead

PathKey = tuple[str | int, ...]

# libyaml's composer is ~10x faster and gives the same marks; pure Python where it is missing.
_COMPOSER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Values an alias may expand to, over the whole file. Models rarely use aliases at all; a shared
# block of labels reused a hundred times stays far below this.
ALIAS_BUDGET = 10_000
# No model file nests deeper than ~12 levels; deeper input is an attack on the stack.
MAX_DEPTH = 64


class _Refused(Exception):
    """The document cannot be built safely; `line` and `loc` say where."""

    def __init__(self, line: int, loc: PathKey, message: str) -> None:
        super().__init__(message)
        self.line, self.loc, self.message = line, loc, message


@dataclass
class SourceDoc:
    """One parsed YAML file: its data and the line of every value in it."""

    path: str
    data: Any
    _lines: dict[PathKey, int] | None = field(default=None, repr=False)
    # Plain files are parsed without their lines (a quarter faster at 10,000 rules); a file
    # with a problem to report is parsed once more for them, from this text.
    _text: str | None = field(default=None, repr=False)

    @property
    def lines(self) -> dict[PathKey, int]:
        """The line of every value, by its path."""
        if self._lines is None:
            built = build_plain(self._text or "", self.path, 1 << 62, MAX_DEPTH) if self._text else None
            self._lines = built[1] if built is not None else {(): 1}
            self._text = None
        return self._lines

    def line_of(self, loc: PathKey) -> int:
        """The line of the deepest known ancestor of `loc` (1-based)."""
        probe = tuple(loc)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 1)


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[PathKey, int] = {}
        self.issues: list[ModelIssue] = []
        # One loader resolves every scalar's tag (int, bool, null, timestamps) as PyYAML would.
        self._scalars = yaml.SafeLoader("")
        # Collections already built once (a second visit is an alias), those being built now
        # (a visit to one of these is an alias inside its own anchor), and how many values
        # aliases expanded to so far.
        self._built: set[int] = set()
        self._open: set[int] = set()
        self._aliased = 0
        self._expanded = 0
        self._alias_at: tuple[int, PathKey] = (1, ())

    def build(self, node: yaml.Node, loc: PathKey) -> Any:
        line = self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            self._count()
            try:
                return self._scalars.construct_object(node, deep=True)
            except (ValueError, OverflowError) as exc:
                # PyYAML resolves `2026-13-45` as a date and 5,000 digits as an int, then fails.
                raise _Refused(line, loc, f"unreadable value {node.value[:40]!r}: {exc}") from None
        if len(loc) > MAX_DEPTH:
            raise _Refused(line, loc, f"nested more than {MAX_DEPTH} levels deep")
        key = id(node)
        if key in self._open:
            anchor = node.start_mark.line + 1
            raise _Refused(line, loc, f"recursive alias: this value contains itself (anchor on line {anchor})")
        alias = key in self._built
        if alias and not self._aliased:
            # Report an expansion where the outermost alias is used, not deep inside the anchor.
            parent = loc[:-1] if loc and isinstance(loc[-1], int) else loc
            self._alias_at = (self.lines.get(parent, line), loc)
        self._built.add(key)
        self._open.add(key)
        self._aliased += alias
        try:
            self._count()
            return self._collection(node, loc)
        finally:
            self._open.discard(key)
            self._aliased -= alias

    def _count(self) -> None:
        if self._aliased:
            self._expanded += 1
            if self._expanded > ALIAS_BUDGET:
                at_line, at_loc = self._alias_at
                raise _Refused(at_line, at_loc, f"aliases expand to more than {ALIAS_BUDGET:,} values")

    def _collection(self, node: yaml.Node, loc: PathKey) -> Any:
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*loc, "<key>"))
                if not isinstance(key, str | int):
                    self.issues.append(
                        ModelIssue(
                            self.path,
                            key_node.start_mark.line + 1,
                            _dotted(loc),
                            "keys must be strings",
                        )
                    )
                    continue
                if key in result:
                    self.issues.append(
                        ModelIssue(
                            self.path,
                            key_node.start_mark.line + 1,
                            _dotted((*loc, key)),
                            "duplicate key (YAML would silently keep only the last one)",
                        )
                    )
                    continue
                child = (*loc, key)
                self.lines[child] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, child)
            self.lines.pop((*loc, "<key>"), None)
            return result
        return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]


def _dotted(loc: PathKey) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def dotted(loc: PathKey) -> str:
    """Render a location like ``flows.order-export.signals[0].probe``."""
    return _dotted(loc)


_VALUE_EVENTS = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.AliasEvent)


def _count_values(text: str) -> int:
    """Values in the file, counted on libyaml's events (~10x cheaper than composing them)."""
    return sum(1 for event in yaml.parse(text, Loader=_COMPOSER) if isinstance(event, _VALUE_EVENTS))


def load_yaml(
    path: Path, display: str, budget: FileBudget | None = None, ahead: ParseAhead | None = None
) -> tuple[SourceDoc | None, list[ModelIssue]]:
    """Parse one YAML file (or take what `ahead` parsed of the same text); return its document or the issues that stopped it."""
    budget = budget or FileBudget()
    text, problems = read_text(path, display, budget)
    if text is None:
        return None, problems
    parsed = ahead.take(path, text) if ahead is not None else None
    if parsed is not None:
        data, issues, values = parsed
        if budget.values + values <= budget.limits.model_values:  # else parsed here, to report it
            budget.values += values
            return SourceDoc(display, data, None, text), issues
    return load_text(text, display, budget)


def load_text(text: str, display: str, budget: FileBudget) -> tuple[SourceDoc | None, list[ModelIssue]]:
    """`load_yaml` for text already read."""
    try:
        return _load_plain(text, display, budget)
    except NotPlain:
        pass  # anchors, aliases, tags: the node builder bounds and reports them
    except yaml.MarkedYAMLError as exc:
        return None, [_invalid(display, exc)]
    except yaml.YAMLError as exc:
        return None, [ModelIssue(display, 1, "", f"invalid YAML: {exc}")]
    return _load_nodes(text, display, budget)


def _invalid(display: str, exc: yaml.MarkedYAMLError) -> ModelIssue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    return ModelIssue(display, line, "", f"invalid YAML: {exc.problem or exc}")


def _over_budget(display: str, budget: FileBudget, values: int) -> ModelIssue:
    limit = budget.limits.model_values
    message = f"the model has more than its limit of {limit:,} values in all (FLOWHEALTH_MODEL_MAX_VALUES); this file has {values:,}"
    return ModelIssue(display, 1, "", message)


def _load_plain(text: str, display: str, budget: FileBudget) -> tuple[SourceDoc | None, list[ModelIssue]]:
    """The one-pass builder of `yamlevents`; raises NotPlain for what it leaves to `_load_nodes`."""
    try:
        built = build_plain(text, display, budget.limits.model_values - budget.values, MAX_DEPTH, track_lines=False)
    except OverBudget as exc:
        return None, [_over_budget(display, budget, exc.values)]
    if built is None:
        return SourceDoc(display, {}, {(): 1}), []
    data, _, issues, values = built
    budget.values += values
    return SourceDoc(display, data, None, text), issues


def _load_nodes(text: str, display: str, budget: FileBudget) -> tuple[SourceDoc | None, list[ModelIssue]]:
    """Compose the node tree and build from it: bounded aliases, located refusals."""
    try:
        values = _count_values(text)
        if budget.values + values > budget.limits.model_values:
            return None, [_over_budget(display, budget, values)]
        budget.values += values
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        return None, [_invalid(display, exc)]
    except yaml.YAMLError as exc:
        return None, [ModelIssue(display, 1, "", f"invalid YAML: {exc}")]
    if node is None:
        return SourceDoc(display, {}, {(): 1}), []
    builder = _Builder(display)
    try:
        data = builder.build(node, ())
    except _Refused as exc:
        return None, [ModelIssue(display, exc.line, _dotted(exc.loc), exc.message)]
    except yaml.YAMLError as exc:
        return None, [ModelIssue(display, 1, "", f"invalid YAML: {exc}")]
    return SourceDoc(display, data, builder.lines), builder.issues
