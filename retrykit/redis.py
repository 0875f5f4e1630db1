"""Share circuit breakers, retry budgets and rate limiters across processes through Redis.

    import redis
    from retrykit import CircuitBreaker, RateLimiter, RetryBudget
    from retrykit.redis import RedisStore

    store = RedisStore(redis.Redis(host="127.0.0.1", port=6379), namespace="billing-api")
    breaker = CircuitBreaker(store=store)
    budget = RetryBudget(store=store)
    limiter = RateLimiter(store=store)

Requests still decide in memory; a background thread exchanges counts, verdicts and
rate-limit records with Redis. Needs redis-py: ``pip install 'retrykit-http[redis]'``.
"""

from __future__ import annotations

try:
    import redis as _redis  # noqa: F401 - only to say which extra is missing
except ImportError as _missing:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "retrykit.redis needs redis-py: pip install 'retrykit-http[redis]'"
    ) from _missing

from retrykit._fleet._redis import RedisStore, StoreStats

__all__ = ["RedisStore", "StoreStats"]
