"""Runbooks are Markdown with required ``##`` sections, as the operating model asks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelIssue
from .files import FileBudget, read_text

REQUIRED_SECTIONS = (
    "owner",
    "business impact",
    "likely causes",
    "recovery steps",
    "escalation path",
)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Runbook:
    """A parsed runbook: its title and its sections by lower-cased heading."""

    id: str
    path: str
    title: str
    text: str
    sections: dict[str, str] = field(default_factory=dict)
    section_lines: dict[str, int] = field(default_factory=dict)


def parse_runbook(
    path: Path, display: str, budget: FileBudget | None = None
) -> tuple[Runbook | None, list[ModelIssue]]:
    """Read a runbook; report each required section that is missing or empty."""
    text, problems = read_text(path, display, budget)
    if text is None:
        return None, problems
    title = path.stem
    sections: dict[str, list[str]] = {}
    lines_of: dict[str, int] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1 and title == path.stem:
            title = match.group(2)
            current = None
            continue
        if match and len(match.group(1)) == 2:
            current = match.group(2).strip().lower()
            sections.setdefault(current, [])
            lines_of.setdefault(current, number)
            continue
        if current is not None:
            sections[current].append(line)
    bodies = {name: "\n".join(lines).strip() for name, lines in sections.items()}
    issues = []
    for required in REQUIRED_SECTIONS:
        if required not in bodies:
            issues.append(ModelIssue(display, 1, required, f"runbook has no '## {required.title()}' section"))
        elif not bodies[required]:
            issues.append(
                ModelIssue(
                    display,
                    lines_of[required],
                    required,
                    f"runbook section '## {required.title()}' is empty",
                )
            )
    runbook = Runbook(path.stem, display, title, text, bodies, lines_of)
    return runbook, issues


_STEP = re.compile(r"^\s*(\d+)[.)]\s+(.*)$")


def recovery_steps(runbook: Runbook) -> list[str]:
    """The numbered steps of the Recovery steps section, in order (continuation lines joined)."""
    steps: list[str] = []
    for line in runbook.sections.get("recovery steps", "").splitlines():
        match = _STEP.match(line)
        if match:
            steps.append(match.group(2).strip())
        elif steps and line.strip() and line.startswith((" ", "\t")):
            steps[-1] += " " + line.strip()
    return steps
