"""``${ENV_VAR}`` and ``${ENV_VAR:-default}`` references, resolved when a probe is built."""

from __future__ import annotations

import re
from collections.abc import Mapping

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
