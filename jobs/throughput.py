"""Finished work per minute and queue, for the Queues board's chart (BullMQ's queue metrics, Flower's
throughput graph).

Counted when the outcome is stored (a job's ``completed`` or final ``failed`` event, a webhook
delivery's success or final failure), not read back from the job table: jobs removed by
``removeOnComplete``/``removeOnFail`` still count, as in BullMQ, where metrics are kept apart from
the jobs. Kept in Redis, one key per queue, outcome and minute (and the same per owner, for staff
who see only their own jobs), living ``KEEP_S`` (two hours) so the last hour is always complete;
workers on many machines share them through Redis.

Off the job's path: :func:`record` only adds to this process's tally (microseconds); a timer thread
sends the tally at most ``FLUSH_S`` later as ``INCRBY`` + ``EXPIRE`` in one pipelined round trip (a
round trip per finished job cost about a tenth of a short job's time in the worker). A process
killed before its flush loses at most that second's counts; a Redis outage loses counts, never a
job (:func:`flush` logs and drops them).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable

logger = logging.getLogger(__name__)

PREFIX = "jobserver:throughput:"
OUTCOMES = ("completed", "failed")
KEEP_S = 2 * 3600
# Seconds a process holds its tally before sending it.
FLUSH_S = 1.0

_lock = threading.Lock()
_tally: Counter = Counter()
_timer: dict[int, threading.Timer] = {}  # pid → the pending flush of this process (none after a fork)


def _key(queue: str, outcome: str, minute: int, owner_id: int | None) -> str:
    who = "all" if owner_id is None else f"u{owner_id}"
    return f"{PREFIX}{queue}:{outcome}:{who}:{minute}"


def record(*, owner_id: int, queues: Iterable[str], outcome: str, at_s: float | None = None) -> None:
    """Count one finished job (or delivery) of ``owner_id`` in each of ``queues``; never raises.

    ``outcome`` is ``completed`` or ``failed``; ``at_s`` (epoch seconds, default now) picks the minute.
    Sent to Redis by :func:`flush` within ``FLUSH_S``.
    """
    minute = int((time.time() if at_s is None else at_s) // 60)
    pid = os.getpid()
    with _lock:
        if pid not in _timer and _timer:  # a forked child: the parent's tally and timer are not ours
            _tally.clear()
            _timer.clear()
        for queue in queues:
            for who in (None, owner_id):
                _tally[_key(queue, outcome, minute, who)] += 1
        if pid not in _timer:
            timer = _timer[pid] = threading.Timer(FLUSH_S, flush)
            timer.daemon = True
            timer.start()


@atexit.register
def flush() -> None:
    """Send this process's tally to Redis now (one pipelined round trip); never raises."""
    from config.redis_client import redis_client

    with _lock:
        counts = dict(_tally)
        _tally.clear()
        timer = _timer.pop(os.getpid(), None)
    if timer is not None:
        timer.cancel()
    if not counts:
        return
    try:
        pipe = redis_client().pipeline(transaction=False)
        for key, n in counts.items():
            pipe.incrby(key, n)
            pipe.expire(key, KEEP_S)
        pipe.execute()
    except Exception:  # the outcomes are stored; only the chart misses these counts
        logger.warning("could not send %d throughput counts to Redis", len(counts), exc_info=True)


def series(*, queue: str, owner_id: int | None = None, minutes: int = 60, now_s: float | None = None) -> dict:
    """The last ``minutes`` whole minutes, oldest first, up to and including the current one:
    ``{"minutes": [epoch seconds of each minute's start], "completed": [n, ...], "failed": [n, ...]}``.

    ``owner_id`` ``None`` counts everyone's (superusers); otherwise that owner's only. Redis down:
    every count is ``None`` (the chart shows a gap, not zeros). This process's own tally is sent first.
    """
    from config.redis_client import redis_client

    flush()
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
