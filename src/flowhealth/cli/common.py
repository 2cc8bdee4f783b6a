"""Options and helpers shared by the CLI's sub-apps (the generators)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ModelError
from ..model.loader import load_model
from ..model.model import Model

ModelDir = Annotated[
    Path,
    typer.Option(
        "--model-dir", "-m", help="Directory with flows/, alert_rules/ and runbooks/.", envvar="FLOWHEALTH_MODEL_DIR"
    ),
]


def load_or_exit(model_dir: Path) -> Model:
    """The model, or exit 1 listing every problem as path:line: field: message."""
    try:
        return load_model(model_dir)
    except ModelError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        typer.echo(f"{len(exc.issues)} problem(s) in {model_dir}", err=True)
        raise typer.Exit(1) from None
