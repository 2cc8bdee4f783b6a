"""The model as it was at a git ref, and who changed it since: for `--since REF` comparisons."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import ConfigError
from .files import ModelLimits
from .loader import load_model
from .model import Model

GIT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Author:
    """Who made the newest commit touching the model, and when."""

    name: str
    at: datetime


def _git(root: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise ConfigError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"git {args[0]} took longer than {GIT_TIMEOUT:g}s") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise ConfigError(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return done.stdout


def repository_of(model_dir: Path) -> tuple[Path, str] | None:
    """(repository root, model dir relative to it), or None when the model dir is not in a git repository."""
    try:
        top = _git(model_dir, "rev-parse", "--show-toplevel").decode().strip()
    except ConfigError:
        return None
    root = Path(top).resolve()
    return root, str(model_dir.resolve().relative_to(root))


def model_at(model_dir: Path, ref: str, limits: ModelLimits | None = None) -> Model:
    """Load the model as committed at `ref`, within `limits` (raises ConfigError or ModelError)."""
    found = repository_of(model_dir)
    if found is None:
        raise ConfigError(f"{model_dir} is not in a git repository, so --since cannot name a ref")
    root, sub = found
    _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    archive = _git(root, "archive", "--format=tar", ref, "--", sub if sub != "." else ".")
    with tempfile.TemporaryDirectory(prefix="flowhealth-ref-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        return load_model(Path(tmp) / sub, limits)


def last_author(model_dir: Path, since: str | None = None) -> Author | None:
    """The newest commit touching the model dir (after `since`, if given), or None outside git."""
    found = repository_of(model_dir)
    if found is None:
        return None
    root, sub = found
    span = [f"{since}..HEAD"] if since else []
    out = _git(root, "log", "-1", "--format=%an%x00%aI", *span, "--", sub).decode().strip()
    if not out:
        return None
    name, at = out.split("\x00")
    return Author(name, datetime.fromisoformat(at))
