"""Hypercare: the readiness checklist, the weekly review, and the live flow board."""
