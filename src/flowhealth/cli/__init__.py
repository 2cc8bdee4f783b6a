"""The `flowhealth` command line."""
