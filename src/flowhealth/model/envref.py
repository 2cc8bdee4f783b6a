"""``${ENV_VAR}`` and ``${ENV_VAR:-default}`` references, resolved when a probe is built."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..errors import ConfigError

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def references(text: str) -> list[str]:
    """Names of the environment variables a text refers to."""
    return [match.group(1) for match in _REF.finditer(text)]


def resolve(text: str, environ: Mapping[str, str], *, where: str) -> str:
    """Substitute references; a missing variable without default is a ConfigError naming it."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{where}: environment variable {name} is not set")

    return _REF.sub(substitute, text)


def resolve_strings(item: object, environ: Mapping[str, str], *, where: str) -> object:
    """`resolve` applied to every string inside a JSON-like value (an http probe's body)."""
    if isinstance(item, str):
        return resolve(item, environ, where=where)
    if isinstance(item, Mapping):
        return {key: resolve_strings(value, environ, where=where) for key, value in item.items()}
    if isinstance(item, list | tuple):
        return [resolve_strings(value, environ, where=where) for value in item]
    return item


MIN_SECRET_LENGTH = 4  # shorter values ("1", "on") would blank out ordinary words


def referenced_values(documents: Iterable[object], environ: Mapping[str, str]) -> frozenset[str]:
    """The values of every environment variable the documents refer to: what must never be shown."""
    names: set[str] = set()

    def walk(item: object) -> None:
        if isinstance(item, str):
            names.update(references(item))
        elif isinstance(item, Mapping):
            for value in item.values():
                walk(value)
        elif isinstance(item, list | tuple):
            for value in item:
                walk(value)

    for document in documents:
        walk(document)
    return frozenset(v for n in names if len(v := environ.get(n, "")) >= MIN_SECRET_LENGTH)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value in a text (an error from a target may echo one back)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text
