"""Shell completion: the script `flowhealth` prints or installs completes real commands in bash.

Each case starts bash, which runs the installed `flowhealth` for every completion, the way a TAB
does; nothing here calls Typer's completion functions directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _bash(script: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("_FLOWHEALTH_COMPLETE", None)
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120, cwd=home)


def _complete(words: str) -> str:
    """Bash lines that complete `words` (the last one possibly empty) and print the candidates."""
    parts = words.split(" ")
    return (
        f"COMP_WORDS=({' '.join(repr(p) for p in parts)}); COMP_CWORD={len(parts) - 1}; "
        '_flowhealth_completion flowhealth; printf "%s\\n" "${COMPREPLY[@]}"'
    )


def test_show_completion_prints_a_bash_script_that_completes_subcommands(tmp_path: Path) -> None:
    shown = _bash("flowhealth --show-completion", tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "complete -o default -F _flowhealth_completion flowhealth" in shown.stdout
    done = _bash(f'eval "$(flowhealth --show-completion)"; {_complete("flowhealth val")}', tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["validate"]


def test_completion_reaches_nested_commands_and_option_choices(tmp_path: Path) -> None:
    source = 'eval "$(flowhealth --show-completion)"; '
    assert _bash(source + _complete("flowhealth add "), tmp_path).stdout.split() == ["flow"]
    templates = _bash(source + _complete("flowhealth init --template "), tmp_path).stdout.split()
    assert {"order-export", "queue", "checkout-throughput"} <= set(templates)
    brokers = _bash(source + _complete("flowhealth add flow --broker "), tmp_path).stdout.split()
    assert brokers == ["rabbitmq", "redis", "nats"]


def test_install_completion_makes_a_new_bash_complete(tmp_path: Path) -> None:
    installed = _bash("flowhealth --install-completion", tmp_path)
    assert installed.returncode == 0, installed.stderr
    assert "bash completion installed" in installed.stdout
    # What a new terminal does: read ~/.bashrc, which now sources the installed script.
    done = _bash(f"source ~/.bashrc; {_complete('flowhealth probe r')}", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["run"]


def test_a_shell_named_explicitly_works_where_it_cannot_be_detected(tmp_path: Path) -> None:
    # A container entrypoint or CI job has no interactive shell to detect; the shell is named instead.
    script = tmp_path / "flowhealth.bash"
    _bash(f"_FLOWHEALTH_COMPLETE=source_bash flowhealth > {script}", tmp_path)
    done = _bash(f"source {script}; {_complete('flowhealth dash')}", tmp_path)
    assert done.stdout.split() == ["dashboards"]
