"""Every YAML snippet in README.md and docs/ is a valid piece of a model, so the docs cannot drift.

A snippet with model sections (teams, systems, connections, flows, maintenance_windows, rules)
is merged into a copy of the reference deployment: definitions of the same name are deep-merged
(so an excerpt like `flows: {order-export: {signals: ...}}` adds to the real flow), new ones are
added; the result must load with no problem, schema and cross-references alike. Any other YAML
(a collector or compose file) must parse and must not look like a model fragment. The reference
docs under docs/reference/ are generated; they must match the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from flowhealth.cli.main import app
from flowhealth.errors import ModelError
from flowhealth.model import load_model
from flowhealth.model.rules_file import RulesFile
from flowhealth.model.schema import FlowsFile
from flowhealth.reference import reference_files
from tests.support.models import copy_reference

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
FLOW_SECTIONS = frozenset(FlowsFile.model_fields)
RULE_SECTIONS = frozenset(RulesFile.model_fields)
# Keys that belong inside a model file: a snippet starting with one is a fragment nobody can paste.
FRAGMENT_KEYS = frozenset({"signals", "probe", "signal", "flow", "rule", "team", "system", "connection"})
_BLOCK = re.compile(r"^```(ya?ml|markdown)\n(.*?)^```", re.DOTALL | re.MULTILINE)
_RUNBOOK = re.compile(r"^<!-- (runbooks/[a-z0-9_-]+\.md) -->\n")
# A tutorial step ("... in the model `flowhealth init` wrote") builds on `flowhealth init`'s model
# and on the steps before it in the same file, runbooks (Markdown blocks) included.
_AFTER_INIT = "flowhealth init"


@dataclass(frozen=True)
class Snippet:
    where: str
    text: str
    steps_before: tuple[tuple[str, str], ...]  # (language, text) of earlier tutorial steps


def _snippets() -> list[Snippet]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        # Runbooks of the tutorial exist for every step: a rule and its runbook are one change.
        steps: list[tuple[str, str]] = [
            ("markdown", m.group(2)) for m in _BLOCK.finditer(text) if _RUNBOOK.match(m.group(2))
        ]
        for match in _BLOCK.finditer(text):
            language, body = match.group(1), match.group(2)
            tutorial = _AFTER_INIT in body.split("\n", 1)[0] or bool(_RUNBOOK.match(body))
            if language != "markdown":
                line = text.count("\n", 0, match.start()) + 1
                found.append(Snippet(f"{path.relative_to(REPO)}:{line}", body, tuple(steps) if tutorial else ()))
            if tutorial and language != "markdown":
                steps.append((language, body))
    return found


SNIPPETS = _snippets()


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        current = into.get(key)
        # A probe of another kind replaces the old one instead of mixing their keys.
        if (
            isinstance(value, dict)
            and isinstance(current, dict)
            and value.get("kind", current.get("kind")) == current.get("kind")
        ):
            _merge(current, value)
        else:
            into[key] = value


def _merge_into(root: Path, snippet: dict[str, Any]) -> None:
    files = {p: yaml.safe_load(p.read_text()) or {} for p in sorted((root / "flows").glob("*.yaml"))}
    files.update({p: yaml.safe_load(p.read_text()) or {} for p in sorted((root / "alert_rules").glob("*.yaml"))})
    extra_flows: dict[str, Any] = {}
    extra_rules: dict[str, Any] = {}
    for section, items in snippet.items():
        for name, item in (items or {}).items():
            home = next((data for data in files.values() if name in (data.get(section) or {})), None)
            if home is not None and isinstance(item, dict):
                _merge(home[section][name], item)
            else:
                target = extra_rules if section in RULE_SECTIONS else extra_flows
                target.setdefault(section, {})[name] = item
    for path, data in files.items():
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    if extra_flows:
        (root / "flows/zz-docs.yaml").write_text(yaml.safe_dump(extra_flows))
    if extra_rules:
        (root / "alert_rules/zz-docs.yaml").write_text(yaml.safe_dump(extra_rules))


def _base(root: Path, snippet: Snippet) -> None:
    """The reference deployment, or for a tutorial step the model `flowhealth init` writes plus earlier steps."""
    if _AFTER_INIT not in snippet.text.split("\n", 1)[0]:
        copy_reference(root)
        return
    result = CliRunner().invoke(app, ["init", str(root), "--no-interactive"])
    assert result.exit_code == 0, result.output
    for language, body in snippet.steps_before:
        runbook = _RUNBOOK.match(body)
        if language == "markdown" and runbook:
            (root / runbook.group(1)).write_text(body[runbook.end() :])
        elif language != "markdown":
            _merge_into(root, yaml.safe_load(body))


def test_the_docs_have_snippets() -> None:
    assert len(SNIPPETS) >= 5


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.where for s in SNIPPETS])
def test_snippet_is_valid(snippet: Snippet, tmp_path: Path) -> None:
    where = snippet.where
    data = yaml.safe_load(snippet.text)
    assert isinstance(data, dict), f"{where}: a YAML snippet should be a mapping"
    keys = set(data)
    if not keys & (FLOW_SECTIONS | RULE_SECTIONS):
        assert not keys & FRAGMENT_KEYS, (
            f"{where}: a model fragment ({sorted(keys)}); show it inside its file's sections"
        )
        return
    unknown = keys - FLOW_SECTIONS - RULE_SECTIONS
    assert not unknown, f"{where}: not sections of a model file: {sorted(unknown)}"
    _base(tmp_path, snippet)
    _merge_into(tmp_path, data)
    try:
        load_model(tmp_path)
    except ModelError as exc:
        pytest.fail(f"{where}: the snippet does not validate:\n{exc}")


@pytest.mark.parametrize(("name", "content"), sorted(reference_files().items()))
def test_the_generated_reference_matches_the_code(name: str, content: str) -> None:
    path = REPO / "docs/reference" / name
    assert path.is_file() and path.read_text(encoding="utf-8") == content, (
        f"docs/reference/{name} differs from the code: run `python -m flowhealth.reference` and commit it"
    )
