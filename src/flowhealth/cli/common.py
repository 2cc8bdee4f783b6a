"""Options and helpers every command shares."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ModelError
from ..model.loader import load_model
from ..model.model import Model
from ..settings import Settings
from ..statedir import state_url

ModelDir = Annotated[
    Path,
    typer.Option(
        "--model-dir", "-m", help="Directory with flows/, alert_rules/ and runbooks/.", envvar="FLOWHEALTH_MODEL_DIR"
    ),
]


class _EchoWarnings(logging.Handler):
    """Model warnings (development-mode allowances) as `warning: ...` lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(f"warning: {record.getMessage()}", err=True)


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _show_model_warnings() -> None:
    logger = logging.getLogger("flowhealth.model")
    if not any(isinstance(h, _EchoWarnings) for h in logger.handlers):
        logger.addHandler(_EchoWarnings(logging.WARNING))
        logger.propagate = False


def load_or_exit(model_dir: Path) -> Model:
    """Load the model or print every problem and exit 1."""
    _show_model_warnings()
    try:
        return load_model(model_dir)
    except ModelError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        typer.echo(f"{len(exc.issues)} problem(s) in {model_dir}", err=True)
        raise typer.Exit(1) from None


class _State:
    """`flowhealth --state PATH|URL ...`: the state database for this invocation (set by the root callback)."""

    override: str | None = None


def use_state(value: str | None) -> None:
    _State.override = state_url(value) if value else None


def settings_for(model_dir: Path, **overrides: object) -> Settings:
    """Settings from the environment, for this model, with `--state` applied."""
    if _State.override is not None:
        overrides.setdefault("database_url", _State.override)
    return Settings(model_dir=model_dir, **overrides)  # type: ignore[arg-type]
