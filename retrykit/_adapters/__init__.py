"""The client adapters: a requests `HTTPAdapter` and the httpx transports.

Each translates its client's requests, responses and exceptions for the driver (one
exception table per client) and replays bodies; no retry rule lives here.
"""
