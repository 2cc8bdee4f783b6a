"""Where the state database lives by default: outside the model directory, per model.

A model directory is a repository people commit; a database file inside it gets committed by
accident. Like other tools that keep state per user (XDG Base Directory), flowhealth uses
`$XDG_STATE_HOME/flowhealth/` (default `~/.local/state/flowhealth/`), one file per model
directory, named after it plus a short hash of its absolute path.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path


def state_home(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/flowhealth`, or `~/.local/state/flowhealth`."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "flowhealth"


def default_state_url(model_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """The SQLite URL of the state database of the model in `model_dir`."""
    resolved = Path(model_dir).resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    name = f"{resolved.name or 'model'}-{digest}.db"
    return f"sqlite:///{state_home(environ) / name}"


def state_url(value: str) -> str:
    """`--state`: a database URL as given, or a file path as a SQLite URL."""
    return value if "://" in value else f"sqlite:///{Path(value).expanduser().resolve()}"
