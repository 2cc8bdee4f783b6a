"""Start a model of one's own: `flowhealth init` and `flowhealth add flow` write it from templates."""

from .flow_parts import FlowParams, Queue, Scaffold
from .sqlhelpers import Database
from .templates import TEMPLATES, TemplateName
from .writer import ScaffoldError, add_flow, init_model

__all__ = [
    "TEMPLATES",
    "Database",
    "FlowParams",
    "Queue",
    "Scaffold",
    "ScaffoldError",
    "TemplateName",
    "add_flow",
    "init_model",
]
