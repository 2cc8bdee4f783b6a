"""What every template shares: its parameters, its output, and the YAML pieces it writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .sqlhelpers import Database


class Queue(StrEnum):
    """Brokers the queue template measures."""

    RABBITMQ = "rabbitmq"
    REDIS = "redis"
    NATS = "nats"


@dataclass(frozen=True)
class FlowParams:
    """What a template needs to know; `init` and `add flow` ask for it or take it from flags."""

    flow: str
    owner: str
    source: str
    target: str
    connection: str
    url_env: str
    define_connection: bool = True
    database: Database = Database.POSTGRESQL
    queue: Queue = Queue.RABBITMQ
    queue_name: str = "erp.orders"
    # The business calendar a baseline rule reads its weeks in; written when the model has none.
    calendar: str = "shop"
    define_calendar: bool = True
    timezone: str = "UTC"


@dataclass(frozen=True)
class Scaffold:
    """The text of the files one flow adds to a model."""

    flow_yaml: str
    rules_yaml: str
    runbooks: dict[str, str] = field(default_factory=dict)


def connection_yaml(p: FlowParams, example: str) -> str:
    """The `connections:` entry, unless the model has the connection already."""
    if not p.define_connection:
        return ""
    return (
        "connections:\n"
        f"  {p.connection}:\n"
        f'    url: "${{{p.url_env}}}"   # e.g. {example}; credentials only as ${{ENV}} references\n'
    )


def commented(line: str, comment: str) -> str:
    return f"{line:<35} # {comment}\n"


def flow_head(
    p: FlowParams,
    *,
    description: str,
    obj: str,
    pattern: str,
    latency: str,
    criticality: str,
    failure_modes: tuple[str, ...] = (),
) -> str:
    """The flow's keys up to `signals:`, with the allowed values of the enums as comments."""
    modes = failure_modes or (f"{p.target}_unavailable", "dead_letter")
    return (
        "flows:\n"
        f"  {p.flow}:\n"
        f"    description: {description}\n"
        f"    object: {obj}\n"
        f"    source_of_truth: {p.source}\n"
        f"    targets: [{p.target}]\n"
        + commented(f"    pattern: {pattern}", "api | event | queue | file | ipaas | scheduled")
        + commented(f"    latency_class: {latency}", "checkout-blocking | same-day | next-cycle | finance-close")
        + commented(f"    criticality: {criticality}", "critical | high | normal | low")
        + f"    owner: {p.owner}\n"
        + "    failure_owners:              # who decides when *this* goes wrong (a team each)\n"
        + "".join(f"      {mode}: {p.owner}\n" for mode in modes)
    )


def rule_head(p: FlowParams, rule: str, body: str) -> str:
    return f"  {rule}:\n    flow: {p.flow}\n" + body
