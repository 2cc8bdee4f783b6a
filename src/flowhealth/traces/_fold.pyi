# The C fold of traces/_fold.c (built by setup.py when a compiler is there); fold_py.py is its reference.
from typing import Any

def configure(
    ok: str,
    rejected: str,
    retried: str,
    manual: str,
    rejections: str,
    retries: str,
    duplicates: str,
    interventions: str,
    contract: str,
    separator: str,
    sort_key: Any,
    max_span_keys: int,
    max_reason: int,
    /,
) -> None: ...
def fold_flow(
    flow: str,
    entities: dict[str, list[Any]],
    rows: list[tuple[Any, ...]],
    pairs_by_stage: dict[str, tuple[tuple[str, str], ...]],
    end_stage: str | None,
    now: float,
    counts: dict[Any, int],
    latency: dict[Any, list[tuple[float, float]]],
    observed: dict[Any, list[float]],
    /,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int, int]: ...
def group(batches: list[Any], plans: dict[str, Any], /) -> tuple[dict[str, dict[str, list[Any]]], int]: ...
