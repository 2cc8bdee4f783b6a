"""Sandboxed Jinja for rule texts: the bounded environment, the refusal checks, rendering.

Imported by `templates` on first use (Jinja's import is ~0.05 s of every command otherwise).
"""

from __future__ import annotations

import operator
import threading
import time
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from .durations import format_number, human_duration

# A summary is one line in Slack (a section holds 3,000 characters); 4,000 leaves room for the
# business-impact paragraph and cuts anything that would make a message unsendable.
MAX_OUTPUT = 4000
# Rendering happens once per notification inside the evaluation cycle; a normal text takes
# ~50 microseconds.
RENDER_SECONDS = 0.1
# Loop iterations a template may have in all (the product of nested constant ranges).
MAX_ITERATIONS = 1000
TRUNCATED = f" … (cut at {MAX_OUTPUT:,} characters)"


class Refused(ValueError):
    """A template Jinja cannot parse, or one that could build a huge text or loop for long."""


class _Deadline(SecurityError):
    """The render ran past RENDER_SECONDS."""


def _number(value: Any, digits: int = 2) -> str:
    return "unknown" if value is None else format_number(value, digits)


def _duration(value: Any) -> str:
    return "unknown" if value is None else human_duration(float(value))


def _bounded_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_ITERATIONS:
        raise SecurityError(f"range of {len(result):,} items (the limit is {MAX_ITERATIONS:,})")
    return result


class _BoundedEnvironment(SandboxedEnvironment):
    """The sandbox plus checks on the operators that build big values, and a render deadline."""

    intercepted_binops = frozenset({"*", "**", "+", "//", "/", "%"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        self._check_deadline()
        sized = (str, bytes, list, tuple)
        if op == "*" and (isinstance(left, sized) or isinstance(right, sized)):
            count = right if isinstance(left, sized) else left
            item = left if isinstance(left, sized) else right
            if isinstance(count, int) and len(item) * count > MAX_OUTPUT:
                raise SecurityError(f"a text repeated {count:,} times is over {MAX_OUTPUT:,} characters")
        if op == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("powers above 64 are refused")
        return _BINOPS[op](left, right)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self._check_deadline()
        return super().call(__context, __obj, *args, **kwargs)

    def _check_deadline(self) -> None:
        deadline: float | None = getattr(_render_state, "deadline", None)
        if deadline is not None and time.monotonic() > deadline:
            raise _Deadline(f"rendering took longer than {RENDER_SECONDS}s")


# The environment is shared; each thread rendering has its own deadline.
_render_state = threading.local()


_BINOPS = {
    "*": operator.mul,
    "**": operator.pow,
    "+": operator.add,
    "//": operator.floordiv,
    "/": operator.truediv,
    "%": operator.mod,
}


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = _BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["number"] = _number
    env.filters["duration"] = _duration
    env.globals["range"] = _bounded_range
    return env


def _constant_int(node: nodes.Node) -> int | None:
    if isinstance(node, nodes.Const) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, nodes.Neg):
        inner = _constant_int(node.node)
        return None if inner is None else -inner
    return None


def _range_size(call: nodes.Call) -> int | None:
    """Items in `range(...)` when every argument is a constant int, else None."""
    values = [_constant_int(arg) for arg in call.args]
    if call.kwargs or call.dyn_args or call.dyn_kwargs or not 1 <= len(values) <= 3:
        return None
    if any(v is None for v in values) or (len(values) == 3 and values[2] == 0):
        return None
    return len(range(*[v for v in values if v is not None]))


def _risks(ast: nodes.Node) -> Iterator[str]:
    """What in the template could build a huge text or loop for long."""
    for node in ast.find_all(nodes.Mul):
        for side in (node.left, node.right):
            # (Jinja's node classes do not support `A | B` in isinstance.)
            text = isinstance(side, nodes.Const) and isinstance(side.value, str)
            if text or isinstance(side, (nodes.List, nodes.Tuple)):
                yield "a text or list times a number can grow without bound; write the text out"
    if any(True for _ in ast.find_all(nodes.Pow)):
        yield "'**' (power) can build numbers without bound"
    for call in ast.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "range":
            size = _range_size(call)
            if size is None:
                yield "range() needs constant whole numbers"
            elif size > MAX_ITERATIONS:
                yield f"range() of {size:,} items (the limit is {MAX_ITERATIONS:,})"
    if _iterations(ast, 1) > MAX_ITERATIONS:
        yield f"nested loops run more than {MAX_ITERATIONS:,} times"


def _iterations(node: nodes.Node, outer: int) -> int:
    """The largest product of constant range sizes along any nesting of loops."""
    worst = outer
    for child in node.iter_child_nodes():
        factor = outer
        if isinstance(child, nodes.For) and isinstance(child.iter, nodes.Call):
            size = _range_size(child.iter)
            factor = outer * max(size or 1, 1)
        worst = max(worst, _iterations(child, factor))
    return worst


def used_variables(source: str) -> set[str]:
    """The variables a template reads, through Jinja's parser; raises Refused with the reason."""
    env = environment()
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise Refused(f"template syntax error: {exc.message}") from None
    # Before find_undeclared_variables: its code generator folds constants (`[1] * 10`) in the tree.
    for risk in _risks(ast):
        raise Refused(f"template refused: {risk}")
    try:
        return meta.find_undeclared_variables(ast)
    except TemplateSyntaxError as exc:  # the code generator's checks, such as an unknown filter
        raise Refused(f"template syntax error: {exc.message}") from None


@lru_cache(maxsize=4096)
def _compiled(source: str) -> Template:
    return environment().from_string(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render a checked template; a failure or overrun shows the raw text rather than losing the alert."""
    env = environment()
    assert isinstance(env, _BoundedEnvironment)
    _render_state.deadline = time.monotonic() + RENDER_SECONDS
    try:
        parts: list[str] = []
        size = 0
        for chunk in _compiled(source).generate(**context):
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_OUTPUT:
                return "".join(parts)[:MAX_OUTPUT] + TRUNCATED
            env._check_deadline()
        return "".join(parts)
    except Exception:
        return source
    finally:
        _render_state.deadline = None
