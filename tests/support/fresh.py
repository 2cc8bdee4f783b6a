"""Scenarios run in a fresh Python process: forked helpers start only from a process with one thread."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.support.models import REPO


def run_fresh(prelude: str, root: Path, scenario: str) -> dict[str, Any]:
    """Run `prelude` then `scenario` with `root` as argv[1]; the JSON object of its last line of output."""
    script = prelude + textwrap.dedent(scenario)
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=120, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


# Put in a prelude: `kill_helpers()` kills the scenario's forked helpers, as the kernel's OOM killer would.
KILL_HELPERS = """
def kill_helpers():
    me = os.getpid()
    for child in Path(f"/proc/{me}/task/{me}/children").read_text().split():
        os.kill(int(child), signal.SIGKILL)
"""
