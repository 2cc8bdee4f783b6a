"""`export prometheus-rules` on a big model writes the tests in a second process: the same files, always.

Each scenario runs in a fresh Python process, which forks a helper only while it has one thread.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from benchmarks.synthetic import write_synthetic_model

from flowhealth import export
from flowhealth.export import ExportLinks, prometheus_files, tests_file
from flowhealth.model.model import Model
from tests.support.models import REPO

RULES = 1_200  # over tests_file.FORK_RULES
LINKS = ExportLinks(public_url="https://flowhealth.example.com", grafana_url="https://grafana.example.com")

PRELUDE = """
import json, os, sys
from pathlib import Path
from flowhealth import export
from flowhealth.export import ExportLinks, prometheus_files, tests_file
from flowhealth.model.files import MiB, ModelLimits
from flowhealth.model.loader import load_model

model = load_model(Path(sys.argv[1]), ModelLimits(file_bytes=64 * MiB, model_bytes=64 * MiB, model_values=10_000_000))
links = ExportLinks(**json.loads(sys.argv[2]))
parent = os.getpid()
started = []

class Counted(tests_file.Child):
    @classmethod
    def start(cls, work):
        child = super().start(work)
        started.append(child is not None)
        return child

tests_file.Child = Counted

def report(files):
    print(json.dumps({"files": files, "helpers": sum(started)}))
"""


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Model]:
    root = tmp_path_factory.mktemp("big")
    return root, write_synthetic_model(root, flows=RULES)


def written_here(model: Model, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(tests_file, "FORK_RULES", 10**9)
    return prometheus_files(model, LINKS)


def run_fresh(root: Path, scenario: str) -> dict[str, str]:
    """The files the scenario exported, in a process that started one helper."""
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(scenario), str(root), json.dumps(dataclasses.asdict(LINKS))],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["helpers"] == 1, "no helper process was started"
    files: dict[str, str] = found["files"]
    return files


def test_the_tests_written_by_the_helper_are_the_tests_written_here(
    big: tuple[Path, Model], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, model = big
    files = run_fresh(root, "report(prometheus_files(model, links))")
    expected = written_here(model, monkeypatch)
    assert list(files) == list(expected)
    assert files == expected
    assert files[export.TESTS_FILE].count("alertname:") >= RULES


def test_a_helper_that_fails_midway_loses_nothing(big: tuple[Path, Model], monkeypatch: pytest.MonkeyPatch) -> None:
    root, model = big
    files = run_fresh(
        root,
        """
        real = tests_file.promtool_cases
        def failing_in_the_helper(*args, **kwargs):
            if os.getpid() != parent:
                os._exit(3)  # as a child killed mid-way
            return real(*args, **kwargs)
        tests_file.promtool_cases = failing_in_the_helper
        report(prometheus_files(model, links))
        """,
    )
    assert files == written_here(model, monkeypatch)


def test_a_part_the_fast_writer_leaves_to_pyyaml_makes_the_whole_file_be_written_here(
    big: tuple[Path, Model], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyYAML could anchor an object shared by both parts; only one writer over the whole file may decide."""
    root, model = big
    files = run_fresh(
        root,
        """
        from flowhealth.export.yamlwriter import Unsupported
        real = tests_file.dump_block
        def refusing_the_tail(document):
            if list(document) == ["tests"]:
                raise Unsupported("as for a string over 4,000 characters")
            return real(document)
        tests_file.dump_block = refusing_the_tail
        report(prometheus_files(model, links))
        """,
    )
    assert files == written_here(model, monkeypatch)
