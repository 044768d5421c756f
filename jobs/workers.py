"""Which worker processes are alive and which jobs each one holds, kept in Redis (issue 13, item 3).

BullMQ keeps a lock per active job and calls a job whose lock expired *stalled*. Here each Celery
worker's main process is the unit that dies (SIGKILL of its process group, a lost machine):

- ``jobserver:workers`` (a set) names every worker that registered, as ``host:pid`` of its main
  process (the pid, not only Celery's node name: a restarted ``worker@host`` must not look like the
  dead one it replaces);
- ``jobserver:worker:<id>:alive`` is set every ``JOB_WORKER_HEARTBEAT_S`` (2 s) by a thread of the
  main process with an expiry of ``JOB_WORKER_DEAD_AFTER_S`` (15 s): its absence means the worker died;
- ``jobserver:worker:<id>:jobs`` (a set) holds the ids of the jobs whose messages the worker received
  and has not finished: added by the main process when a message arrives (so a job it had only
  reserved is known too), removed by the pool process when the task ends (a batch removes the ids it
  did not hand back);
- ``jobserver:worker:<id>:running`` (a hash, job id → pool pid) marks the jobs of a batch whose turn
  came and whose outcome is not stored yet, so that a dead worker's claimed but never started jobs
  go back without counting a stalled run.

The reconciler (beat's leader, :func:`jobs.maintenance.jobs_reconcile`) reads :func:`dead_workers` and
:func:`held_jobs`, hands their jobs back (waiting ones are published again, active ones follow the
stalled-job rule) and then :func:`forget` s the worker. Redis errors never fail a task: the
registry is a speed-up over the database's own heartbeat (``JOB_STALE_AFTER_S``), which still
catches any job the registry missed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

REGISTRY_KEY = "jobserver:workers"
JOB_TASKS = ("jobs.tasks.run_job", "jobs.tasks.run_jobs")

_identity = ""  # set in the worker's main process before it forks, so its pool processes inherit it
_client: redis.Redis | None = None
_client_pid = 0
_stop = threading.Event()


def _alive_key(worker: str) -> str:
    return f"jobserver:worker:{worker}:alive"


def _jobs_key(worker: str) -> str:
    return f"jobserver:worker:{worker}:jobs"


def _running_key(worker: str) -> str:
    return f"jobserver:worker:{worker}:running"


def _redis() -> redis.Redis:
    """One client per process (a forked pool process must not share its parent's sockets)."""
    global _client, _client_pid
    if _client is None or _client_pid != os.getpid():
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
        _client_pid = os.getpid()
    return _client


def identity() -> str:
    """``host:pid`` of this worker's main process, or ``""`` outside a Celery worker (web, beat, tests)."""
    return _identity


def job_ids_of(task_name: str, args: Iterable) -> list[int]:
    """The job ids a ``run_job(job_id)`` / ``run_jobs(job_ids)`` call carries; ``[]`` for other tasks."""
    args = list(args or [])
    if task_name not in JOB_TASKS or not args:
        return []
    first = args[0]
    values = first if isinstance(first, list) else [first]
    return [int(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]


def register() -> None:
    """Called once in the worker's main process (``worker_init``): name it, mark it alive, start its
    heartbeat thread."""
    global _identity
    _identity = f"{socket.gethostname()}:{os.getpid()}"
    _beat()
    threading.Thread(target=_run, name="worker-heartbeat", daemon=True).start()


def _beat() -> None:
    try:
        pipe = _redis().pipeline()
        pipe.set(_alive_key(_identity), "1", px=int(settings.JOB_WORKER_DEAD_AFTER_S * 1000))
        pipe.sadd(REGISTRY_KEY, _identity)
        pipe.execute()
    except redis.RedisError:
        logger.warning("worker heartbeat could not reach Redis", exc_info=True)


def _run() -> None:
    while not _stop.wait(settings.JOB_WORKER_HEARTBEAT_S):
        _beat()


def unregister() -> None:
    """A worker that stops cleanly leaves the registry (its unacknowledged messages go back to the
    broker with it, and its pool finished or handed back its jobs)."""
    if not _identity:
        return
    _stop.set()
    forget(_identity)


def hold(job_ids: list[int]) -> None:
    """The main process received a message for ``job_ids`` (never raises)."""
    _update(_jobs_key, "sadd", job_ids)


def release(job_ids: list[int]) -> None:
    """A pool process ended the task of ``job_ids``: run or skipped (never raises)."""
    _update(_jobs_key, "srem", job_ids)


def started(job_id: int) -> None:
    """A pool process starts the handler of ``job_id``, a job of a batch. A batch claims its jobs
    together and stores their outcomes together, so this tells the reconciler which of a dead
    worker's jobs had run (or were running) without a stored outcome: only those count a stalled
    run; the others never started (never raises)."""
    _update(_running_key, "hset", [job_id], os.getpid())


def settled(job_ids: list[int]) -> None:
    """The outcomes of ``job_ids`` are stored (or they were handed back): no longer :func:`started`."""
    _update(_running_key, "hdel", job_ids)


def _update(key, command: str, job_ids: list[int], value=None) -> None:
    """One Redis command on this worker's ``key`` for ``job_ids``; logs a Redis error, never raises."""
    if not (_identity and job_ids):
        return
    try:
        if command == "hset":
            _redis().hset(key(_identity), job_ids[0], value)
        else:
            getattr(_redis(), command)(key(_identity), *job_ids)
    except redis.RedisError:
        logger.warning("could not %s jobs %s of this worker", command, job_ids[:10], exc_info=True)


def running_jobs(worker: str, client: redis.Redis | None = None) -> set[int]:
    """Ids of ``worker``'s batch jobs that started without a stored outcome (:func:`started`)."""
    client = client or _redis()
    return {int(v) for v in client.hkeys(_running_key(worker))}


def dead_workers(client: redis.Redis | None = None) -> list[str]:
    """Registered workers whose heartbeat expired (``JOB_WORKER_DEAD_AFTER_S``)."""
    client = client or _redis()
    workers = sorted(w.decode() if isinstance(w, bytes) else w for w in client.smembers(REGISTRY_KEY))
    if not workers:
        return []
    pipe = client.pipeline()
    for worker in workers:
        pipe.exists(_alive_key(worker))
    return [worker for worker, alive in zip(workers, pipe.execute(), strict=True) if not alive]


def held_jobs(worker: str, client: redis.Redis | None = None) -> list[int]:
    """Ids of the jobs ``worker`` received and had not finished."""
    client = client or _redis()
    return sorted(int(v) for v in client.smembers(_jobs_key(worker)))


def forget(worker: str, client: redis.Redis | None = None) -> None:
    """Drop ``worker`` from the registry (after its jobs were handed back)."""
    client = client or _redis()
    try:
        pipe = client.pipeline()
        pipe.delete(_alive_key(worker), _jobs_key(worker), _running_key(worker))
        pipe.srem(REGISTRY_KEY, worker)
        pipe.execute()
    except redis.RedisError:
        logger.warning("could not remove worker %s from the registry", worker, exc_info=True)
