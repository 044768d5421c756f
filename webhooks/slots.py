"""Per-owner cap on webhook deliveries in flight (issue 13: one user's slow receivers must not take every
delivery slot).

At most ``WEBHOOK_MAX_IN_FLIGHT_PER_OWNER`` attempts of one owner's deliveries run at once, across
every webhook worker process (0: no cap). A slot is a member of the Redis sorted set
``jobserver:webhooks:inflight:<owner>`` scored with its lease's expiry, so a worker that dies
mid-request frees its slot after ``lease_s()`` at the latest. A delivery that finds its owner at
the cap is not sent and not retried on a timer: its id is appended to the owner's waiting list
(``jobserver:webhooks:waiting:<owner>``) in the same atomic step, and whoever releases a slot pops
waiting ids and publishes their ``deliver`` messages again. So a capped owner costs no polling, and
no wake-up is lost: "full, so wait" and "free, so wake the next" are each one Lua script. An id
lost from the list (Redis restarted empty) is published again by the periodic sweep
(``deliveries_send_due``, after ``WEBHOOK_RETRY_GRACE_S``). A duplicate id is harmless: the
attempt is claimed in the database first.

Without Redis the cap is not enforced (a warning is logged): deliveries matter more than the cap.
"""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import contextmanager

import redis
from django.conf import settings

from config.redis_client import redis_client

logger = logging.getLogger(__name__)

WAITING_TTL_MS = 24 * 3600 * 1000

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
  return 1
end
redis.call('RPUSH', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 0
"""

_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local free = tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[1])
local woken = {}
while free > 0 do
  local id = redis.call('LPOP', KEYS[2])
  if not id then break end
  table.insert(woken, id)
  free = free - 1
end
return woken
"""


def _keys(owner_id: int) -> list[str]:
    return [f"jobserver:webhooks:inflight:{owner_id}", f"jobserver:webhooks:waiting:{owner_id}"]


def cap() -> int:
    """``WEBHOOK_MAX_IN_FLIGHT_PER_OWNER`` (0 or less: no cap)."""
    return settings.WEBHOOK_MAX_IN_FLIGHT_PER_OWNER


def lease_s() -> float:
    """How long a slot is held at most (s): three timeouts of the request plus a margin, as one
    attempt is a connect and several reads, each bounded by ``WEBHOOK_TIMEOUT_S``."""
    return 3 * settings.WEBHOOK_TIMEOUT_S + 10


@contextmanager
def owner_slot(owner_id: int, delivery_id: int):
    """Hold one of ``owner_id``'s delivery slots for the ``with`` block; yields whether one was granted.

    Not granted: ``delivery_id`` now waits for a slot (the module docstring); the caller must not send.
    On leaving a granted block, the slot is released and the ids waiting for it are handed to
    ``wake`` (their ``deliver`` messages are published again).
    """
    limit = cap()
    if limit <= 0:
        yield True
        return
    keys, token = _keys(owner_id), f"{delivery_id}:{uuid.uuid4().hex}"
    client = redis_client()
    now_ms = int(time.time() * 1000)
    try:
        granted = bool(
            client.eval(
                _ACQUIRE, 2, *keys, now_ms, now_ms + int(lease_s() * 1000), limit, token, delivery_id,
                WAITING_TTL_MS,
            )
        )
    except redis.RedisError:
        logger.warning("webhook slots unavailable; delivering %s without the per-owner cap", delivery_id,
                       exc_info=True)
        yield True
        return
    if not granted:
        yield False
        return
    try:
        yield True
    finally:
        try:
            woken = client.eval(_RELEASE, 2, *keys, token, int(time.time() * 1000), limit)
        except redis.RedisError:
            logger.warning("could not release a webhook slot of owner %s; its lease expires", owner_id,
                           exc_info=True)
            woken = []
        wake(owner_id, [int(w) for w in woken])


def wake(owner_id: int, delivery_ids: list[int]) -> None:
    """Publish the ``deliver`` message of each delivery that was waiting for a slot of ``owner_id``."""
    from .tasks import delivery_send

    for delivery_id in delivery_ids:
        delivery_send.apply_async(args=[delivery_id], kwargs={"owner_id": owner_id})


def in_flight(owner_id: int) -> int:
    """Slots of ``owner_id`` held now (leases not expired); for the admin and tests."""
    return redis_client().zcount(_keys(owner_id)[0], int(time.time() * 1000) + 1, "+inf")
