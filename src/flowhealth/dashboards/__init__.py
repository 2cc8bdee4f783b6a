"""Grafana dashboards generated from the model with grafanalib: the hypercare overview and one per flow."""

from .build import SCHEMA_VERSION, build_dashboards, modern_json

__all__ = ["SCHEMA_VERSION", "build_dashboards", "modern_json"]
