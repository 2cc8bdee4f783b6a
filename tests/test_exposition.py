"""/metrics in the Prometheus text format: the same bytes prometheus-client writes, scrape after scrape."""

from __future__ import annotations

import bisect
import math
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.exposition import TextExposition, remembered_numbers
from flowhealth.rendered_metrics import RenderedCounter, RenderedHistogram
from flowhealth.runtime import Runtime
from flowhealth.settings import Settings
from tests.test_api import model as model


def test_awkward_names_values_and_labels_render_as_prometheus_client_does() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("shop_odd", "Help with a \\ backslash\nand a newline.", ["what"], registry=registry)
    for what, value in [
        ('quote " inside', 1.0),
        ("back\\slash", -0.0),
        ("new\nline", math.nan),
        ("big", 12345678.9),
        ("inf", math.inf),
        ("minus inf", -math.inf),
        ("zero", 0.0),
        ("tiny", 1e-9),
        ("unicode ✓", 3),
    ]:
        gauge.labels(what).set(value)
    Counter("shop_orders", "Orders.", ["shop"], registry=registry).labels("a").inc(3)
    Histogram("shop_wait_seconds", "Waits.", registry=registry).observe(0.3)
    exposition = TextExposition()
    for _ in range(2):  # the second render comes from the remembered prefixes and values
        assert exposition.render(registry) == generate_latest(registry)
    gauge.labels("zero").set(-0.0)  # -0.0 equals the remembered 0.0 but prints apart
    assert exposition.render(registry) == generate_latest(registry)


def test_metrics_endpoint_serves_what_prometheus_client_would_after_probes_and_evaluation(
    model, tmp_path: Path, clock: FakeClock
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", public_url="http://fh.test")
    runtime = Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})
    client = TestClient(create_app(runtime, manage_runtime=False))
    for _ in range(2):
        runtime.runner.run("orders", "delay")
        runtime.evaluator.evaluate()
        clock.advance(60)
        response = client.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain")
        assert response.content == generate_latest(runtime.registry)
    # Counters' *_created series are not exported: Prometheus' text format has no use for them.
    assert b"_created" not in response.content


def test_counters_and_histograms_that_keep_their_text_write_what_prometheus_clients_own_would() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    labels = ["flow", "signal", "kind"]
    buckets = (0.005, 0.5, 1, 30)
    counters = [
        RenderedCounter("shop_runs_total", "Runs.", labels, registry=ours),
        Counter("shop_runs_total", "Runs.", labels, registry=theirs),
    ]
    histograms = [
        RenderedHistogram("shop_wait_seconds", "Waits.", labels, registry=ours, buckets=buckets),
        Histogram("shop_wait_seconds", "Waits.", labels, registry=theirs, buckets=buckets),
    ]
    exposition = TextExposition()
    for amount in (0.001, 0.5, 0.7, 31.0, 1e-9, 2.5e6):
        for counter, histogram in zip(counters, histograms, strict=True):
            counter.labels("orders", 'quo"te', "sql").inc(amount)
            histogram.labels("orders", "back\\slash", "sql").observe(amount)
            histogram.labels("orders", "other", "sql")  # created, never observed: all zeros
        assert exposition.render(ours) == generate_latest(theirs) == generate_latest(ours)
    assert ours.get_sample_value(
        "shop_wait_seconds_bucket", {"flow": "orders", "signal": "back\\slash", "kind": "sql", "le": "0.5"}
    ) == theirs.get_sample_value(
        "shop_wait_seconds_bucket", {"flow": "orders", "signal": "back\\slash", "kind": "sql", "le": "0.5"}
    )


def test_latencies_added_as_bucket_counts_scrape_as_observed_one_by_one() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    buckets = (0.005, 0.5, 1, 30)
    bulk = RenderedHistogram("shop_wait_seconds", "Waits.", ["flow"], registry=ours, buckets=buckets)
    single = Histogram("shop_wait_seconds", "Waits.", ["flow"], registry=theirs, buckets=buckets)
    amounts = [0.001, 0.005, 0.5, 0.7, 31.0, 1e-9, 2.5e6, 0.1, 0.2, 0.3]
    # What a span fold hands over: a count per bucket (the first bound >= amount) and the sum in order.
    bounds = (*buckets, math.inf)
    counts = [0] * len(bounds)
    for amount in amounts:
        counts[bisect.bisect_left(bounds, amount)] += 1
    bulk.labels("orders").observe_summary(counts, sum(amounts))
    for amount in amounts:
        single.labels("orders").observe(amount)
    assert TextExposition().render(ours) == generate_latest(theirs)
    with pytest.raises(ValueError, match="3 bucket counts for a histogram of 5 buckets"):
        bulk.labels("orders").observe_summary([1, 2, 3], 1.0)


