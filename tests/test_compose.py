"""docker-compose.yml: no Docker engine here, so check what can be checked without one —
every mounted file exists, services find each other at the ports they listen on, and each
config passes its own validator where one is installed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from flowhealth.export import RULE_FILES_GLOB
from flowhealth.export.alertmanager import DEFAULT_TOKEN_FILE
from tests.support.services import need_tool

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = load(REPO / "docker-compose.yml")
    return document


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        host, container = volume.split(":")[:2]
        if host.startswith("."):
            found[container] = REPO / host
    return found


def published(service: dict[str, Any]) -> set[int]:
    return {int(p.split(":")[-1]) for p in service.get("ports", [])}


def listen_port(compose: dict[str, Any]) -> int:
    command = compose["services"]["flowhealth"]["command"]
    return int(command[command.index("--port") + 1])


def test_the_stack_has_every_service(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "flowhealth",
        "postgres",
        "prometheus",
        "alertmanager",
        "grafana",
        "otel-collector",
    }


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    missing = [
        f"{name}: {host}" for name, s in compose["services"].items() for host in mounts(s).values() if not host.exists()
    ]
    assert missing == []
    for name, secret in compose.get("secrets", {}).items():
        assert "environment" in secret or (REPO / secret["file"]).exists(), name


def test_prometheus_scrapes_flowhealth_loads_the_rules_and_alerts_alertmanager(compose: dict[str, Any]) -> None:
    services = compose["services"]
    config_dir = mounts(services["prometheus"])["/etc/prometheus"]
    config = load(config_dir / "prometheus.yml")
    [job] = config["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [f"flowhealth:{listen_port(compose)}"]
    assert listen_port(compose) in published(services["flowhealth"])
    assert config["rule_files"] == [f"rules/{RULE_FILES_GLOB}"]
    assert sorted(p.name for p in (config_dir / "rules").glob(RULE_FILES_GLOB)) == [
        "flowhealth-alerts.rules.yml",
        "flowhealth-baseline.rules.yml",
        "flowhealth-recording.rules.yml",
    ]
    [target] = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host in services and int(port) in published(services[host])


def test_promtool_accepts_the_prometheus_config_and_its_rules(compose: dict[str, Any]) -> None:
    promtool = need_tool("promtool")
    config = mounts(compose["services"]["prometheus"])["/etc/prometheus"] / "prometheus.yml"
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 rule files found" in result.stdout


def test_alertmanager_reads_the_slack_token_from_the_compose_secret(compose: dict[str, Any]) -> None:
    amtool = need_tool("amtool")
    service = compose["services"]["alertmanager"]
    config = mounts(service)["/etc/alertmanager/alertmanager.yml"]
    result = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert service["secrets"] == ["slack_bot_token"] and DEFAULT_TOKEN_FILE == "/run/secrets/slack_bot_token"
    receivers = load(config)["receivers"]
    assert {r["slack_configs"][0]["http_config"]["authorization"]["credentials_file"] for r in receivers} == {
        DEFAULT_TOKEN_FILE
    }


def test_grafana_provisions_the_prometheus_datasource_and_the_dashboards(compose: dict[str, Any]) -> None:
    services = compose["services"]
    grafana = mounts(services["grafana"])
    provisioning = grafana["/etc/grafana/provisioning"]
    datasources = {d["uid"]: d for d in load(provisioning / "datasources" / "flowhealth.yml")["datasources"]}
    prometheus = datasources["prometheus"]
    assert {"name", "type", "access", "url", "uid"} <= set(prometheus)
    assert (prometheus["type"], prometheus["access"], prometheus["isDefault"]) == ("prometheus", "proxy", True)
    url = urlsplit(prometheus["url"])
    assert url.hostname in services and url.port in published(services[url.hostname])
    [provider] = load(provisioning / "dashboards" / "flowhealth.yml")["providers"]
    assert {"name", "type", "options"} <= set(provider) and provider["type"] == "file"
    dashboards_dir = grafana[provider["options"]["path"]]
    assert dashboards_dir == REPO / "dashboards" and any(dashboards_dir.glob("*.json"))
    grafana_url = services["flowhealth"]["environment"]["FLOWHEALTH_GRAFANA_URL"]
    assert urlsplit(grafana_url).port in published(services["grafana"])


def test_the_collector_forwards_otlp_traces_to_flowhealth(compose: dict[str, Any]) -> None:
    services = compose["services"]
    config = load(mounts(services["otel-collector"])["/etc/otelcol/config.yaml"])
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    [exporter] = pipeline["exporters"]
    assert exporter.split("/")[0] == "otlphttp"
    endpoint = urlsplit(config["exporters"][exporter]["traces_endpoint"])
    assert (endpoint.hostname, endpoint.port, endpoint.path) == ("flowhealth", listen_port(compose), "/v1/traces")
    assert {4317, 4318} <= published(services["otel-collector"])
    assert all(p in config["processors"] for p in pipeline["processors"])


EXACT_TAG = re.compile(r"^v?\d+\.\d+\.\d+(-[a-z0-9.]+)*$")
# PostgreSQL numbers its releases major.minor since 10: 16.4 is one exact release.
EXACT_POSTGRES_TAG = re.compile(r"^\d+\.\d+(-[a-z0-9.]+)*$")


def test_every_service_is_healthchecked_restarted_and_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    """So the stack comes up in any order: nothing starts against a dependency that is not ready."""
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        assert check.get("test", [None])[0] == "CMD" and len(check["test"]) > 1, f"{name}: healthcheck"
        assert {"interval", "timeout", "retries", "start_period"} <= set(check), name
        assert service.get("restart") == "unless-stopped", name
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for dependency, condition in depends.items():
            assert dependency in compose["services"], f"{name} -> {dependency}"
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
    assert set(compose["services"]["flowhealth"]["depends_on"]) == {"postgres"}
    health_url = compose["services"]["flowhealth"]["healthcheck"]["test"][-1]
    assert f"127.0.0.1:{listen_port(compose)}/healthz" in health_url


def test_images_are_pinned_to_exact_versions(compose: dict[str, Any]) -> None:
    images = [s["image"] for s in compose["services"].values() if "image" in s]
    base = [line.split()[1] for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("FROM ")]
    assert len(images) == 5 and len(base) == 1
    for image in [*images, *base]:
        name, _, tag = image.rpartition(":")
        exact = EXACT_POSTGRES_TAG if name == "postgres" else EXACT_TAG
        assert exact.match(tag), f"{image}: pin an exact release, not a floating tag"
