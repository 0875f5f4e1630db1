"""``python -m retrykit``: parsing and printing around the core (and the demo)."""
