"""Counters and histograms that keep each series' text lines until its value changes.

At a thousand probes, prometheus-client's `collect()` of the per-probe counters and duration
histogram built 20,000 Sample objects per scrape (a lock per value read, a dict per sample), and
the text format then wrote each line again. Here every labelled child keeps the lines it last
wrote and drops them on a write, so a scrape re-formats only the series that changed since the
one before and joins the rest. `collect()` returns a `TextFamily`: the same samples as
prometheus-client's Counter and Histogram (without `*_created`, see metrics.py) for
`generate_latest`, OpenMetrics and `get_sample_value`, built only when read.

Only what flowhealth uses is here: positional `labels()`, `inc()`, `observe()` and `observe_summary()`.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from .exposition import TextFamily, line_prefix, number_text


class CounterChild:
    """One labelled series of a counter."""

    __slots__ = ("_labels", "_lock", "_name", "_prefix", "_text", "_value")

    def __init__(self, name: str, labels: dict[str, str]) -> None:
        self._labels = labels
        self._lock = threading.Lock()
        self._name = name
        # Written at the first scrape, not here: start-up seeds ~40,000 series at 10,000 signals,
        # and escaping their labels was most of that (issue 19, `serve` to /healthz).
        self._prefix: str | None = None
        self._text: str | None = None  # the line last written, None once the value changed
        self._value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        with self._lock:
            self._value += amount
            self._text = None

    def lines(self) -> str:
        text = self._text
        if text is None:
            # Written under the lock, so an increment in between can never leave a stale line behind.
            with self._lock:
                prefix = self._prefix
                if prefix is None:
                    prefix = self._prefix = line_prefix(f"{self._name}_total", self._labels.items())
                text = self._text = f"{prefix}{number_text(self._value)}\n"
        return text

    def samples(self, name: str) -> list[Sample]:
        return [Sample(f"{name}_total", dict(self._labels), self._value, None, None)]


class HistogramChild:
    """One labelled series of a histogram: a count per bucket and the sum."""

    __slots__ = ("_bounds", "_counts", "_labels", "_lock", "_prefixes", "_sum", "_text")

    def __init__(self, name: str, labels: dict[str, str], bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self._counts = [0] * len(bounds)  # per bucket, not cumulative: an observation touches one
        self._labels = labels
        self._lock = threading.Lock()
        self._prefixes = [line_prefix(f"{name}_bucket", [*labels.items(), ("le", number_text(b))]) for b in bounds]
        self._prefixes += [line_prefix(f"{name}_count", labels.items()), line_prefix(f"{name}_sum", labels.items())]
        self._sum = 0.0
        self._text: str | None = None

    def observe(self, amount: float) -> None:
        bucket = bisect.bisect_left(self._bounds, amount)  # the first bound >= amount, as prometheus-client
        with self._lock:
            self._sum += amount
            if bucket < len(self._counts):
                self._counts[bucket] += 1
            self._text = None

    def observe_summary(self, buckets: Sequence[int], total: float) -> None:
        """Add observations already counted per bucket (of these bounds, not cumulative) and their sum.

        A span fold observes thousands of latencies and sums them as it goes (traces/measures.py).
        """
        if len(buckets) != len(self._counts):
            raise ValueError(f"{len(buckets)} bucket counts for a histogram of {len(self._counts)} buckets")
        with self._lock:
            self._sum += total
            for i, n in enumerate(buckets):
                self._counts[i] += n
            self._text = None

    def _cumulative(self) -> list[float]:
        total, out = 0, []
        for count in self._counts:
            total += count
            out.append(float(total))
        return out

    def lines(self) -> str:
        text = self._text
        if text is None:
            with self._lock:
                values = self._cumulative()
                values += [values[-1], self._sum]
                text = self._text = "".join(
                    f"{p}{number_text(v)}\n" for p, v in zip(self._prefixes, values, strict=True)
                )
        return text

    def samples(self, name: str) -> list[Sample]:
        with self._lock:
            values, total = self._cumulative(), self._sum
        out = [
            Sample(f"{name}_bucket", {**self._labels, "le": number_text(b)}, v, None, None)
            for b, v in zip(self._bounds, values, strict=True)
        ]
        out.append(Sample(f"{name}_count", dict(self._labels), values[-1], None, None))
        out.append(Sample(f"{name}_sum", dict(self._labels), total, None, None))
        return out


C = TypeVar("C", CounterChild, HistogramChild)


class _Family(Generic[C]):
    """Children by label values, in the order they were created (prometheus-client's order too)."""

    typ = ""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], C] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def _child(self, labels: dict[str, str]) -> C:
        raise NotImplementedError

    def labels(self, *values: str) -> C:
        """The series of these label values, created at zero on first use."""
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self._labelnames):
                raise ValueError(f"{self._name} takes {len(self._labelnames)} label values, not {len(values)}")
            key = tuple(map(str, values))
            with self._lock:
                child = self._children.get(key)
                if child is None:
                    child = self._children[key] = self._child(dict(zip(self._labelnames, key, strict=True)))
        return child

    def describe(self) -> list[Metric]:
        return [Metric(self._name, self._documentation, self.typ)]

    def collect(self) -> list[Metric]:
        with self._lock:
            children = list(self._children.values())
        name = self._name

        def lines() -> str:
            return "".join([child.lines() for child in children])

        def samples() -> list[Sample]:
            return [sample for child in children for sample in child.samples(name)]

        return [TextFamily(name, self._documentation, self.typ, lines, samples)]


