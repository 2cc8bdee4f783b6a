"""Write a new model directory, or one more flow into an existing one; never overwrite a file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import FlowHealthError
from .flow_parts import FlowParams
from .templates import TEMPLATES, TemplateName


class ScaffoldError(FlowHealthError):
    """The model cannot be written as asked (a file exists, a name is taken)."""


@dataclass(frozen=True)
class TeamSpec:
    id: str
    slack_channel: str


@dataclass(frozen=True)
class SystemSpec:
    id: str
    kind: str
    owner: str


def _teams_yaml(teams: list[TeamSpec], systems: list[SystemSpec]) -> str:
    lines = ["# Teams own flows and failure modes; each has the Slack channel its alerts go to.", "teams:"]
    for team in teams:
        lines += [f"  {team.id}:", f'    slack_channel: "{team.slack_channel}"', "    escalate_after: 30m"]
    lines += ["", "# Systems take part in flows; kind: erp, commerce, pim, oms, wms, psp, middleware, ...", "systems:"]
    for system in systems:
        lines.append(f"  {system.id}: {{name: {system.id}, kind: {system.kind}, owner: {system.owner}}}")
    return "\n".join(lines) + "\n"


def _plan(root: Path, template: TemplateName, params: FlowParams) -> dict[Path, str]:
    scaffold = TEMPLATES[template].build(params)
    files = {
        root / "flows" / f"{params.flow}.yaml": scaffold.flow_yaml,
        root / "alert_rules" / f"{params.flow}.yaml": scaffold.rules_yaml,
    }
    files.update({root / "runbooks" / f"{name}.md": text for name, text in scaffold.runbooks.items()})
    return files


def _write(files: dict[Path, str]) -> list[Path]:
    taken = [path for path in files if path.exists()]
    if taken:
        raise ScaffoldError(f"{taken[0]} exists already; nothing was written")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def init_model(
    root: Path, teams: list[TeamSpec], systems: list[SystemSpec], template: TemplateName, params: FlowParams
) -> list[Path]:
    """A new model in `root`: teams and systems, one flow from a template, its rules and runbooks."""
    if (root / "flows").is_dir() and any((root / "flows").iterdir()):
        raise ScaffoldError(f"{root / 'flows'} exists already; use `flowhealth add flow` to add to a model")
    files = {root / "flows" / "teams.yaml": _teams_yaml(teams, systems)}
    files.update(_plan(root, template, params))
    return _write(files)


def add_flow(root: Path, template: TemplateName, params: FlowParams) -> list[Path]:
    """One more flow from a template in the model at `root`."""
    return _write(_plan(root, template, params))
