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
    assert re.search(r"4 weeks; about [0-9,]+ EUR at risk per hour", block), block
    assert out.strip().endswith("2 alert(s) fired, 2 resolved.")
