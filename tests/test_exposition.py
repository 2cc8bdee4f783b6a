"""/metrics in the Prometheus text format: the same bytes prometheus-client writes, scrape after scrape."""

from __future__ import annotations

import math
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from flowhealth.api.app import create_app
from flowhealth.clock import FakeClock
from flowhealth.exposition import PREFIX_SLACK, TextExposition
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


def test_a_long_running_service_keeps_one_scrape_of_values_and_forgets_series_that_went_away() -> None:
    # Counters and sums take a new value on nearly every scrape; a service scraped for months must
    # not keep every value it ever formatted, nor the series of flows removed from its model.
    registry = CollectorRegistry()
    waiting = Gauge("shop_waiting", "Records waiting.", ["flow"], registry=registry)
    runs = Counter("shop_runs", "Probe runs.", ["flow"], registry=registry)
    exposition = TextExposition()
    flows = [f"flow-{n}" for n in range(50)]
    for scrape in range(200):
        for n, flow in enumerate(flows):
            waiting.labels(flow).set(scrape * 1000 + n + 0.5)  # a new value for every series, every scrape
            runs.labels(flow).inc()
        assert exposition.render(registry) == generate_latest(registry)
    lines = len(generate_latest(registry).splitlines())
    prefixes, values = exposition.remembered()
    assert values <= lines  # this scrape's values only, not the thousands formatted since the start
    assert prefixes <= lines
    for flow in flows[1:]:  # the model shrank to one flow: its other series stop being exposed
        waiting.remove(flow)
        runs.remove(flow)
    for gone in range(3000):  # and a label value that changes on every scrape comes and goes
        waiting.labels(f"short-lived-{gone}").set(1)
        exposition.render(registry)
        waiting.remove(f"short-lived-{gone}")
    assert exposition.render(registry) == generate_latest(registry)
    prefixes, values = exposition.remembered()
    assert prefixes <= len(generate_latest(registry).splitlines()) * 2 + PREFIX_SLACK
