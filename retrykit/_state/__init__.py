"""State holders: the core's state machines behind a lock and a clock, shared by threads.

Imports the core and the exceptions only; a holder reports what changed to its caller
and never calls up into the driver or observability.
"""
