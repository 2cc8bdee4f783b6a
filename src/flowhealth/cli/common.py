"""Options and helpers every command shares."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..statedir import state_url

if TYPE_CHECKING:
    from ..model.model import Model
    from ..model.parse_ahead import ParseAhead
    from ..settings import Settings

ModelDir = Annotated[
    Path,
    typer.Option(
        "--model-dir", "-m", help="Directory with flows/, alert_rules/ and runbooks/.", envvar="FLOWHEALTH_MODEL_DIR"
    ),
]


class _Echo(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(f"warning: {record.getMessage()}", err=True)


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def _model_warnings_to(handler: logging.Handler) -> Iterator[None]:
    """The loader's warnings (files skipped) go to `handler` only, for the block."""
    logger = logging.getLogger("flowhealth.model")
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _echo_model_warnings() -> AbstractContextManager[None]:
    """Show the loader's warnings to the person at the terminal, once."""
    return _model_warnings_to(_Echo(logging.WARNING))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a big structure is built.

    Building a 10,000-rule model or its export allocates a few million objects that all stay
    alive; the collector, triggered by the allocations, walks them again and again for nothing
    (a third of `validate`, `export` and start-up). Reference counting still frees what is dropped.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Allocations between two collections of the youngest generation while serving (CPython: 700).
SERVING_GC_THRESHOLD = 10_000


def settle_for_serving() -> None:
    """What `serve` does once its model and runtime are built, before it starts them.

    Everything alive now lives as long as the runtime: frozen, the collector's full collections no
    longer walk it (at 1,000 probes one took 105-150 ms every ~3 s, and each stalled every probe
    due meanwhile: a scheduling lag p99 of 123-196 ms instead of 15 ms). Benchmarks that build a
    runtime in process call this too, so they measure what `serve` runs.

    Young collections then run every SERVING_GC_THRESHOLD allocations. A span fold creates tens of
    thousands of small containers (journey states, their stages and span keys) that all live until
    the fold ends; at CPython's 700 the collector ran every 700 of them, found nothing to free and
    promoted them, so the older generations were walked for them again: 6% of the fold's CPU
    (benchmarks/README.md, issue 19). Cycles are rare here; they are freed a few thousand
    allocations later instead.
    """
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(SERVING_GC_THRESHOLD, middle, oldest)


def parse_ahead(model_dir: Path) -> ParseAhead | None:
    """Start parsing the model's YAML files in a second process, for a command with other work to do first."""
    from ..model.loader import FLOWS_DIR, yaml_files
    from ..model.parse_ahead import ParseAhead
    from ..settings import Settings

    if not (model_dir / FLOWS_DIR).is_dir():
        return None  # the load says what is wrong
    with _model_warnings_to(logging.NullHandler()):  # the load lists the files again and warns, once
        files = [(path, shown) for path, shown, _ in yaml_files(model_dir)]
    return ParseAhead.start(files, Settings().model_limits())


def load_or_exit(model_dir: Path, ahead: ParseAhead | None = None) -> Model:
    """Load the model (with what `ahead` parsed meanwhile) or print every problem and exit 1."""
    # Imported here, not at start-up: `--help` and commands without a model do not pay for them.
    from ..errors import ModelError
    from ..model.loader import load_model
    from ..settings import Settings

    try:
        with _echo_model_warnings(), collector_paused():
            model = load_model(model_dir, Settings().model_limits(), ahead)
    except ModelError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        typer.echo(f"{len(exc.issues)} problem(s) in {model_dir}", err=True)
        raise typer.Exit(1) from None
    return model


class _State:
    """`flowhealth --state PATH|URL ...`: the state database for this invocation (set by the root callback)."""

    override: str | None = None


def use_state(value: str | None) -> None:
    _State.override = state_url(value) if value else None


def settings_for(model_dir: Path, **overrides: object) -> Settings:
    """Settings from the environment, for this model, with `--state` applied."""
    from ..settings import Settings

    if _State.override is not None:
        overrides.setdefault("database_url", _State.override)
    return Settings(model_dir=model_dir, **overrides)  # type: ignore[arg-type]
