"""flowhealth: business health of commerce integration flows."""

__version__ = "0.1.0"
