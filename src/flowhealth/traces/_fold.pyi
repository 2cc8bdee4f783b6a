# The C fold of traces/_fold.c (built by setup.py when a compiler is there). Its functions are
# called as fold_py's are, which is its reference: the same arguments, the same results.
from collections.abc import Sequence
from typing import Any

from .convention import FlowPlan, StageEvent
from .measures import Counts, Folded, Latencies, LatencySummary

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
    summary_type: type[LatencySummary],
    bounds: tuple[float, ...],
    /,
) -> None: ...
def group(
    batches: list[Sequence[StageEvent]], plans: dict[str, FlowPlan], /
) -> tuple[dict[str, dict[str, list[StageEvent]]], int]: ...
def fold_flow(
    flow: str,
    entities: dict[str, list[StageEvent]],
    rows: list[tuple[Any, ...]],
    pairs_by_stage: dict[str, tuple[tuple[str, str], ...]],
    end_stage: str | None,
    now: float,
    counts: Counts,
    latency: Latencies,
    /,
) -> Folded: ...