class RenderedCounter(_Family[CounterChild]):
    """A labelled counter; `name` without `_total`, as prometheus-client's Metric names it."""

    typ = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry) -> None:
        super().__init__(name.removesuffix("_total"), documentation, labelnames, registry)

    def _child(self, labels: dict[str, str]) -> CounterChild:
        return CounterChild(self._name, labels)


class RenderedHistogram(_Family[HistogramChild]):
    """A labelled histogram with fixed buckets (the last is +Inf)."""

    typ = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
        buckets: Sequence[float],
    ) -> None:
        bounds = tuple(sorted(float(b) for b in buckets))
        self._bounds = bounds if bounds and bounds[-1] == float("inf") else (*bounds, float("inf"))
        super().__init__(name, documentation, labelnames, registry)

    def _child(self, labels: dict[str, str]) -> HistogramChild:
        return HistogramChild(self._name, labels, self._bounds)


# (name and label names, label values) of a series whose line prefix is remembered.
Prefixed = tuple[tuple[str, ...], tuple[str, ...]]


class GaugeRows:
    """A gauge family of plain rows read at scrape time (state), written from remembered line prefixes.

    prometheus-client's GaugeMetricFamily builds a Sample and a label dict per row, then the text
    format sorts and escapes the labels again; here a row is a tuple until the text is written,
    and the prefix of a series seen in an earlier scrape is looked up, not rebuilt.
    """

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], prefixes: dict[Prefixed, str]) -> None:
        self.name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        # Shared between scrapes by the collector; keyed by name, label names and values.
        self._prefixes = prefixes
        self._rows: list[tuple[tuple[str, ...], float]] = []

    def add(self, values: Sequence[str], value: float) -> None:
        self._rows.append((tuple(values), value))

    def _lines(self) -> str:
        prefixes, head, out = self._prefixes, (self.name, *self._labelnames), []
        for values, value in self._rows:
            key = (head, values)
            prefix = prefixes.get(key)
            if prefix is None:
                prefix = prefixes[key] = line_prefix(self.name, zip(self._labelnames, values, strict=True))
            out.append(f"{prefix}{number_text(value)}\n")
        return "".join(out)

    def _samples(self) -> list[Sample]:
        names = self._labelnames
        return [
            Sample(self.name, dict(zip(names, values, strict=True)), value, None, None) for values, value in self._rows
        ]

    def family(self) -> TextFamily:
        return TextFamily(self.name, self._documentation, "gauge", self._lines, self._samples)
