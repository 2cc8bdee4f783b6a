# The C reader of traces/_spans.c (built by setup.py when a compiler is there).
from typing import Any

def read_spans(
    body: bytes,
    keys: tuple[str, ...],
    plans: dict[str, Any],
    event_type: type,
    mappings: dict[tuple[str, str], Any] = ...,
    /,
) -> tuple[int, tuple[list[Any], ...]] | None: ...
