"""A file under alert_rules/: fixed-threshold rules and baseline rules side by side in ``rules:``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag

from .base import Ident, Strict
from .baseline_rule import BaselineRule
from .schema import AlertRule

# Tags pydantic puts into error locations; the loader removes them so errors name the YAML path.
RULE_TAGS = frozenset({"static", "baseline"})


def _rule_kind(value: Any) -> str:
    # A rule with a `baseline:` block is a baseline rule; everything else has a fixed threshold.
    if isinstance(value, BaselineRule) or (isinstance(value, dict) and "baseline" in value):
        return "baseline"
    return "static"


AnyRule = Annotated[
    Annotated[AlertRule, Tag("static")] | Annotated[BaselineRule, Tag("baseline")],
    Discriminator(_rule_kind),
]


class RulesFile(Strict):
    """A file under alert_rules/."""

    rules: dict[Ident, AnyRule] = Field(default_factory=dict)
