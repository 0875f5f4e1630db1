"""Observability: the events a call emits, the log lines, metrics and alert rules.

Imports the core only (for the enums events carry); fed by the driver through hooks.
"""
