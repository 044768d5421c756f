"""Publishing waiting jobs to their queue's Celery queue (``jobs.named_queues``): one ``run_job``
message for a single job, ``run_jobs`` batches for many (docs/runtime.md). Always after the job's
row is committed; a broker error is logged, never raised (the reconciler publishes waiting jobs
whose message is lost)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings

from .models import Job, JobState
from .named_queues import celery_queue
from .options import broker_priority
from .realtime import publish_job_event

logger = logging.getLogger(__name__)


def chunked(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def publish_batches(jobs: Iterable[Job], *, countdown_s: float | None = None) -> int:
    """Publish the ``waiting`` ones of ``jobs`` as ``run_jobs`` messages (call after commit).

    ``countdown_s``: deliver them that many seconds from now (a rate-limited queue's jobs waiting for
    its window to free; at most ``jobs.queue_control.MAX_LIMIT_DURATION_MS``). Each message names its
    job queue (``queue=``) for the worker's rate limiter.
    Grouped by queue (each goes to its queue's Celery queue) and broker priority step
    (``jobs.options.broker_priority``), at most ``JOB_BATCH_SIZE`` ids per message, in the given order.
    Never raises: a broker error is logged and the reconciler publishes any waiting job whose
    message is older than ``JOB_REQUEUE_WAITING_AFTER_S``. Returns the number of messages sent.
    """
    from .tasks import run_jobs

    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for job in jobs:
        if job.state == JobState.WAITING:
            groups[(job.queue, broker_priority(job.priority))].append(job.pk)
    sent = 0
    for (queue, priority), ids in sorted(groups.items()):
        for chunk in chunked(ids, settings.JOB_BATCH_SIZE):
            try:
                run_jobs.apply_async(
                    args=[chunk], kwargs={"queue": queue}, priority=priority, queue=celery_queue(queue),
                    countdown=countdown_s,
                )
                sent += 1
            except Exception:
                logger.warning("could not publish %d job(s); the reconciler will publish them again",
                               len(chunk), exc_info=True)
    return sent



def _publish(job: Job) -> None:
    """Send the job's ``run_job`` message with its broker priority and time limits.

    ``timeout`` (ms) becomes Celery's per-call soft time limit (``SoftTimeLimitExceeded`` is
    raised inside the handler); the hard limit follows ``JOB_TIMEOUT_GRACE_S`` later. Celery
    enforces time limits in its default prefork pool only (not ``-P solo``/``threads``).
    """
    from .tasks import run_job

    kwargs: dict[str, Any] = {"priority": broker_priority(job.priority), "queue": celery_queue(job.queue)}
    timeout_ms = (job.options or {}).get("timeout")
    if timeout_ms:
        kwargs["soft_time_limit"] = timeout_ms / 1000
        kwargs["time_limit"] = timeout_ms / 1000 + settings.JOB_TIMEOUT_GRACE_S
    run_job.apply_async(args=[job.pk], kwargs={"queue": job.queue}, **kwargs)


def job_enqueue(job: Job) -> None:
    """Publish a waiting job's message to its queue's Celery queue and announce it (call after commit).

    A broker error is logged, not raised: the row is stored and the reconciler publishes any
    waiting job whose message is older than ``JOB_REQUEUE_WAITING_AFTER_S``.
    """
    if job.state == JobState.WAITING:
        try:
            _publish(job)
        except Exception:
            logger.warning("could not publish job %s; the reconciler will publish it again", job.pk,
                           exc_info=True)
    publish_job_event(job, job.state)


def jobs_enqueue_many(jobs: list[Job]) -> None:
    """Publish many waiting jobs as ``run_jobs`` batches (:func:`publish_batches`) and
    announce each job's state (call after commit). Never raises for a broker error, as :func:`job_enqueue`."""
    publish_batches(jobs)
    for job in jobs:
        publish_job_event(job, job.state)
