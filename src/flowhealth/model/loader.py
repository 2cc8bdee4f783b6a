"""Load a model directory: parse, validate the schema, check cross-references, all or nothing."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ModelError, ModelIssue
from .contracts import LoadedContract, load_contract
from .crossref import check_references
from .files import FileBudget, ModelLimits, display, model_files
from .model import Model
from .parse_ahead import ParseAhead
from .rules_file import RULE_TAGS, RulesFile
from .runbooks import Runbook, parse_runbook
from .schema import FlowsFile
from .suggest import did_you_mean
from .yamlsource import SourceDoc, dotted, load_yaml

FLOWS_DIR, RULES_DIR, RUNBOOKS_DIR = "flows", "alert_rules", "runbooks"
# Nobody reads past the first screenful; a generated file with 100,000 mistakes must not take
# minutes to locate each of them.
MAX_ISSUES_PER_FILE = 50


def _validate(doc: SourceDoc, schema: type[BaseModel], data: Any) -> tuple[Any, list[ModelIssue]]:
    try:
        return schema.model_validate(data), []
    except ValidationError as exc:
        issues = []
        for error in exc.errors(include_url=False)[:MAX_ISSUES_PER_FILE]:
            loc = _clean_loc(error["loc"])
            message = _friendly(error)
            issues.append(ModelIssue(doc.path, doc.line_of(loc), dotted(loc), message))
        more = exc.error_count() - len(issues)
        if more > 0:
            last = max(issue.line for issue in issues)
            issues.append(ModelIssue(doc.path, last, "", f"and {more:,} more problems in this file (not listed)"))
        return None, issues


def _validate_items(doc: SourceDoc, schema: type[BaseModel], collector: _Collector) -> None:
    """Validate each definition on its own, so one broken flow hides neither the others nor their references."""
    if not isinstance(doc.data, dict):
        collector.issues.append(
            ModelIssue(doc.path, 1, "", f"expected a mapping with keys {sorted(schema.model_fields)}")
        )
        return
    found: list[ModelIssue] = []
    for section, items in doc.data.items():
        if not isinstance(items, dict) or section not in schema.model_fields:
            _, issues = _validate(doc, schema, {section: items})  # unknown section or not a mapping
            found.extend(issues)
            continue
        for name, item in items.items():
            parsed, issues = _validate(doc, schema, {section: {name: item}})
            if parsed is None:
                found.extend(issues)
                collector.broken.add((str(section), str(name)))
                continue
            collector.add(doc, section, getattr(parsed, section))
    collector.issues.extend(_capped(doc, found))


def _capped(doc: SourceDoc, issues: list[ModelIssue]) -> list[ModelIssue]:
    """At most MAX_ISSUES_PER_FILE problems of one file, then how many more there are."""
    listed = [i for i in issues if i.field or not i.message.startswith("and ")]
    if len(listed) <= MAX_ISSUES_PER_FILE:
        return issues
    shown = listed[:MAX_ISSUES_PER_FILE]
    more = len(listed) - len(shown)
    last = max(issue.line for issue in shown)
    return [*shown, ModelIssue(doc.path, last, "", f"and {more:,} more problems in this file (not listed)")]


# Fields whose value is a union tagged by `kind`: pydantic puts the tag into the location.
_TAGGED_FIELDS = frozenset({"probe", "source", "target", "evidence"})
_TAGS = frozenset(
    {
        "sql",
        "push",
        "http",
        "rabbitmq",
        "redis",
        "nats",
        "reconcile",
        "contract",
        "prometheus",
        "interventions",
        "trace",
    }
)

_RECEIVER_TAGS = frozenset({"pagerduty", "teams", "webhook", "email"})


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's validator names and union tags, leaving the path as written in YAML."""
    cleaned: list[str | int] = []
    previous: str | int | None = None
    before: str | int | None = None
    for i, part in enumerate(loc):
        skip = isinstance(part, str) and "[" in part
        # ("rules", "x", "baseline", "for") -> ("rules", "x", "for"): the rule kind is no key either.
        skip = skip or (i == 2 and loc[0] == "rules" and part in RULE_TAGS)
        # ("probe", "sql", "query") -> ("probe", "query"): the tag is not a key in the file.
        skip = skip or (previous in _TAGGED_FIELDS and part in _TAGS)
        # ("receivers", "pager", "pagerduty", "routing_key"): a map of tagged unions.
        skip = skip or (before == "receivers" and part in _RECEIVER_TAGS)
        before, previous = previous, part
        if not skip:
            cleaned.append(part)
    return tuple(cleaned)


