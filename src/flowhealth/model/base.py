"""Building blocks shared by every model file's schema."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
LABEL_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
LabelName = Annotated[str, StringConstraints(pattern=LABEL_PATTERN)]


class Strict(BaseModel):
    """Unknown keys are errors; loaded models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
