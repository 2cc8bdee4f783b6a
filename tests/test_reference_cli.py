"""`python -m flowhealth.reference`: a real argument parser, so `--help` helps and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _reference(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowhealth.reference", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_help_explains_and_writes_nothing(tmp_path: Path) -> None:
    done = _reference(tmp_path, "--help")
    assert done.returncode == 0
    assert "usage: python -m flowhealth.reference" in done.stdout and "--check" in done.stdout
    assert list(tmp_path.iterdir()) == []  # it once wrote a folder named `--help`


def test_an_unknown_option_is_a_sentence_not_a_folder(tmp_path: Path) -> None:
    done = _reference(tmp_path, "--chek")
    assert done.returncode == 2
    assert "unrecognized arguments: --chek" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_writes_then_checks_a_directory(tmp_path: Path) -> None:
    written = _reference(tmp_path, "out")
    assert written.returncode == 0, written.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "commands.md",
        "metrics.md",
        "model.md",
        "settings.md",
    ]
    assert _reference(tmp_path, "--check", "out").returncode == 0
    (tmp_path / "out/model.md").write_text("edited by hand\n")
    drift = _reference(tmp_path, "--check", "out")
    assert drift.returncode == 1 and "out/model.md: differs from the code" in drift.stderr
