# The C reader of traces/_spans.c (built by setup.py when a compiler is there).
from typing import Any

def read_spans(body: bytes, keys: tuple[str, ...], /) -> tuple[list[Any], ...] | None: ...
