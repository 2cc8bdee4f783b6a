"""Benchmarks: speed and memory goals, printed as numbers (see benchmarks/README.md)."""
