"""Assemble the generated reference files."""

from __future__ import annotations

from .commands_md import commands_reference
from .metrics_md import metrics_reference
from .model_md import model_reference
from .settings_md import settings_reference


def reference_files() -> dict[str, str]:
    """File name under docs/reference/ → its content."""
    return {
        "model.md": model_reference(),
        "settings.md": settings_reference(),
        "metrics.md": metrics_reference(),
        "commands.md": commands_reference(),
    }
