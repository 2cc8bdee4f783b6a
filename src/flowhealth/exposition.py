"""The Prometheus text exposition, byte for byte what prometheus-client writes, at a fraction of its CPU.

A scrape at a thousand probes is some 35,000 sample lines, and the same series come back on every
scrape with new values. prometheus-client formats every line from scratch (label names validated
and escaped, label values escaped, sorted, joined); here the part of a line before its value,
`name{labels} `, is built once per series and remembered, so a scrape formats only the values.
Memory stays at about one scrape's worth however long the service runs: the formatted values kept
are those the last scrape used (counters and sums take a new value on almost every scrape, and
remembering every value ever formatted let the cache reach 500,000 values, ~60 MiB, before it
was reset), and the prefixes start over when they are more than twice the lines of a scrape
(series that went away).
The output is the same as `prometheus_client.generate_latest` (tests/test_exposition.py compares
them on a live registry); OpenMetrics requests still go through prometheus-client.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client.openmetrics.exposition import (
    ALLOWUTF8,
    UNDERSCORES,
    _escape,
    escape_label_name,
    escape_metric_name,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

# prometheus-client's renaming of OpenMetrics types into the Prometheus text format.
# Prefixes of series that went away, tolerated before the prefixes start over.
PREFIX_SLACK = 1000
_TYPE_NAMES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}
_OM_SUFFIXES = ("_created", "_gsum", "_gcount")


class TextExposition:
    """Renders a registry in the Prometheus text format, remembering each series' line prefix."""

    def __init__(self) -> None:
        self._prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._values: dict[float, str] = {}

    def remembered(self) -> tuple[int, int]:
        """How many line prefixes and formatted values are kept for the next scrape."""
        return len(self._prefixes), len(self._values)

    def render(self, registry: Collector) -> bytes:
        # The values this scrape uses become what the next one looks up; the rest go. Each render
        # fills its own dictionary, so concurrent scrapes never see one half-built.
        prefixes, known_values = self._prefixes, self._values
        values: dict[float, str] = {}

        def line(sample: Sample) -> str:
            return _line(sample, prefixes, known_values, values)

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
            om_names = {metric.name + suffix: suffix for suffix in _OM_SUFFIXES}
            om_samples: dict[str, list[str]] = {}
            for sample in metric.samples:
                suffix = om_names.get(sample.name)
                if suffix is None:
                    output.append(line(sample))
                else:
                    # OpenMetrics-only samples go into a gauge of their own after the family.
                    om_samples.setdefault(suffix, []).append(line(sample))
            for suffix, lines in sorted(om_samples.items()):
                om_name = escape_metric_name(metric.name + suffix, UNDERSCORES)
                output.append(f"# HELP {om_name} {help_text}\n# TYPE {om_name} gauge\n")
                output.extend(lines)
        self._values = values
        if len(prefixes) > 2 * len(output) + PREFIX_SLACK:  # `output` has at least a string per series
            # Series that went away (a reloaded model, label values that stopped): start over. Not
            # rebuilt per scrape as the values are, because keeping fresh key tuples alive each
            # scrape costs the garbage collector more than the cache saves.
            prefixes.clear()
        return "".join(output).encode("utf-8")


def _line(
    sample: Sample,
    prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str],
    known_values: dict[float, str],
    values: dict[float, str],
) -> str:
    """One sample line, from the remembered prefix and the last scrape's values where they exist."""
    key = (sample.name, tuple(sample.labels.items()))
    prefix = prefixes.get(key)
    if prefix is None:
        prefix = prefixes[key] = _prefix(sample.name, sample.labels.items())
    value = known_values.get(sample.value)
    if value is None or (value == "0.0" and math.copysign(1.0, sample.value) < 0):
        value = _go_float(sample.value)
    if value not in ("NaN", "-0.0"):  # NaN never equals itself; -0.0 equals 0.0 but prints apart
        values[sample.value] = value
    if sample.timestamp is not None:
        return f"{prefix}{value} {int(float(sample.timestamp) * 1000):d}\n"
    return f"{prefix}{value}\n"


def _prefix(name: str, labels: Iterable[tuple[str, str]]) -> str:
    pairs = sorted(labels)
    if not pairs:
        return f"{escape_metric_name(name, UNDERSCORES)} "
    inner = ",".join(f'{escape_label_name(k, UNDERSCORES)}="{_escape(v, ALLOWUTF8, False)}"' for k, v in pairs)  # type: ignore[arg-type]
    return f"{escape_metric_name(name, UNDERSCORES)}{{{inner}}} "


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
