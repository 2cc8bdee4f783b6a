"""FLOWHEALTH_NATIVE: whether the C extensions (the span reader, the span fold) run when they are built.

Read once at start, as the receiver's other settings are; `0` takes the Python paths, which give
the same answers.
"""

from __future__ import annotations

import os

WANTED = os.environ.get("FLOWHEALTH_NATIVE", "1").strip() != "0"
