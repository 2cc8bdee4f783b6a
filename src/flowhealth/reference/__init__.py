"""The reference documentation generated from the code: model keys, settings, metrics, commands.

`python -m flowhealth.reference` writes docs/reference/*.md; `--check` fails when they differ
(tests run it too), so the reference cannot drift from the schema.
"""

from .build import reference_files

__all__ = ["reference_files"]
