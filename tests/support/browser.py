"""A real headless Chromium (Debian's `chromium`) driven by Playwright; never `playwright install`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.services import need, need_tool

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched browser; skips (or fails under FLOWHEALTH_REQUIRE_SERVICES=1) without chromium."""
    path = need_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def artifacts_dir(name: str) -> Path:
    """Where a test keeps its screenshots (printed, so a person can look); never in the repository."""
    root = Path(os.environ.get("FLOWHEALTH_ARTIFACTS", Path(tempfile.gettempdir()) / "flowhealth-artifacts"))
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder


def axe_source() -> Path:
    """axe-core's axe.min.js as the `axe-playwright-python` test dependency ships it."""
    try:
        import axe_playwright_python
    except ImportError:
        axe_playwright_python = None
    path = Path(axe_playwright_python.__file__).parent / "axe.min.js" if axe_playwright_python else None
    need(path is not None and path.is_file(), "axe-core (pip install 'flowhealth[test]' brings axe-playwright-python)")
    assert path is not None
    return path


def serious_violations(page: Any) -> list[str]:
    """axe-core run on the page as it stands: the serious and critical violations, one line each."""
    page.add_script_tag(path=str(axe_source()))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
