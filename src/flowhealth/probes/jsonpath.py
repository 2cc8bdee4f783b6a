"""A deliberately small path language for picking values out of JSON answers.

`$.data.orders[0].count`, `backlog`, `items[-1].age`, `items.length()`: dotted keys, list
indexes and a final `length()`. Anything richer belongs in the endpoint, not in a probe.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ProbeInvalid

_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_-]*|\[-?\d+\]|\[\"[^\"]*\"\])")


def parse(path: str) -> list[str | int]:
    """Split a path into keys and indexes; `length()` stays a marker string."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[str | int] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read the path {path!r} at {text[position:]!r}")
        token = match.group(1)
        if token.startswith('["'):
            steps.append(token[2:-2])
        elif token.startswith("["):
            steps.append(int(token[1:-1]))
        else:
            steps.append(token)
        position = match.end()
        if text.startswith("()", position) and steps[-1] == "length":
            steps[-1] = "length()"
            position += 2
    return steps


def pick(document: Any, path: str) -> Any:
    """The value at `path`, or ProbeInvalid saying where the path left the document."""
    try:
        steps = parse(path)
    except ValueError as exc:
        raise ProbeInvalid(str(exc)) from None
    value = document
    walked = "$"
    for step in steps:
        if step == "length()":
            if not isinstance(value, list | dict | str):
                raise ProbeInvalid(f"{walked} has no length (it is {type(value).__name__})")
            value = len(value)
        elif isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                raise ProbeInvalid(f"{walked}[{step}] does not exist in the answer")
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                raise ProbeInvalid(f"{walked}.{step} does not exist in the answer")
            value = value[step]
        walked += f"[{step}]" if isinstance(step, int) else f".{step}"
    return value
