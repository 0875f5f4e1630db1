"""The fleet store's machinery: key names, Lua scripts, channels, health, the syncer.

Layering: `retrykit._state._store` says what a store is to the holders (no client
library); this package implements it for Redis. Only `_redis` imports redis-py, and the
public face is `retrykit.redis`. Nothing here runs on a request thread except
`StoreLink.wake`, which sets an event.

- `_keys`: the namespace rules and the name of every key (one hash slot per circuit).
- `_scripts`: the Lua that merges a process's report into the fleet's state, atomically
  and on the server's clock.
- `_channels`: turning members' reports into script calls and replies into verdicts.
- `_health`: when the store goes local-only, and when it tries Redis again.
- `_redis`: `RedisStore`, its connection settings and its syncer thread.
"""
