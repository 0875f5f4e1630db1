"""The Lua scripts: each merges one process's report into the fleet's state, atomically.

Every script reads the server's clock (``TIME``), so the hosts' clocks never matter, and
touches only keys of one hash slot. They run with EVALSHA in one pipeline per sync
round; a server that has not seen a script (a restart, SCRIPT FLUSH) answers NOSCRIPT,
and the store then loads it once and runs that call again. Each write refreshes the
TTL of every key it touches; a missing key reads as "nothing shared": a CLOSED circuit,
a full reserve, no record. A pure read (a poll) never creates a key.

Redis >= 5 is needed: the scripts read TIME and then write (effects replication).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Final

import attrs


@attrs.frozen
class Script:
    """A Lua script and its SHA-1 digest (what EVALSHA names it by)."""

    name: str
    source: str

    @property
    def sha(self) -> str:
        """The SHA-1 of the source, as Redis computes it."""
        return _digest(self.source)


@functools.cache
def _digest(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()


_NOW: Final = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

CIRCUIT: Final = Script(
    "circuit",
    _NOW
    + """
-- One process's report on one circuit, merged into the fleet's circuit.
-- KEYS: state (hash), reporters (zset: process -> last failure ms), leases (zset:
-- lease -> expiry ms). State fields: g generation, s 'c'/'o', run (consecutive run),
-- op openings, at opened at (ms), br break (ms), by cause, ok probe successes, and the
-- rate mode's ten buckets e<i> epoch, n<i> outcomes, f<i> failures.
local state, reporters, leases = KEYS[1], KEYS[2], KEYS[3]
local me = ARGV[1]
local seen = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])           -- 0: consecutive mode, else failure_rate
local threshold = tonumber(ARGV[4])      -- failure_threshold, or minimum_calls
local window = tonumber(ARGV[5])         -- ms
local min_reporters = tonumber(ARGV[6])
local max_leases = tonumber(ARGV[7])
local success_threshold = tonumber(ARGV[8])
local lease_ms = tonumber(ARGV[9])
local ttl = tonumber(ARGV[10])
local breaks = ARGV[11]                  -- ms per opening, space-separated
local failures = tonumber(ARGV[12])
local successes = tonumber(ARGV[13])
local trailing = tonumber(ARGV[14])
local cause = ARGV[15]
local wanted = ARGV[16]                  -- lease names, space-separated
local returned = ARGV[17]
local probes = ARGV[18]                  -- 'lease=1' (success) or 'lease=0', space-separated

local g = redis.call('HGET', state, 'g')
local created = false
if not g then
  if failures == 0 and (rate == 0 or successes == 0) then
    return {0, 0, 0, 0, 0, 0, 0, 0, '', 0, 0, 0}
  end
  -- A missing circuit is CLOSED: the first failure reported creates it (in rate mode,
  -- the first outcome: the window needs the successes too).
  redis.call('HSET', state, 'g', now, 's', 'c', 'run', 0, 'op', 0, 'ok', 0)
  g = now
  created = true
end
local gen = tonumber(g)
local tripped = 0
local granted = 0

local function field(name)
  return tonumber(redis.call('HGET', state, name) or 0)
end

local function break_for(openings)
  local chosen, i = 1000, 0
  for value in string.gmatch(breaks, '%S+') do
    i = i + 1
    chosen = tonumber(value)
    if i >= openings then break end
  end
  return chosen
end

local function sums()
  if rate == 0 then
    return field('run'), 0
  end
  local epoch = math.floor(now / (window / 10))
  local failed, calls = 0, 0
  for i = 0, 9 do
    local e = field('e' .. i)
    if e > epoch - 10 and e <= epoch then
      calls = calls + field('n' .. i)
      failed = failed + field('f' .. i)
    end
  end
  return failed, calls
end

local function change(to)
  gen = math.max(gen + 1, now)
  redis.call('HSET', state, 'g', gen, 's', to, 'run', 0, 'ok', 0)
  for i = 0, 9 do
    redis.call('HDEL', state, 'e' .. i, 'n' .. i, 'f' .. i)
  end
  redis.call('DEL', reporters, leases)
end

local function open(reason)
  local openings = field('op') + 1
  change('o')
  redis.call('HSET', state, 'op', openings, 'at', now, 'br', break_for(openings), 'by', reason)
  tripped = 1
end

local function close()
  change('c')
  redis.call('HSET', state, 'op', 0, 'at', 0, 'br', 0, 'by', '')
end

local st = redis.call('HGET', state, 's')
if st == 'c' and (failures > 0 or successes > 0) and (created or seen == 0 or seen == gen) then
  if rate == 0 then
    if successes > 0 then
      -- This report's last success ends the run: what follows it is the new run.
      redis.call('HSET', state, 'run', trailing)
      redis.call('DEL', reporters)
      if trailing > 0 then
        redis.call('ZADD', reporters, now, me)
      end
    else
      redis.call('HINCRBY', state, 'run', failures)
      redis.call('ZADD', reporters, now, me)
    end
  else
    local epoch = math.floor(now / (window / 10))
    local slot = epoch % 10
    if field('e' .. slot) ~= epoch then
      redis.call('HSET', state, 'e' .. slot, epoch, 'n' .. slot, failures + successes,
        'f' .. slot, failures)
    else
      redis.call('HINCRBY', state, 'n' .. slot, failures + successes)
      redis.call('HINCRBY', state, 'f' .. slot, failures)
    end
    if failures > 0 then
      redis.call('ZADD', reporters, now, me)
    end
    redis.call('ZREMRANGEBYSCORE', reporters, '-inf', now - window)
  end
  local failed, calls = sums()
  if redis.call('ZCARD', reporters) >= min_reporters then
    if (rate == 0 and failed >= threshold)
        or (rate > 0 and calls >= threshold and failed / calls >= rate) then
      open(cause)
    end
  end
