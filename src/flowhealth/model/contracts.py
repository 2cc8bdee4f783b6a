"""Payload contracts: the schema and example files a flow's contract names, loaded and checked
with the model, and the two things done with a payload: validate it and redact it.

Violations are counted by field and reason, both from closed sets so they can be metric labels:
the field is the schema path with list positions folded (`lines[].sku`), the reason the JSON
Schema keyword that failed (`required`, `type`, `format`, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelIssue
from .facts import Contract
from .yamlsource import SourceDoc, load_yaml

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

REDACTED = "[redacted]"
ROOT = "$"


@dataclass(frozen=True)
class Violation:
    """One way a payload breaks its contract."""

    field: str
    reason: str
    message: str


@dataclass(frozen=True)
class LoadedContract:
    """A flow's contract with its files read: what probes and span ingestion validate against."""

    flow: str
    spec: Contract
    schema: dict[str, Any] | None
    example: Any = None
    validator: Validator | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """Name and version, the way alerts and the evidence pack name the contract."""
        return f"{self.spec.name} v{self.spec.version}"

    def violations(self, payload: Any) -> list[Violation]:
        """Each (field, reason) the payload breaks, once; [] when it conforms (or there is no schema)."""
        if self.validator is None:
            return []
        found: dict[tuple[str, str], Violation] = {}
        for error in self.validator.iter_errors(payload):
            for v in _violations_of(error, self.spec.redact):
                found.setdefault((v.field, v.reason), v)
        return sorted(found.values(), key=lambda v: (v.field, v.reason))

    def redact(self, payload: Any) -> Any:
        """A copy of the payload with every declared field replaced by a marker."""
        return redact(payload, self.spec.redact)


def field_path(parts: Iterable[str | int]) -> str:
    """`lines[].sku` from ("lines", 0, "sku"): positions fold so the label set stays closed."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += "[]"
        else:
            out += f".{part}" if out else str(part)
    return out or ROOT


def _under(path: str, redacted: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r + ".") or path.startswith(r + "[]") for r in redacted)


def _violations_of(error: ValidationError, redacted: list[str]) -> list[Violation]:
    reason = str(error.validator)
    parent = list(error.absolute_path)
    if reason == "required" and isinstance(error.instance, dict) and isinstance(error.validator_value, list):
        missing = [str(name) for name in error.validator_value if name not in error.instance]
        return [Violation(field_path([*parent, name]), reason, f"'{name}' is missing") for name in missing]
    path = field_path(parent)
    # jsonschema quotes the offending value in its message: never for a redacted field.
    message = f"breaks '{reason}'" if _under(path, redacted) else error.message
    return [Violation(path, reason, message[:300])]


def redact(payload: Any, paths: Iterable[str]) -> Any:
    """Replace the value at each dotted path (`a.b`, `lines[].name`) with a marker, in a copy."""
    out = copy.deepcopy(payload)
    for path in paths:
        _redact(out, path.replace("[]", ".[]").split("."))
    return out


def _redact(node: Any, parts: list[str]) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if isinstance(node, list):
            for i, item in enumerate(node):
                if rest:
                    _redact(item, rest)
                else:
                    node[i] = REDACTED
        return
    if isinstance(node, dict) and head in node:
        if rest:
            _redact(node[head], rest)
        else:
            node[head] = REDACTED


def _in_repository(root: Path, name: str) -> Path | None:
    path = (root / name).resolve()
    return path if path.is_relative_to(root.resolve()) else None


def _read(root: Path, name: str, where: tuple[str, int, str]) -> tuple[SourceDoc | None, list[ModelIssue]]:
    display, line, field_name = where
    path = _in_repository(root, name)
    if path is None:
        return None, [ModelIssue(display, line, field_name, f"'{name}' is outside the model directory")]
    if not path.is_file():
        return None, [ModelIssue(display, line, field_name, f"file '{name}' does not exist")]
    # YAML is a superset of JSON: one reader gives JSON files line numbers too.
    return load_yaml(path, name)


def _schema_has(schema: Any, parts: list[str]) -> bool | None:
    """Whether the schema declares the path; None when it cannot tell ($ref, combinators)."""
    node = schema
    for part in parts:
        if not isinstance(node, dict):
            return None
        if part == "[]":
            if "items" not in node:
                return None if node.get("type") != "object" else False
            node = node["items"]
            continue
        props = node.get("properties")
        if not isinstance(props, dict):
            return None
        if part not in props:
            return None if node.get("additionalProperties", True) is not False and _open(node) else False
        node = props[part]
    return True


def _open(node: dict[str, Any]) -> bool:
    # A schema with combinators or references may declare the field elsewhere.
    return any(k in node for k in ("$ref", "allOf", "anyOf", "oneOf", "patternProperties"))


def load_contract(
    root: Path, flow: str, spec: Contract, where: tuple[str, int], line_of: dict[str, int]
) -> tuple[LoadedContract | None, list[ModelIssue]]:
    """Read and check a contract's files; `where` is the flow file and line, `line_of` per contract key."""
    # Only a model with contracts pays for jsonschema (0.1-0.2 s of imports).
    from jsonschema import FormatChecker
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    display, _ = where
    base = f"flows.{flow}.contract"
    issues: list[ModelIssue] = []
    schema: dict[str, Any] | None = None
    validator: Validator | None = None
    if spec.schema_file is not None:
        doc, found = _read(root, spec.schema_file, (display, line_of["schema"], f"{base}.schema"))
        issues += found
        if doc is not None:
            if not isinstance(doc.data, dict):
                issues.append(ModelIssue(doc.path, 1, "", "a JSON Schema must be an object"))
            else:
                cls = validator_for(doc.data)
                try:
                    cls.check_schema(doc.data)
                    schema = doc.data
                    validator = cls(doc.data, format_checker=FormatChecker())
                except SchemaError as exc:
                    at = tuple(exc.path)
                    issues.append(
                        ModelIssue(doc.path, doc.line_of(at), field_path(at), f"invalid JSON Schema: {exc.message}")
                    )
    example: Any = None
    if spec.example is not None:
        doc, found = _read(root, spec.example, (display, line_of["example"], f"{base}.example"))
        issues += found
        if doc is not None:
            example = doc.data
            if validator is not None:
                for error in sorted(validator.iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path))):
                    at = tuple(error.absolute_path)
                    message = f"the example breaks contract {spec.name} v{spec.version}: {error.message}"
                    issues.append(ModelIssue(doc.path, doc.line_of(at), field_path(at), message))
    if schema is not None:
        for i, path in enumerate(spec.redact):
            if _schema_has(schema, path.replace("[]", ".[]").split(".")) is False:
                line = line_of.get(f"redact.{i}", line_of["redact"])
                issues.append(
                    ModelIssue(display, line, f"{base}.redact[{i}]", f"field '{path}' is not in {spec.schema_file}")
                )
    if issues:
        return None, issues
    return LoadedContract(flow, spec, schema, example, validator), []
