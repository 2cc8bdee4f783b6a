"""The JSON Schema of the model files, with durations written the way the YAML writes them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from .durations import format_duration


class _DurationsAsWritten(GenerateJsonSchema):
    # pydantic renders timedelta defaults as ISO 8601 ("PT30M"); the files say "30m".
    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return format_duration(dft)
        return super().encode_default(dft)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The 2020-12 JSON Schema of a model file, for editors and the reference docs."""
    document = model.model_json_schema(by_alias=True, schema_generator=_DurationsAsWritten)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return document
