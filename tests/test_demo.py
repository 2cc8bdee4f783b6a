"""The demo, run for real as a user runs it: an owner-routed alert fires and resolves."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_demo_fires_and_resolves_an_owner_routed_alert(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowhealth.cli.main",
            "demo",
            "--speed",
            "120",
            "--port",
            "0",
            "--timeout",
            "120",
            "--work-dir",
            str(tmp_path / "demo"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "the ERP stops accepting orders" in out
    firing = out.index("FIRING [CRITICAL]  order-export · order-export-delayed  → #erp-basis @erp-basis-oncall")
    resolved = out.index("RESOLVED  incident #1  order-export  → #erp-basis")
    assert firing < resolved
    fired_block = out[firing:resolved]
    assert "business impact: Paid orders are not picked or shipped" in fired_block
    assert "> threshold 15m" in fired_block
    assert "owner: ERP Basis (SAP operations) (erp-basis)" in fired_block
    assert "runbook: http://localhost:8000/runbooks/order-export-delay" in fired_block
    assert "SO-1" in fired_block  # evidence: the waiting orders by number
    assert "order-export-delayed: Orders are not reaching the ERP" in out[resolved:]
    assert "value at resolve:" in out[resolved:]
    assert "WARNING" not in out + result.stderr
    # After the ERP incident the checkout breaks; only the baseline rule can tell no orders from a quiet hour.
    assert "the shop checkout breaks: no orders come in" in out
    checkout = out.index("FIRING [CRITICAL]  order-intake · orders-below-expected  → #commerce-platform-alerts")
    block = out[checkout : out.index("RESOLVED  incident #2  order-intake")]
    assert "now 0 records per second: -100%" in block
    assert re.search(r"expected [0-9.]+ \(band [0-9.]+-[0-9.]+\)", block), block
    # The demo runs on today's date: a promotion of the reference calendar may be active (Cyber Monday).
    assert re.search(r"4 weeks(, promo [^;]+ active)?; about [0-9,]+ EUR at risk per hour", block), block
    assert out.strip().endswith("2 alert(s) fired, 2 resolved.")


def test_demo_for_prometheus_runs_at_real_speed_serves_the_exported_rules_and_honours_timeout(
    tmp_path: Path,
) -> None:
    """`--prometheus` with `--keep-running --timeout 40`: a real Prometheus started from the printed
    recipe scrapes the demo and loads the exported rules; the demo stops at its timeout."""
    import re
    import time

    import httpx

    from tests.support.otlp import free_port
    from tests.support.services import need_tool

    prometheus = need_tool("prometheus")
    port, web = free_port(), free_port()
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowhealth.cli.main",
            "demo",
            "--prometheus",
            "--keep-running",
            "--timeout",
            "40",
            "--port",
            str(port),
            "--work-dir",
            str(tmp_path / "demo"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    started = time.monotonic()
    assert demo.stdout is not None
    lines = [demo.stdout.readline() for _ in range(5)]
    assert "1x faster than real time" in lines[0]
    command = re.search(r"prometheus (--config\.file=\S+) (--storage\.tsdb\.path=\S+)", "".join(lines))
    assert command is not None, lines
    server = subprocess.Popen(
        [prometheus, *command.groups(), f"--web.listen-address=127.0.0.1:{web}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health: list[str] = []
        rules: dict[str, str] = {}
        while time.monotonic() - started < 36 and not (health == ["up"] and set(rules.values()) == {"ok"}):
            time.sleep(0.5)  # waiting for Prometheus' first scrape and rule evaluation
            try:
                targets = httpx.get(f"http://127.0.0.1:{web}/api/v1/targets", timeout=2).json()
                groups = httpx.get(f"http://127.0.0.1:{web}/api/v1/rules", timeout=2).json()["data"]["groups"]
            except (httpx.HTTPError, ValueError):
                continue
            health = [t["health"] for t in targets["data"]["activeTargets"]]
            rules = {r["name"]: r["health"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
        assert health == ["up"], "Prometheus scrapes the demo"
        assert rules.get("erp-unreachable") == "ok" and set(rules.values()) == {"ok"}
        out, _ = demo.communicate(timeout=40)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(10)
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert 40 <= elapsed < 55, f"--timeout 40 with --keep-running stopped after {elapsed:.0f}s"
    assert "demo finished after" in out