def test_a_value_changed_between_two_scrapes_is_in_the_second(model, tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", public_url="http://fh.test")
    runtime = Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})
    client = TestClient(create_app(runtime, manage_runtime=False))
    runs = 'flowhealth_probe_runs_total{flow="orders",kind="sql",outcome="success",signal="delay"}'
    count = 'flowhealth_probe_duration_seconds_count{flow="orders",kind="sql",signal="delay"}'
    delay = 'flowhealth_flow_delay_seconds{flow="orders",signal="delay"}'
    runtime.runner.run("orders", "delay")
    first = client.get("/metrics").text
    assert f"{runs} 1.0\n" in first and f"{count} 1.0\n" in first and f"{delay} 1800.0\n" in first
    clock.advance(60)  # the oldest order is a minute older
    runtime.runner.run("orders", "delay")
    second = client.get("/metrics").text
    assert f"{runs} 2.0\n" in second and f"{count} 2.0\n" in second and f"{delay} 1860.0\n" in second


def test_every_probe_series_is_on_the_first_scrape_at_zero(model, tmp_path: Path, clock: FakeClock) -> None:
    # Seeded at start-up so rate() works from the first scrape; their text is written at that scrape.
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", public_url="http://fh.test")
    runtime = Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})
    body = TestClient(create_app(runtime, manage_runtime=False)).get("/metrics").text
    for outcome in ("success", "timeout", "error", "invalid"):
        line = f'flowhealth_probe_runs_total{{flow="orders",kind="sql",outcome="{outcome}",signal="delay"}} 0.0\n'
        assert line in body


def test_no_scrape_keeps_a_line_older_than_the_last_increment() -> None:
    registry = CollectorRegistry()
    counter = RenderedCounter("shop_runs_total", "Runs.", ["shop"], registry=registry)
    histogram = RenderedHistogram("shop_wait_seconds", "Waits.", ["shop"], registry=registry, buckets=(1.0,))
    child, timed = counter.labels("a"), histogram.labels("a")
    exposition, done = TextExposition(), threading.Event()

    def scrape_all_the_time() -> None:
        while not done.is_set():
            exposition.render(registry)

    scraper = threading.Thread(target=scrape_all_the_time)
    scraper.start()
    try:
        for _ in range(20_000):  # increments race the scraper's re-rendering of the same lines
            child.inc()
            timed.observe(0.5)
    finally:
        done.set()
        scraper.join()
    body = exposition.render(registry).decode()
    assert 'shop_runs_total{shop="a"} 20000.0\n' in body
    assert 'shop_wait_seconds_count{shop="a"} 20000.0\n' in body


def test_openmetrics_is_served_when_asked_for_with_the_same_series(model, tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", public_url="http://fh.test")
    runtime = Runtime.build(settings, model, clock=clock, registry=CollectorRegistry(), environ={})
    client = TestClient(create_app(runtime, manage_runtime=False))
    runtime.runner.run("orders", "delay")
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    runs = {tuple(sorted(s.labels.items())): s.value for s in families["flowhealth_probe_runs"].samples}
    assert runs[(("flow", "orders"), ("kind", "sql"), ("outcome", "success"), ("signal", "delay"))] == 1.0
    assert families["flowhealth_probe_duration_seconds"].type == "histogram"
    assert families["flowhealth_flow_delay_seconds"].samples[0].value == 1800.0


def test_number_texts_kept_stay_within_two_scrapes_however_many_new_counts_come() -> None:
    # Counts of busy histograms are new whole numbers on every scrape; none of them may pile up.
    registry = CollectorRegistry()
    latency = Histogram("journey_seconds", "Journey latency.", ["flow"], buckets=(1, 5, 30), registry=registry)
    exposition = TextExposition()
    flows = 40
    for _scrape in range(100):
        for flow in range(flows):
            for _ in range(flow + 1):  # a different count per flow: 40 new whole numbers per scrape
                latency.labels(f"f{flow}").observe(0.5)
        exposition.render(registry)
    per_scrape = flows * 7  # four buckets, count, sum and created per series
    assert remembered_numbers() <= 2 * per_scrape  # before: every count ever written (1,591 here)
