"""A named queue's rate limit (BullMQ's worker ``limiter {max, duration}``), enforced in Redis across
every worker process and machine (docs/queues.md).

The rule: at most ``max`` jobs of the queue *start* in any window of ``duration`` ms. It is a sliding
log, one Redis sorted set per queue (``jobserver:limiter:<queue>``) holding one member per start with
Redis's own clock (``TIME``) as its score; one Lua script drops the members older than the window,
grants up to ``want`` of the free slots and says how long until the oldest slot frees. A grant is
therefore atomic across workers and no two workers' clocks are compared.

Why not BullMQ's own algorithm: BullMQ counts starts in a fixed window (a counter with an expiry set
at the window's first start), which lets up to ``2 * max`` jobs start within one ``duration`` across
a window boundary; the sliding log never does, so "no ``duration`` window holds more than ``max``
starts" holds exactly (of the instants the limiter granted; a batch's job starts a few ms after).

Why not a library: ``limits`` (the maintained engine behind Flask-Limiter and slowapi) has the same
moving-window log in Lua, but its ``hit(cost)`` grants all of ``cost`` or nothing, it cannot hand
unused slots back, and it stamps entries with each client's clock. A batch needs "as many as may
start now, up to n" and returns the slots of jobs it could not claim after all; that is this
20-line script.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import redis

from config.redis_client import redis_client

logger = logging.getLogger(__name__)

# KEYS[1]: the queue's log. ARGV: max, duration (ms), want, token prefix.
# Returns {granted, wait_ms}: wait_ms > 0 when fewer than `want` were granted (ms until a slot frees).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000
local want = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local n = math.max(0, math.min(want, limit - used))
for i = 1, n do
  redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. i)
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000)
local wait = 0
if n < want then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if oldest[2] then
    wait = math.floor((tonumber(oldest[2]) + window - now) / 1000) + 1
  else
    wait = 1
  end
end
return {n, wait}
"""

#: ms to wait before trying again when Redis could not be asked (nothing is granted then).
RETRY_AFTER_REDIS_ERROR_MS = 1000


@dataclass(frozen=True)
class Grant:
    """``granted`` slots of queue ``queue`` taken now; ``wait_ms`` until the next slot frees when fewer
    than asked were granted (else 0). ``token`` names the slots (members ``<token>:1..granted``)."""

    queue: str
    granted: int
    wait_ms: int
    token: str


def _key(queue: str) -> str:
    return f"jobserver:limiter:{queue}"


def limiter_take(*, queue: str, limit_max: int, duration_ms: int, want: int) -> Grant:
    """Take up to ``want`` start slots of ``queue`` under ``limit_max`` per ``duration_ms`` (one atomic
    script). Never raises: when Redis does not answer nothing is granted and ``wait_ms`` is
    :data:`RETRY_AFTER_REDIS_ERROR_MS` (the limit is never exceeded for lack of Redis)."""
    token = uuid.uuid4().hex
    if want <= 0:
        return Grant(queue, 0, 0, token)
    try:
        granted, wait_ms = redis_client().eval(_TAKE, 1, _key(queue), limit_max, duration_ms, want, token)
    except redis.RedisError:
        logger.warning("rate limiter of queue %s: Redis did not answer; none started", queue, exc_info=True)
        return Grant(queue, 0, RETRY_AFTER_REDIS_ERROR_MS, token)
    return Grant(queue, int(granted), int(wait_ms), token)


def limiter_give_back(*, grant: Grant, unused: int) -> None:
    """Return the last ``unused`` slots of ``grant`` (jobs that could not be claimed after all: run or
    cancelled elsewhere meanwhile). Never raises."""
    if unused <= 0:
        return
    members = [f"{grant.token}:{i}" for i in range(grant.granted - unused + 1, grant.granted + 1)]
    try:
        redis_client().zrem(_key(grant.queue), *members)
    except redis.RedisError:
        logger.warning("rate limiter of queue %s: could not give back %d slot(s)", grant.queue, unused)
