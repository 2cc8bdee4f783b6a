"""The code stays as clean as we promise: ruff, the formatter and mypy --strict on src/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return str(path)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    result = run(tool("ruff"), "check", "src", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted() -> None:
    result = run(tool("ruff"), "format", "--check", "src", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean_on_src() -> None:
    result = run(tool("mypy"), "src")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(REPO)): n
        for path in (REPO / "src").rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert long == {}, "split these modules by job"


def test_no_alerting_function_is_over_grade_c() -> None:
    pytest.importorskip("radon")
    from radon.complexity import cc_rank, cc_visit

    worse = [
        f"{path.name}:{block.lineno} {block.name} {cc_rank(block.complexity)} ({block.complexity})"
        for path in sorted((REPO / "src" / "flowhealth" / "alerting").glob("*.py"))
        for block in cc_visit(path.read_text())
        if cc_rank(block.complexity) > "C"
    ]
    assert worse == [], "the incident pipeline stays in small stages"
