"""Mark a business stage in one line, on opentelemetry-api only (no SDK needed to import it).

    from flowhealth import instrument

    with instrument.stage("order-export", "exported", order.number) as mark:
        send(order)
        if answer.refused:
            mark.rejected(answer.reason)

    @instrument.stage_of("order-export", "accepted", entity="order_number")
    def accept(order_number: str) -> None: ...

An exception inside the stage is recorded on the span (an `exception` event, status ERROR) and
marks the stage rejected with the exception type as the reason, then propagates.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from . import semconv as c

P = ParamSpec("P")
R = TypeVar("R")


class StageMark:
    """The span of a stage, with the outcomes a business step can end in."""

    def __init__(self, span: Span) -> None:
        self.span = span
        self.outcome = c.OK

    def _set(self, outcome: str, reason: str | None) -> None:
        self.outcome = outcome
        self.span.set_attribute(c.OUTCOME, outcome)
        if reason:
            self.span.set_attribute(c.REASON, reason)

    def rejected(self, reason: str) -> None:
        """The target refused the payload (e.g. the ERP rejected the order)."""
        self._set(c.REJECTED, reason)
        self.span.set_status(Status(StatusCode.ERROR, reason))

    def retried(self, reason: str | None = None) -> None:
        """This attempt failed and will be retried."""
        self._set(c.RETRIED, reason)

    def manual(self, reason: str | None = None) -> None:
        """A person did this step by hand."""
        self._set(c.MANUAL, reason)


@contextmanager
def stage(
    flow: str,
    stage: str,
    entity_id: str | int,
    *,
    entity_type: str | None = None,
    name: str | None = None,
    tracer: trace.Tracer | None = None,
    attributes: dict[str, Any] | None = None,
) -> Iterator[StageMark]:
    """A span marking that `entity_id` goes through `stage` of `flow`."""
    tracer = tracer or trace.get_tracer("flowhealth.instrument")
    attrs: dict[str, Any] = {**(attributes or {}), c.FLOW: flow, c.STAGE: stage, c.ENTITY_ID: str(entity_id)}
    if entity_type:
        attrs[c.ENTITY_TYPE] = entity_type
    # Exceptions are recorded here, once, with the outcome; the SDK must not record them again.
    with tracer.start_as_current_span(
        name or f"{flow} {stage}", attributes=attrs, record_exception=False, set_status_on_exception=False
    ) as span:
        mark = StageMark(span)
        try:
            yield mark
        except Exception as exc:
            span.record_exception(exc)
            if mark.outcome == c.OK:
                mark.rejected(type(exc).__name__)
            else:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def stage_of(
    flow: str,
    stage_name: str,
    *,
    entity: str,
    entity_type: str | None = None,
    tracer: trace.Tracer | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: the call is the stage; the entity id is the argument named `entity`."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(func)
        if entity not in signature.parameters:
            raise TypeError(f"{func.__qualname__} has no parameter '{entity}'")

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            entity_id = signature.bind(*args, **kwargs).arguments[entity]
            with stage(flow, stage_name, entity_id, entity_type=entity_type, name=func.__qualname__, tracer=tracer):
                return func(*args, **kwargs)

        return wrapper

    return decorate
