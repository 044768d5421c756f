"""Reads of jobs, always scoped to the acting user."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from config.errors import NotFoundError

from . import ids
from .models import Job, JobQueue, JobState

# BullMQ's list names that are not states of ours (GET /jobs?status=): ``paused`` (a waiting job of a
# paused queue: docs/queues.md; ``waiting`` then lists the others) and ``stuck`` (BullMQ's word for an
# active job whose lock expired: here an active job whose heartbeat is older than JOB_STALE_AFTER_S,
# which the reconciler is about to retry or fail).
LIST_STATUSES = [*JobState.values, "paused", "stuck"]


def job_list(*, user, state: str | None = None, name: str | None = None, queue: str | None = None):
    """The user's jobs, newest first, optionally filtered by state (one of :data:`LIST_STATUSES`),
    handler name and named queue. BullMQ's ``paused``/``waiting`` split the waiting jobs by whether their
    queue is paused."""
    qs = Job.objects.owned_by(user).select_related("schedule")
    if queue:
        qs = qs.filter(queue=queue)
    paused_queues = JobQueue.objects.filter(paused=True).values("name")
    if state == "paused":
        qs = qs.filter(state=JobState.WAITING, queue__in=paused_queues)
    elif state == JobState.WAITING:
        qs = qs.filter(state=JobState.WAITING).exclude(queue__in=paused_queues)
    elif state == "stuck":
        cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S)
        qs = qs.filter(state=JobState.ACTIVE, heartbeat_at__lt=cutoff)
    elif state:
        qs = qs.filter(state=state)
    if name:
        qs = qs.filter(name=name)
    return qs.order_by("-id")


def job_get(*, user, job_id) -> Job:
    """The user's job named by a path id: its numeric id, its custom ``jobId`` or its
    ``repeat:<schedulerId>:<fire time ms>`` id, read in the order of :mod:`jobs.ids` (integer form is
    always the numeric id). ``NotFoundError`` if it names no job of ``user`` (another user's job included).

    One indexed query per form tried: (id), (owner, custom id) unique, (schedule, fire time) unique.
    """
    text = str(job_id)
    jobs = Job.objects.owned_by(user).select_related("schedule")
    number = ids.integer_id(text)
    if number is not None:
        job = jobs.filter(pk=number).first() if 1 <= number <= ids.MAX_PK else None
    else:
        job = None
        fire = ids.parse_repeat_job_id(text)
        if fire is not None:
            scheduler_id, fire_at = fire
            # A range of one millisecond: fire times stored before they were whole milliseconds
            # (interval grids anchored at a creation instant) still match their id.
            job = jobs.filter(
                schedule__scheduler_id=scheduler_id, fire_at__gte=fire_at, fire_at__lt=fire_at + ids.ONE_MS
            ).first()
        if job is None:
            job = jobs.filter(idempotency_key=text).first()
    if job is None:
        raise NotFoundError
    return job


def job_get_in_queue(*, user, queue: str, job_id) -> Job:
    """:func:`job_get`, and the job must be in named queue ``queue`` (JobRunner v0.0.2's
    ``/jobs/:queueName/job/:jobId``); ``NotFoundError`` otherwise, as for another user's job."""
    job = job_get(user=user, job_id=job_id)
    if job.queue != queue:
        raise NotFoundError
    return job
