"""Pause, resume and rate-limit named queues (BullMQ's ``queue.pause()``, ``queue.resume()`` and the
worker ``limiter``), and read their state (docs/queues.md).

Queues are shared by every user, so these services are for staff (the Queues board at
``/admin/queues/``, the Django admin); the API only reads them (``GET /queues``).

- **Pause** (:func:`queue_pause`): the claim statements of ``jobs.runtime`` skip jobs of a paused queue
  in the same statement (``NOT EXISTS`` a paused ``JobQueue`` row), so once the pause has committed no
  new job of the queue starts; running ones finish; waiting ones stay ``waiting`` (reported as BullMQ's
  ``paused`` where a client asks for BullMQ's states). Their messages are acknowledged and dropped.
- **Resume** (:func:`queue_resume`): the queue's waiting jobs are published again (``run_jobs``
  batches) after commit.
- **Limit** (:func:`queue_set_limit`): ``jobs.limiter`` grants start slots at claim time.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from . import named_queues
from .models import Job, JobQueue, JobState

logger = logging.getLogger(__name__)

#: The longest limiter window (ms): jobs over the limit wait on a Celery countdown of at most this
#: long, which must stay well below the broker's visibility timeout (webhook retries ride on
#: countdowns of up to ``WEBHOOK_MAX_COUNTDOWN_S`` already).
MAX_LIMIT_DURATION_MS = 600_000
MAX_LIMIT_MAX = 1_000_000


@dataclass(frozen=True)
class QueueState:
    """A declared queue as workers and clients see it. ``limit_max``/``limit_duration_ms``: ``None``
    when the queue has no rate limit."""

    name: str
    paused: bool = False
    limit_max: int | None = None
    limit_duration_ms: int | None = None

    @property
    def limiter(self) -> dict | None:
        """BullMQ's ``{max, duration}`` (duration in ms), or ``None``."""
        if self.limit_max is None or self.limit_duration_ms is None:
            return None
        return {"max": self.limit_max, "duration": self.limit_duration_ms}


# --- reads ----------------------------------------------------------------------------------------------


def queue_states() -> list[QueueState]:
    """Every declared queue (``JOB_QUEUES`` order) with its pause state and limit (one query)."""
    rows = {row.name: row for row in JobQueue.objects.filter(name__in=named_queues.declared())}
    states = []
    for name in named_queues.declared():
        row = rows.get(name)
        states.append(
            QueueState(name, row.paused, row.limit_max, row.limit_duration_ms) if row else QueueState(name)
        )
    return states


def queue_state(name: str) -> QueueState:
    """One declared queue's state; ``ValidationError`` (field ``queue``) for an undeclared name."""
    named_queues.validate(name)
    return next(s for s in queue_states() if s.name == name)


def paused_names() -> list[str]:
    """Names of the paused queues, fresh from the database."""
    return list(JobQueue.objects.filter(paused=True).values_list("name", flat=True))


_cache_lock = threading.Lock()
_cache: tuple[float, dict[str, tuple[int, int]]] = (0.0, {})


def limiter_of(queue: str | None) -> tuple[int, int] | None:
    """``(max, duration ms)`` of ``queue``'s rate limit, or ``None``. Read by workers at every claim,
    so cached per process for ``JOB_QUEUE_CONFIG_CACHE_S`` (a changed limit applies within that
    time; a pause does not depend on it: it is checked inside the claim statement)."""
    global _cache
    if not queue:
        return None
    loaded_at, limits = _cache
    if time.monotonic() - loaded_at >= settings.JOB_QUEUE_CONFIG_CACHE_S:
        with _cache_lock:
            rows = JobQueue.objects.filter(limit_max__isnull=False, limit_duration_ms__isnull=False)
            limits = {
                r.name: (r.limit_max, r.limit_duration_ms)
                for r in rows
                if r.limit_max is not None and r.limit_duration_ms is not None
            }
            _cache = (time.monotonic(), limits)
    return limits.get(queue)


def forget_cached_limits() -> None:
    """Drop this process's cached limits (tests, and the process that changed one)."""
    global _cache
    _cache = (0.0, {})