@cache
def schema_keys() -> frozenset[str]:
    """Every key any model file may hold, for suggestions on an unknown one."""
    keys: set[str] = set()

    def walk(model: type[BaseModel]) -> None:
        for name, info in model.model_fields.items():
            keys.add(info.alias or name)
            for arg in _models_in(info.annotation):
                if arg.__name__ not in seen:
                    seen.add(arg.__name__)
                    walk(arg)

    seen: set[str] = set()
    walk(FlowsFile)
    walk(RulesFile)
    return frozenset(keys)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _friendly(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = error["loc"][-1] if error["loc"] else ""
        # A key valid elsewhere (a `query` on an http probe) gets no suggestion of itself.
        return "unknown key" + did_you_mean(str(key), schema_keys() - {str(key)})
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in ("literal_error", "enum") and isinstance(error.get("input"), str):
        expected = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        message += did_you_mean(error["input"], expected)
    return message


class _Collector:
    """Accumulates definitions from many files, remembering where each came from."""

    def __init__(self) -> None:
        self.sections: dict[str, dict[str, Any]] = {
            name: {}
            for name in ("teams", "systems", "connections", "flows", "maintenance_windows", "calendars", "rules")
        }
        self.origin: dict[tuple[str, str], tuple[SourceDoc, tuple[str, ...]]] = {}
        self.issues: list[ModelIssue] = []
        # Names declared in files that failed their schema: they exist, just not validly, so
        # references to them are not reported a second time as unknown.
        self.broken: set[tuple[str, str]] = set()

    def add(self, doc: SourceDoc, section: str, items: dict[str, Any]) -> None:
        for name, item in items.items():
            key = (section, name)
            if key in self.origin:
                first, _ = self.origin[key]
                self.issues.append(
                    ModelIssue(
                        doc.path,
                        doc.line_of((section, name)),
                        f"{section}.{name}",
                        f"defined twice (first in {first.path}:{first.line_of((section, name))})",
                    )
                )
                continue
            self.origin[key] = (doc, (section, name))
            self.sections[section][name] = item


def _contracts(root: Path, collector: _Collector) -> dict[str, LoadedContract]:
    """Each flow's contract with its schema and example files read and checked."""
    out: dict[str, LoadedContract] = {}
    for flow_id, flow in collector.sections["flows"].items():
        if flow.contract is None:
            continue
        doc, base = collector.origin[("flows", flow_id)]
        at = (*base, "contract")
        keys = ["schema", "example", "redact", *(f"redact.{i}" for i in range(len(flow.contract.redact)))]
        lines = {k: doc.line_of((*at, *(int(p) if p.isdigit() else p for p in k.split(".")))) for k in keys}
        loaded, issues = load_contract(root, flow_id, flow.contract, (doc.path, doc.line_of(at)), lines)
        collector.issues.extend(issues)
        if loaded is not None:
            out[flow_id] = loaded
    return out


def yaml_files(root: Path) -> list[tuple[Path, str, type[FlowsFile] | type[RulesFile]]]:
    """The model's YAML files in the order they are loaded: (path, as shown, what it holds)."""
    return [
        (path, display(path, root), schema)
        for directory, schema in ((FLOWS_DIR, FlowsFile), (RULES_DIR, RulesFile))
        for path in model_files(root / directory, (".yaml", ".yml"), root)
    ]


def load_model(root: Path, limits: ModelLimits | None = None, ahead: ParseAhead | None = None) -> Model:
    """Load flows/, alert_rules/ and runbooks/ under `root`; raise ModelError listing every issue.

    `ahead`, started by the caller on every file, has parsed them meanwhile. Without it, a child
    parses the files after the first while this process parses and validates the first, and so on.
    """
    root = Path(root)
    collector = _Collector()
    limits = limits or ModelLimits()
    budget = FileBudget(limits)
    if not (root / FLOWS_DIR).is_dir():
        raise ModelError([ModelIssue(str(root), 1, "", f"no {FLOWS_DIR}/ directory: is this a flowhealth model?")])
    files = yaml_files(root)
    helper = ahead or ParseAhead.start([(path, shown) for path, shown, _ in files[1:]], limits)
    try:
        for path, shown, schema in files:
            doc, issues = load_yaml(path, shown, budget, helper)
            collector.issues.extend(issues)
            if doc is not None:
                _validate_items(doc, schema, collector)
    finally:
        if helper is not None:
            helper.close()
    runbooks: dict[str, Runbook] = {}
    for path in model_files(root / RUNBOOKS_DIR, (".md",), root, recursive=False):
        if path.name.lower() != "readme.md":
            runbook, issues = parse_runbook(path, display(path, root), budget)
            collector.issues.extend(issues)
            if runbook is not None:
                runbooks[runbook.id] = runbook
    contracts = _contracts(root, collector)
    model = Model(
        contracts=contracts,
        teams=collector.sections["teams"],
        systems=collector.sections["systems"],
        connections=collector.sections["connections"],
        flows=collector.sections["flows"],
        rules=collector.sections["rules"],
        runbooks=runbooks,
        maintenance_windows=collector.sections["maintenance_windows"],
        calendars=collector.sections["calendars"],
    )
    collector.issues.extend(check_references(model, collector.origin, collector.broken))
    if collector.issues:
        raise ModelError(collector.issues)
    return model
