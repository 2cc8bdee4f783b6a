"""A local Teams Workflows webhook: checks the message envelope and the Adaptive Card as Teams would.

Teams renders Adaptive Cards up to version 1.5 and refuses messages over about 28 KB; an unknown
element type, a missing required property or a wrong envelope is a 400, as the Workflows trigger
answers a body its schema does not accept. A valid card is answered 202 Accepted.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAX_BYTES = 28 * 1024
VERSIONS = {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
ELEMENTS = {"TextBlock", "FactSet", "Container", "Table", "ColumnSet", "Image", "ActionSet", "RichTextBlock"}
ACTIONS = {"Action.OpenUrl", "Action.Submit", "Action.ShowCard", "Action.ToggleVisibility", "Action.Execute"}
COLORS = {"Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"}
STYLES = {"default", "emphasis", "good", "attention", "warning", "accent"}


@dataclass
class FakeTeams:
    cards: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[list[str]] = field(default_factory=list)
    failures: deque[str] = field(default_factory=deque)  # "429", "500", "drop"
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.down:
            return 0, {}, b""
        if method != "POST" or "sig=" not in path:
            return 401, {}, b'{"error":{"code":"DirectApiAuthorizationRequired"}}'
        with self.lock:
            failure = self.failures.popleft() if self.failures else None
            if failure == "429":
                return 429, {"Retry-After": "1"}, b""
            if failure == "500":
                return 500, {}, b""
            if failure == "drop":
                return 0, {}, b""
            errors = validate_message(body)
            if errors:
                self.rejected.append(errors)
                return 400, {"Content-Type": "application/json"}, json.dumps({"errors": errors}).encode()
            self.cards.append(json.loads(body)["attachments"][0]["content"])
            return 202, {}, b""

    def texts(self, index: int = -1) -> list[str]:
        """Every TextBlock text of a card, depth first."""
        return list(_texts(self.cards[index]))


def _texts(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            yield node["text"]
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def validate_message(body: bytes) -> list[str]:
    if len(body) > MAX_BYTES:
        return [f"message is {len(body)} bytes; Teams accepts at most {MAX_BYTES}"]
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return ["body is not JSON"]
    if not isinstance(data, dict) or data.get("type") != "message":
        return ["body.type must be 'message'"]
    attachments = data.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return ["body.attachments must hold one card"]
    attachment = attachments[0]
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return ["attachment.contentType must be application/vnd.microsoft.card.adaptive"]
    card = attachment.get("content")
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return ["attachment.content must be an AdaptiveCard"]
    errors = []
    if card.get("version") not in VERSIONS:
        errors.append(f"card version {card.get('version')!r} is not one Teams renders (up to 1.5)")
    if not isinstance(card.get("body"), list) or not card["body"]:
        errors.append("card.body must be a non-empty list")
    else:
        for i, element in enumerate(card["body"]):
            errors += _element(element, f"body[{i}]")
    for i, action in enumerate(card.get("actions", [])):
        errors += _action(action, f"actions[{i}]")
    return errors


def _element(element: Any, where: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"{where} is not an object"]
    kind = element.get("type")
    if kind not in ELEMENTS:
        return [f"{where}: unknown element type {kind!r}"]
    errors = []
    if kind == "TextBlock":
        if not isinstance(element.get("text"), str):
            errors.append(f"{where}.text is required")
        if "color" in element and element["color"] not in COLORS:
            errors.append(f"{where}.color {element['color']!r} is not a color")
    elif kind == "FactSet":
        facts = element.get("facts")
        if not isinstance(facts, list) or not all(
            isinstance(f, dict) and isinstance(f.get("title"), str) and isinstance(f.get("value"), str) for f in facts
        ):
            errors.append(f"{where}.facts must be a list of {{title, value}} strings")
    elif kind == "Container":
        if "style" in element and element["style"] not in STYLES:
            errors.append(f"{where}.style {element['style']!r} is not a container style")
        for i, item in enumerate(element.get("items") or []):
            errors += _element(item, f"{where}.items[{i}]")
    elif kind == "Table":
        columns = element.get("columns")
        if not isinstance(columns, list) or not columns:
            errors.append(f"{where}.columns is required")
        for r, row in enumerate(element.get("rows") or []):
            if row.get("type") != "TableRow":
                errors.append(f"{where}.rows[{r}] must be a TableRow")
                continue
            cells = row.get("cells") or []
            if isinstance(columns, list) and len(cells) > len(columns):
                errors.append(f"{where}.rows[{r}] has more cells than columns")
            for c, cell in enumerate(cells):
                if cell.get("type") != "TableCell":
                    errors.append(f"{where}.rows[{r}].cells[{c}] must be a TableCell")
                for i, item in enumerate(cell.get("items") or []):
                    errors += _element(item, f"{where}.rows[{r}].cells[{c}].items[{i}]")
    return errors


def _action(action: Any, where: str) -> list[str]:
    if not isinstance(action, dict) or action.get("type") not in ACTIONS:
        return [f"{where}: unknown action type"]
    if action["type"] == "Action.OpenUrl" and not str(action.get("url", "")).startswith(("http://", "https://")):
        return [f"{where}.url must be an absolute URL"]
    return []
