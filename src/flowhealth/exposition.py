"""The Prometheus text exposition, byte for byte what prometheus-client writes, at a fraction of its CPU.

A scrape at a thousand probes is some 35,000 sample lines, and the same series come back on every
scrape with new values. prometheus-client formats every line from scratch (label names validated
and escaped, label values escaped, sorted, joined); here the part of a line before its value,
`name{labels} `, is built once per series and remembered, so a scrape formats only the values.
Families that keep their own text (`TextFamily`: the per-probe counters and histogram, the state
gauges) hand it over whole, and build prometheus-client's Sample objects only when something else
reads them. The output is the same as `prometheus_client.generate_latest` (tests/test_exposition.py
compares them on a live registry); OpenMetrics requests still go through prometheus-client.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import (
    ALLOWUTF8,
    UNDERSCORES,
    _escape,
    escape_label_name,
    escape_metric_name,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

# Series seen in a long-lived process stay bounded by the model; past this, start over (cheaply).
MAX_REMEMBERED = 500_000
# prometheus-client's renaming of OpenMetrics types into the Prometheus text format.
_TYPE_NAMES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}
_OM_SUFFIXES = ("_created", "_gsum", "_gcount")


class TextFamily(Metric):
    """A metric family that writes its own text lines; its Sample objects are built only when read.

    A text scrape never needs the samples, so it skips building tens of thousands of them;
    `generate_latest`, OpenMetrics and `get_sample_value` read `samples` and get the same series.
    """

    def __init__(
        self, name: str, documentation: str, typ: str, lines: Callable[[], str], samples: Callable[[], list[Sample]]
    ) -> None:
        self._built: list[Sample] | None = None
        self._build = samples
        super().__init__(name, documentation, typ)
        self.lines = lines

    @property
    def samples(self) -> list[Sample]:
        if self._built is None:
            self._built = self._build()
        return self._built

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        # Metric.__init__ starts with an empty list: that means "not built yet" here.
        self._built = value or None


class TextExposition:
    """Renders a registry in the Prometheus text format, remembering each series' line prefix."""

    def __init__(self) -> None:
        self._prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def render(self, registry: Collector) -> bytes:
        next_scrape()
        output: list[str] = []
        for metric in registry.collect():
            name, mtype = metric.name, metric.type
            if mtype == "counter":
                name += "_total"
            elif mtype == "info":
                name += "_info"
            help_text = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
            escaped = escape_metric_name(name, UNDERSCORES)
            output.append(f"# HELP {escaped} {help_text}\n# TYPE {escaped} {_TYPE_NAMES.get(mtype, mtype)}\n")
            if isinstance(metric, TextFamily):
                output.append(metric.lines())
                continue
            om_names = {metric.name + suffix: suffix for suffix in _OM_SUFFIXES}
            om_samples: dict[str, list[str]] = {}
            for sample in metric.samples:
                suffix = om_names.get(sample.name)
                if suffix is None:
                    output.append(self._line(sample))
                else:
                    # OpenMetrics-only samples go into a gauge of their own after the family.
                    om_samples.setdefault(suffix, []).append(self._line(sample))
            for suffix, lines in sorted(om_samples.items()):
                om_name = escape_metric_name(metric.name + suffix, UNDERSCORES)
                output.append(f"# HELP {om_name} {help_text}\n# TYPE {om_name} gauge\n")
                output.extend(lines)
        if len(self._prefixes) > MAX_REMEMBERED:
            self._prefixes.clear()
        return "".join(output).encode("utf-8")

    def _line(self, sample: Sample) -> str:
        key = (sample.name, tuple(sample.labels.items()))
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefixes[key] = line_prefix(sample.name, sample.labels.items())
        value = number_text(sample.value)
        if sample.timestamp is not None:
            return f"{prefix}{value} {int(float(sample.timestamp) * 1000):d}\n"
        return f"{prefix}{value}\n"


def line_prefix(name: str, labels: Iterable[tuple[str, str]]) -> str:
    """`name{labels} ` of a series as prometheus-client writes it: labels sorted and escaped."""
    pairs = sorted(labels)
    if not pairs:
        return f"{escape_metric_name(name, UNDERSCORES)} "
    inner = ",".join(f'{escape_label_name(k, UNDERSCORES)}="{_escape(v, ALLOWUTF8, False)}"' for k, v in pairs)  # type: ignore[arg-type]
    return f"{escape_metric_name(name, UNDERSCORES)}{{{inner}}} "


# Texts of whole numbers (counts, flags, buckets) written in this scrape and in the one before:
# an unchanged count comes back scrape after scrape. Two generations, not one dict until a size
# limit: the counts of busy histograms (journey latencies) are new on every scrape and never come
# back, and keeping them until 100,000 grew the heap of a 1,000-flow service by ~10 MiB before
# each reset. A generation holds at most the whole numbers of one scrape (bounded by the model).
_NUMBERS: dict[float, str] = {}
_EARLIER: dict[float, str] = {}
# A bound for callers that never start a scrape (rendered children read outside `render`).
MAX_NUMBERS = 100_000


def next_scrape() -> None:
    """Start a generation: a number written in neither this scrape nor the one before is formatted again."""
    global _NUMBERS, _EARLIER
    _EARLIER, _NUMBERS = _NUMBERS, {}


def remembered_numbers() -> int:
    """How many number texts are kept (both generations), for tests and memory diagnostics."""
    return len(_NUMBERS) + len(_EARLIER)


def number_text(number: float) -> str:
    """A sample value as prometheus-client writes it, remembered for the values that come back."""
    text = _NUMBERS.get(number)
    if text is None:
        text = _EARLIER.get(number)
        if text is not None:
            _NUMBERS[number] = text  # came back: keep it for the next scrape too
    if text is None or (text == "0.0" and math.copysign(1.0, number) < 0):
        text = _go_float(number)
        # NaN never equals itself, -0.0 equals 0.0 but prints apart; infinities are not whole (NaN % 1).
        if number % 1 == 0 and text != "-0.0":
            if len(_NUMBERS) > MAX_NUMBERS:
                _NUMBERS.clear()
            _NUMBERS[number] = text
    return text


def _go_float(number: float) -> str:
    """prometheus-client's floatToGoString: Go's formatting of a float64."""
    d = float(number)
    if d == math.inf:
        return "+Inf"
    if d == -math.inf:
        return "-Inf"
    if math.isnan(d):
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:  # Go switches to exponents sooner than Python
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s
