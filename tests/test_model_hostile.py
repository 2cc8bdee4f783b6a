"""Hostile model directories: each is a located error (or a warned skip) within seconds, never a traceback.

The corpus is what an outside attack sent: recursive aliases, "billion laughs", a 50 MB file,
special files (FIFO, /dev/zero, symlink loops, dangling links), deep nesting, unicode in every
name. Each case runs through `flowhealth validate` as a user would, beside the valid reference
deployment, so the error must name the file and the line, and the rest of the model still loads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowhealth.errors import ModelError
from flowhealth.model import load_model
from flowhealth.model.files import MiB, ModelLimits
from tests.support.models import copy_reference

REPO = Path(__file__).resolve().parent.parent

# The issue's bound; the cases below take well under a second on an idle machine.
BOUND_SECONDS = 5.0


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    copy_reference(tmp_path)
    return tmp_path


def laughs(levels: int, fan: int, mapping: bool = False) -> str:
    """The classic billion-laughs document: each level repeats the one before `fan` times."""
    lines = [f"l0: &l0 {'{a: lol}' if mapping else '[lol, lol]'}"]
    for level in range(1, levels):
        refs = ", ".join(f"k{i}: *l{level - 1}" if mapping else f"*l{level - 1}" for i in range(fan))
        lines.append(f"l{level}: &l{level} {'{' + refs + '}' if mapping else '[' + refs + ']'}")
    return "\n".join(lines) + "\n"


def validate(model_dir: Path) -> tuple[int, str, float]:
    from flowhealth.cli.main import app

    started = time.monotonic()
    result = CliRunner().invoke(app, ["validate", str(model_dir)])
    elapsed = time.monotonic() - started
    output = result.output  # stdout and stderr, as a terminal shows them
    # A crash inside the command surfaces as result.exception; SystemExit is the normal way out.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    return result.exit_code, output, elapsed


HOSTILE: dict[str, tuple[str, str | bytes, str]] = {
    # name: (file, content, expected "path:line: field: message" fragment)
    "recursive alias": ("flows/evil.yaml", "teams: &t {loop: *t}\n", "flows/evil.yaml:1: teams.loop: recursive alias"),
    "recursive alias in a list": (
        "flows/evil.yaml",
        "teams:\n  a: &x\n    - 1\n    - *x\n",
        # PyYAML resolves an alias to its anchor's node: the line is the anchor's, the path the alias's.
        "flows/evil.yaml:2: teams.a[1]: recursive alias",
    ),
    "billion laughs (lists)": (
        "flows/evil.yaml",
        laughs(10, 10),
        "aliases expand to more than 10,000 values",
    ),
    "billion laughs (mappings)": (
        "alert_rules/evil.yaml",
        laughs(9, 12, mapping=True),
        "aliases expand to more than 10,000 values",
    ),
    "deep nesting (block)": (
        "flows/evil.yaml",
        "".join("  " * depth + f"k{depth}:\n" for depth in range(200)) + "  " * 200 + "v\n",
        "nested more than 64 levels deep",
    ),
    "deep nesting (flow)": (
        "flows/evil.yaml",
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "flows/evil.yaml:1: invalid YAML",
    ),
    "impossible date": ("flows/evil.yaml", "teams:\n  t:\n    since: 2026-13-45\n", "flows/evil.yaml:3: teams.t.since"),
    "int beyond Python's limit": ("flows/evil.yaml", "teams:\n  t: " + "9" * 5000 + "\n", "flows/evil.yaml:2: teams.t"),
    "not UTF-8": ("flows/evil.yaml", b"teams:\n  t: \xff\xfe\n", "flows/evil.yaml:2: not UTF-8"),
    "too many values": (
        "flows/evil.yaml",
        "teams:\n" + "".join(f"  - {i}\n" for i in range(100_001)),
        "flows/evil.yaml:1: the model has more than its limit of 100,000 values",
    ),
    "unicode names": (
        "flows/evil.yaml",
        "teams:\n  tëam-ü:\n    slack_channel: '#ops'\nsystems:\n  シ:\n    name: x\nflows:\n  🚚:\n    description: x\n",
        "flows/evil.yaml:2: teams.tëam-ü",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_is_a_located_error_within_seconds(model_dir: Path, case: str) -> None:
    name, content, expected = HOSTILE[case]
    path = model_dir / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    code, output, elapsed = validate(model_dir)
    assert code == 1, output
    assert expected in output, output
    assert elapsed < BOUND_SECONDS


def test_fifty_megabyte_file_names_the_file_and_the_limit(model_dir: Path) -> None:
    with (model_dir / "flows/huge.yaml").open("wb") as handle:
        handle.truncate(50 * MiB)  # sparse: cheap to make, still 50 MB to read
    code, output, elapsed = validate(model_dir)
    assert code == 1
    assert "flows/huge.yaml:1: file is larger than the limit of 1 MiB (FLOWHEALTH_MODEL_MAX_FILE_BYTES)" in output
    assert elapsed < BOUND_SECONDS


def test_many_files_stop_at_the_model_limit(model_dir: Path) -> None:
    for i in range(6):
        (model_dir / f"flows/bulk{i}.yaml").write_text("# padding\n" * (100_000 - 1) + "teams: {}\n")
    with pytest.raises(ModelError) as caught:
        load_model(model_dir, ModelLimits(file_bytes=MiB, model_bytes=4 * MiB))
    messages = {issue.path: issue.message for issue in caught.value.issues}
    assert "larger than its limit of 4 MiB in all (FLOWHEALTH_MODEL_MAX_BYTES)" in messages["flows/bulk5.yaml"]
    assert "flows/bulk0.yaml" not in messages


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _loop(path: Path) -> None:
    path.symlink_to(path.name)


def _dangling(path: Path) -> None:
    path.symlink_to("nowhere.yaml")


def _dir_loop(path: Path) -> None:
    path.symlink_to("..")


SPECIAL: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "fifo": (_fifo, "flows/pipe.yaml", "a FIFO"),
    "/dev/zero": (_dev_zero, "flows/zero.yaml", "a character device"),
    "symlink loop": (_loop, "flows/loop.yaml", "a dangling symlink or symlink loop"),
    "dangling symlink": (_dangling, "flows/gone.yaml", "a dangling symlink or symlink loop"),
    "directory symlink loop": (_dir_loop, "flows/up", "a symlink to a directory (not followed)"),
    "runbook fifo": (_fifo, "runbooks/pipe.md", "a FIFO"),
}


@pytest.mark.parametrize("case", sorted(SPECIAL))
def test_special_files_are_skipped_with_a_warning(model_dir: Path, case: str, caplog: pytest.LogCaptureFixture) -> None:
    make, name, reason = SPECIAL[case]
    make(model_dir / name)
    started = time.monotonic()
    model = load_model(model_dir)  # the rest of the model still loads
    assert time.monotonic() - started < BOUND_SECONDS
    assert "order-export" in model.flows
    assert f"{name}: skipped: {reason}" in caplog.messages


def test_validate_prints_the_skip_warning(model_dir: Path) -> None:
    _fifo(model_dir / "flows/pipe.yaml")
    code, output, _ = validate(model_dir)
    assert code == 0
    assert "warning: flows/pipe.yaml: skipped: a FIFO" in output


def test_a_symlink_to_a_regular_file_is_read(model_dir: Path) -> None:
    (model_dir / "shared.yaml").write_text("teams: {'': {}}\n")
    (model_dir / "flows/shared.yaml").symlink_to(model_dir / "shared.yaml")
    with pytest.raises(ModelError) as caught:
        load_model(model_dir)
    assert any(issue.path == "flows/shared.yaml" for issue in caught.value.issues)


def test_a_generated_file_with_thousands_of_mistakes_lists_fifty(model_dir: Path) -> None:
    (model_dir / "flows/generated.yaml").write_text(
        "flows:\n" + "".join(f"  f{i}: {{description: x}}\n" for i in range(2000))
    )
    with pytest.raises(ModelError) as caught:
        load_model(model_dir)
    issues = [i for i in caught.value.issues if i.path == "flows/generated.yaml"]
    assert len(issues) == 51
    assert any("more problems in this file (not listed)" in i.message for i in issues)
