"""Finished work per minute and queue, for the Queues board's chart (BullMQ's queue metrics, Flower's
throughput graph).

Counted in Redis when the outcome is stored (a job's ``completed`` or final ``failed`` event, a
webhook delivery's success or final failure), not read back from the job table: jobs removed by
``removeOnComplete``/``removeOnFail`` still count, as in BullMQ, where metrics are kept apart from
the jobs. One key per queue, outcome and minute (and the same per owner, for staff who see only
their own jobs), ``INCR`` + ``EXPIRE`` in one pipelined round trip; keys live ``KEEP_S`` (two
hours), so the last hour is always complete. Workers on many machines share them through Redis.
A Redis outage loses counts, never a job: :func:`record` logs and returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

logger = logging.getLogger(__name__)

PREFIX = "jobserver:throughput:"
OUTCOMES = ("completed", "failed")
KEEP_S = 2 * 3600


def _key(queue: str, outcome: str, minute: int, owner_id: int | None) -> str:
    who = "all" if owner_id is None else f"u{owner_id}"
    return f"{PREFIX}{queue}:{outcome}:{who}:{minute}"


def record(*, owner_id: int, queues: Iterable[str], outcome: str, at_s: float | None = None) -> None:
    """Count one finished job (or delivery) of ``owner_id`` in each of ``queues``; never raises.

    ``outcome`` is ``completed`` or ``failed``; ``at_s`` (epoch seconds, default now) picks the minute.
    """
    from config.redis_client import redis_client

    minute = int((time.time() if at_s is None else at_s) // 60)
    try:
        pipe = redis_client().pipeline(transaction=False)
        for queue in queues:
            for who in (None, owner_id):
                key = _key(queue, outcome, minute, who)
                pipe.incr(key)
                pipe.expire(key, KEEP_S)
        pipe.execute()
    except Exception:  # the outcome is stored; only the chart misses one count
        logger.warning("could not count a %s outcome for the Queues board", outcome, exc_info=True)


def series(*, queue: str, owner_id: int | None = None, minutes: int = 60, now_s: float | None = None) -> dict:
    """The last ``minutes`` whole minutes, oldest first, up to and including the current one:
    ``{"minutes": [epoch seconds of each minute's start], "completed": [n, ...], "failed": [n, ...]}``.

    ``owner_id`` ``None`` counts everyone's (superusers); otherwise that owner's only. Redis down:
    every count is ``None`` (the chart shows a gap, not zeros).
    """
    from config.redis_client import redis_client

    last = int((time.time() if now_s is None else now_s) // 60)
    span = list(range(last - minutes + 1, last + 1))
    body: dict = {"minutes": [m * 60 for m in span]}
    try:
        pipe = redis_client().pipeline(transaction=False)
        for outcome in OUTCOMES:
            pipe.mget([_key(queue, outcome, m, owner_id) for m in span])
        answers = pipe.execute()
    except Exception:
        logger.warning("could not read throughput of queue %s", queue, exc_info=True)
        return {**body, **{outcome: [None] * len(span) for outcome in OUTCOMES}}
    for outcome, values in zip(OUTCOMES, answers, strict=True):
        body[outcome] = [int(v) if v is not None else 0 for v in values]
    return body
