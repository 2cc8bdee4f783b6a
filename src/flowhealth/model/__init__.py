"""The as-code model: flows, alert rules, runbooks, and the loader that checks them."""

from .loader import load_model
from .model import Model, SignalRef

__all__ = ["Model", "SignalRef", "load_model"]