elseif st == 'o' and seen == gen then
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  for item in string.gmatch(probes, '%S+') do
    local lease, ok = string.match(item, '^(.+)=([01])$')
    if lease and redis.call('ZREM', leases, lease) == 1 then
      if ok == '0' then
        open(cause ~= '' and cause or (redis.call('HGET', state, 'by') or ''))
        break
      end
      if redis.call('HINCRBY', state, 'ok', 1) >= success_threshold then
        close()
        break
      end
    end
  end
  if gen == tonumber(g) then
    for lease in string.gmatch(returned, '%S+') do
      redis.call('ZREM', leases, lease)
    end
    if now >= field('at') + field('br') then
      for lease in string.gmatch(wanted, '%S+') do
        if redis.call('ZCARD', leases) >= max_leases then break end
        redis.call('ZADD', leases, now + lease_ms, lease)
        granted = granted + 1
      end
    end
  end
end

redis.call('PEXPIRE', state, ttl)
redis.call('PEXPIRE', reporters, ttl)
redis.call('PEXPIRE', leases, ttl)
local is_open = redis.call('HGET', state, 's') == 'o'
local failed, calls = 0, 0
local remaining, br = 0, 0
if is_open then
  br = field('br')
  remaining = field('at') + br - now
else
  failed, calls = sums()
end
return {1, gen, is_open and 1 or 0, failed, calls, remaining, br, field('op'),
  redis.call('HGET', state, 'by') or '', redis.call('ZCARD', reporters), granted, tripped}
""",
)

RESERVE: Final = Script(
    "reserve",
    _NOW
    + """
-- A process hands back unused reserve retries and asks for more.
-- KEYS[1]: a hash of ten buckets, e<i> epoch and w<i> retries granted (net of returns).
-- At most `limit` retries are granted in any `ttl` window, across the fleet.
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])            -- ms
local returned = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
local epoch = math.floor(now / (ttl / 10))
local slot = epoch % 10
if redis.call('EXISTS', key) == 0 and wanted == 0 then
  return {0, tostring(limit)}
end
local live = {}
local used = 0
for i = 0, 9 do
  local e = tonumber(redis.call('HGET', key, 'e' .. i) or -1)
  if e > epoch - 10 and e <= epoch then
    live[i] = tonumber(redis.call('HGET', key, 'w' .. i) or 0)
    used = used + live[i]
  else
    live[i] = nil
  end
end
-- Returns come off the newest buckets first, and never take a bucket below zero.
local back = 0
for step = 0, 9 do
  if returned <= 0 then break end
  local i = (slot - step) % 10
  local count = live[i]
  if count and count > 0 then
    local take = math.min(count, returned)
    live[i] = count - take
    redis.call('HSET', key, 'w' .. i, live[i])
    returned = returned - take
    back = back + take
  end
end
used = used - back
local grant = math.max(0, math.min(wanted, math.floor(limit - used + 1e-9)))
if grant > 0 then
  if live[slot] == nil then
    redis.call('HSET', key, 'e' .. slot, epoch, 'w' .. slot, grant)
  else
    redis.call('HINCRBY', key, 'w' .. slot, grant)
  end
end
redis.call('PEXPIRE', key, ttl * 2)
return {grant, tostring(limit - used - grant)}
""",
)

RECORD: Final = Script(
    "record",
    _NOW
    + """
-- A member publishes its record for a key (ARGV[3]; '' only reads) and reads every
-- member's record still alive. KEYS[1]: records (hash: member -> '<written ms> <record>'),
-- KEYS[2]: expiries (zset: member -> ms). A record lives ARGV[1] ms after its writing.
local records, expiries = KEYS[1], KEYS[2]
local ttl = tonumber(ARGV[1])
local me, record = ARGV[2], ARGV[3]
if record ~= '' then
  redis.call('HSET', records, me, now .. ' ' .. record)
  redis.call('ZADD', expiries, now + ttl, me)
  for _, key in ipairs(KEYS) do
    if redis.call('PTTL', key) < ttl then
      redis.call('PEXPIRE', key, ttl)
    end
  end
end
local gone = redis.call('ZRANGEBYSCORE', expiries, '-inf', now)
for _, member in ipairs(gone) do
  redis.call('HDEL', records, member)
end
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', expiries, '-inf', now)
end
return {now, redis.call('HGETALL', records)}
""",
)

INDEX: Final = Script(
    "index",
    _NOW
    + """
-- The namespace's open circuits: announce some (ARGV: circuit, ms from now, ...) and
-- return those still open. KEYS[1]: a zset of circuit -> until when (ms).
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local longest = 0
for i = 1, #ARGV, 2 do
  local ms = tonumber(ARGV[i + 1])
  redis.call('ZADD', key, now + ms, ARGV[i])
  longest = math.max(longest, ms)
end
if longest > 0 and redis.call('PTTL', key) < longest then
  redis.call('PEXPIRE', key, longest)
end
return redis.call('ZRANGEBYSCORE', key, now, '+inf', 'LIMIT', 0, 1000)
""",
)

ALL: Final = (CIRCUIT, RESERVE, RECORD, INDEX)