def queue_counts(*, user=None, names: list[str] | None = None) -> dict[str, dict[str, int]]:
    """``{queue: {state: n}}`` for every declared queue (or ``names``), with BullMQ's ``paused``: the
    waiting jobs of a paused queue count as ``paused``, not ``waiting``. ``user``: only that user's jobs
    (``None``: everyone's, for staff pages). States: ``JobState`` values plus ``paused``; one GROUP BY."""
    names = names if names is not None else named_queues.declared()
    qs = Job.objects.filter(queue__in=names)
    if user is not None:
        qs = qs.filter(owner=user)
    found = qs.order_by().values_list("queue", "state").annotate(n=Count("id"))
    paused = set(paused_names())
    counts = {name: dict.fromkeys([*JobState.values, "paused"], 0) for name in names}
    for queue, state, n in found:
        if state == JobState.WAITING and queue in paused:
            state = "paused"
        counts[queue][state] = counts[queue].get(state, 0) + n
    return counts


def bullmq_state(job: Job, paused: set[str] | None = None) -> str:
    """The job's state in BullMQ's words: ``paused`` for a waiting job of a paused queue (``paused``:
    the paused queue names, read once per response), else its state."""
    if job.state != JobState.WAITING:
        return job.state
    if paused is None:
        paused = set(paused_names())
    return "paused" if job.queue in paused else job.state


# --- writes (staff) -------------------------------------------------------------------------------------


def _row(name: str) -> JobQueue:
    named_queues.validate(name)
    row, _ = JobQueue.objects.select_for_update().get_or_create(name=name)
    return row


@transaction.atomic
def queue_pause(*, name: str) -> QueueState:
    """Pause queue ``name`` (BullMQ ``queue.pause()``; idempotent). Once this returns no new job of the
    queue starts; running jobs finish; waiting jobs stay waiting. Raises ``ValidationError`` (field
    ``queue``) for an undeclared queue."""
    row = _row(name)
    if not row.paused:
        row.paused = True
        row.save(update_fields=["paused", "updated_at"])
        logger.info("queue %s paused", name)
    return queue_state(name)


@transaction.atomic
def queue_resume(*, name: str) -> QueueState:
    """Resume queue ``name`` (BullMQ ``queue.resume()``; idempotent): after commit its waiting jobs are
    published again in ``run_jobs`` batches (their messages were dropped while paused). Raises
    ``ValidationError`` (field ``queue``) for an undeclared queue."""
    row = _row(name)
    if row.paused:
        row.paused = False
        row.save(update_fields=["paused", "updated_at"])
        logger.info("queue %s resumed", name)
    transaction.on_commit(lambda: queue_publish_waiting(name=name))
    return queue_state(name)


def queue_publish_waiting(*, name: str) -> int:
    """Publish every waiting job of queue ``name`` again (after a resume), ``JOB_MAINTENANCE_BATCH_SIZE``
    rows at a time, oldest first; a duplicate message is a no-op at claim. Returns the jobs published."""
    from .publishing import publish_batches

    published, after = 0, 0
    batch = settings.JOB_MAINTENANCE_BATCH_SIZE
    while True:
        jobs = list(
            Job.objects.filter(queue=name, state=JobState.WAITING, pk__gt=after)
            .order_by("pk")
            .only("pk", "state", "queue", "priority")[:batch]
        )
        if not jobs:
            return published
        now = timezone.now()
        Job.objects.filter(pk__in=[j.pk for j in jobs], state=JobState.WAITING).update(enqueued_at=now)
        publish_batches(jobs)
        published += len(jobs)
        after = jobs[-1].pk


def _limit_value(value: Any, field: str, top: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
        raise ValidationError({field: [f"{field}: must be a whole number from 1 to {top}"]}, code="invalid")
    return value


@transaction.atomic
def queue_set_limit(*, name: str, limit_max: Any, duration_ms: Any) -> QueueState:
    """Set (or, with both ``None``, remove) queue ``name``'s rate limit: at most ``limit_max`` jobs start
    per ``duration_ms`` ms across all workers (BullMQ ``limiter {max, duration}``). Workers apply it
    within ``JOB_QUEUE_CONFIG_CACHE_S``. Raises ``ValidationError`` naming ``max`` or ``duration`` (both
    or neither; 1..1,000,000 jobs; 1..600,000 ms) or ``queue``."""
    top_max, top_duration = MAX_LIMIT_MAX, MAX_LIMIT_DURATION_MS
    value_max = _limit_value(limit_max, "max", top_max)
    value_duration = _limit_value(duration_ms, "duration", top_duration)
    if (value_max is None) != (value_duration is None):
        missing = "duration" if value_duration is None else "max"
        raise ValidationError({missing: [f"{missing}: required with the other (set both, or neither)"]})
    row = _row(name)
    row.limit_max, row.limit_duration_ms = value_max, value_duration
    row.save(update_fields=["limit_max", "limit_duration_ms", "updated_at"])
    forget_cached_limits()
    return queue_state(name)
