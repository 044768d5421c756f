"""A named queue's rate limit (BullMQ's worker ``limiter {max, duration}``), enforced in Redis across
every worker process and machine (docs/queues.md).

The rule: at most ``max`` jobs of the queue *start* in any window of ``duration`` ms. It is a sliding
log, one Redis sorted set per queue (``jobserver:limiter:<queue>``) with one member per start slot,
scored by when its job started (µs since the epoch):

- :func:`limiter_take` (one Lua script, atomic across workers): drops the members that left the window
  (score <= now - duration, by Redis's clock ``TIME``), grants up to ``want`` of the free slots and says
  how long until the oldest one frees. A granted slot is scored ``now + hold`` until its job starts: a
  claimed job of a batch starts when its turn comes (at most ``JOB_BATCH_SLICE_S`` later, or it is
  handed back), so the slot must count until then whatever happens;
- :func:`limiter_started` re-scores the slot with the job's recorded ``started_at`` (the same value),
  so a window holds at most ``max`` of the starts the jobs record, not merely of the grants;
- :func:`limiter_give_back` removes the slots of jobs that did not start (not claimable after all, or
  handed back).

The scores mix Redis's clock (the window's edge) and the workers' clocks (the starts): on one machine
they are the same clock; across machines they are as close as NTP keeps them.

Why not BullMQ's own algorithm: BullMQ counts starts in a fixed window (a counter with an expiry set
at the window's first start), which lets up to ``2 * max`` jobs start within one ``duration`` across
a window boundary; the sliding log never does, so "no ``duration`` window holds more than ``max``
recorded starts" holds exactly.

Why not a library: ``limits`` (the maintained engine behind Flask-Limiter and slowapi) has the same
moving-window log in Lua, but its ``hit(cost)`` grants all of ``cost`` or nothing, it cannot hand
unused slots back, and it cannot re-score a slot with the instant its job started. A batch needs "as
many as may start now, up to n", re-scores each slot when its job starts and returns the slots of
jobs that did not start; that is this 25-line script and two commands.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import redis
from django.conf import settings

from config.redis_client import redis_client

logger = logging.getLogger(__name__)

# KEYS[1]: the queue's log. ARGV: max, duration (ms), want, token prefix, hold (ms).
# Returns {granted, wait_ms}: wait_ms > 0 when fewer than `want` were granted: ms until the oldest slot
# frees (a slot whose job has not started yet counts as starting now).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000
local want = tonumber(ARGV[3])
local hold = tonumber(ARGV[5]) * 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local n = math.max(0, math.min(want, limit - used))
for i = 1, n do
  redis.call('ZADD', KEYS[1], now + hold, ARGV[4] .. ':' .. i)
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[5]) + 1000)
local wait = 0
if n < want then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local start = now
  if oldest[2] and tonumber(oldest[2]) < now then start = tonumber(oldest[2]) end
  wait = math.floor((start + window - now) / 1000) + 1
end
return {n, wait}
"""

#: ms to wait before trying again when Redis could not be asked (nothing is granted then).
RETRY_AFTER_REDIS_ERROR_MS = 1000


@dataclass(frozen=True)
class Grant:
    """``granted`` slots of queue ``queue`` taken now, numbered 1..granted (members ``<token>:<n>``);
    ``wait_ms`` until the next slot frees when fewer than asked were granted (else 0)."""

    queue: str
    granted: int
    wait_ms: int
    token: str

    def member(self, slot: int) -> str:
        return f"{self.token}:{slot}"


def _key(queue: str) -> str:
    return f"jobserver:limiter:{queue}"


def _hold_ms() -> int:
    """How long a granted slot counts before its job's start is known: a batch's claimed job starts
    within ``JOB_BATCH_SLICE_S`` or is handed back (``jobs.runtime``); one second more for a busy host."""
    return int(settings.JOB_BATCH_SLICE_S * 1000) + 1000


def limiter_take(*, queue: str, limit_max: int, duration_ms: int, want: int) -> Grant:
    """Take up to ``want`` start slots of ``queue`` under ``limit_max`` per ``duration_ms`` (one atomic
    script; module docstring). Never raises: when Redis does not answer nothing is granted and
    ``wait_ms`` is :data:`RETRY_AFTER_REDIS_ERROR_MS` (the limit is never exceeded for lack of Redis)."""
    token = uuid.uuid4().hex
    if want <= 0:
        return Grant(queue, 0, 0, token)
    try:
        granted, wait_ms = redis_client().eval(
            _TAKE, 1, _key(queue), limit_max, duration_ms, want, token, _hold_ms()
        )
    except redis.RedisError:
        logger.warning("rate limiter of queue %s: Redis did not answer; none started", queue, exc_info=True)
        return Grant(queue, 0, RETRY_AFTER_REDIS_ERROR_MS, token)
    return Grant(queue, int(granted), int(wait_ms), token)


def limiter_started(*, grant: Grant, slot: int, started_at: datetime) -> None:
    """Score slot ``slot`` of ``grant`` with its job's ``started_at`` (the value the job records), so the
    window counts recorded starts. Never raises (the slot then keeps its hold: stricter, not looser)."""
    score = int(started_at.timestamp() * 1_000_000)
    try:
        redis_client().zadd(_key(grant.queue), {grant.member(slot): score}, xx=True)
    except redis.RedisError:
        logger.warning("rate limiter of queue %s: could not record a start", grant.queue)


def limiter_give_back(*, grant: Grant, slots: list[int]) -> None:
    """Return ``slots`` of ``grant``, whose jobs did not start (claimed elsewhere or cancelled meanwhile,
    or handed back unstarted). Never raises (a slot not returned frees when its hold ends)."""
    if not slots:
        return
    try:
        redis_client().zrem(_key(grant.queue), *[grant.member(slot) for slot in slots])
    except redis.RedisError:
        logger.warning("rate limiter of queue %s: could not give back %d slot(s)", grant.queue, len(slots))
