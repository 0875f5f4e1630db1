"""The retry driver: one object per call, applying the core's decisions, and the loops.

Imports the core, the state holders and observability; never an HTTP client. The
adapters hand it the few things that differ per client (send, read, discard, sleep).
"""
