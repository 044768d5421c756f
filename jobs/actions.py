"""The owner's actions on a job: cancel, retry, promote, delete (BullMQ's rules for each)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from config.errors import StateError

from .dependencies import dependency_removed, dependency_restored, final_write
from .models import FINISHED_STATES, Job, JobState
from .publishing import job_enqueue
from .realtime import publish_job_event

logger = logging.getLogger(__name__)


class JobStateConflict(StateError):
    """The job's state does not allow the action (cancel, retry, delete), or it was deleted meanwhile;
    the API answers 409."""


def _refresh(job: Job) -> None:
    """Re-read ``job``; a concurrent DELETE that removed it is a :class:`JobStateConflict`, not a 500."""
    try:
        job.refresh_from_db()
    except Job.DoesNotExist:
        raise JobStateConflict(f"job {job.pk} was deleted meanwhile") from None


def job_cancel(*, job: Job) -> Job:
    """Cancel ``job``. Waiting/delayed (or a flow's parent in ``waiting-children``): it becomes
    ``cancelled`` at once and never runs (its message, if any, finds it not waiting). Active:
    ``cancel_requested`` is set; the handler's next ``ctx.check_cancelled()`` raises and the job ends
    ``cancelled`` (a handler that never checks finishes normally). Raises :class:`JobStateConflict`
    for a finished job.

    Flows (docs/flows.md): a cancelled child counts as a failed one under its policy
    (``jobs.dependencies``); a cancelled parent's unfinished descendants are cancelled too, top down
    (their outcomes no longer matter to it).
    """
    now = timezone.now()
    was_parent = job.state == JobState.WAITING_CHILDREN
    cancellable = [JobState.WAITING, JobState.DELAYED, JobState.WAITING_CHILDREN]
    def write() -> int:
        return Job.objects.filter(pk=job.pk, state__in=cancellable).update(
            state=JobState.CANCELLED, cancel_requested=True, failed_reason="cancelled: before it ran",
            finished_at=now,
        )

    if final_write(job, JobState.CANCELLED, write):
        _refresh(job)
        publish_job_event(job, "cancelled")
        if was_parent:
            jobs_cancel_descendants(job=job)
        return job
    if Job.objects.filter(pk=job.pk, state=JobState.ACTIVE).update(cancel_requested=True):
        _refresh(job)
        return job
    _refresh(job)
    raise JobStateConflict(
        f"job {job.pk} is {job.state}; only waiting, delayed or active jobs can be cancelled"
    )


def jobs_cancel_descendants(*, job: Job) -> int:
    """Cancel every unfinished descendant of ``job``, level by level from the top (so that no child's
    cancel can count off a parent that is still waiting and start it). Returns how many were
    cancelled or asked to stop (active ones: ``cancel_requested``)."""
    done = 0
    level = [job.pk]
    while level:
        children = list(Job.objects.filter(parent_id__in=level).order_by("pk"))
        for child in children:
            if child.state not in FINISHED_STATES:
                try:
                    job_cancel(job=child)
                    done += 1
                except JobStateConflict:  # it finished meanwhile
                    pass
        level = [child.pk for child in children]
    return done


def job_retry(*, job: Job) -> Job:
    """Run a ``failed`` or ``cancelled`` job again: back to ``waiting``, outcome fields cleared.

    ``attemptsMade`` keeps counting (BullMQ's ``job.retry()``), so this grants one more run plus
    whatever ``attempts`` remain. Raises :class:`JobStateConflict` in any other state.
    """
    now = timezone.now()
    with transaction.atomic():
        if job.parent_id is not None:
            _refresh(job)
            dependency_restored(job)  # a counted failure of a flow's child: its parent waits again
        if not Job.objects.filter(pk=job.pk, state__in=[JobState.FAILED, JobState.CANCELLED]).update(
            state=JobState.WAITING, enqueued_at=now, run_at=None, started_at=None, finished_at=None,
            heartbeat_at=None, failed_reason="", stacktrace="", result=None, progress=0, output="",
            cancel_requested=False,
        ):
            _refresh(job)
            raise JobStateConflict(
                f"job {job.pk} is {job.state}; only failed or cancelled jobs can be retried"
            )
        _refresh(job)
        transaction.on_commit(lambda: job_enqueue(job))
    return job


def job_promote(*, job: Job) -> Job:
    """Run a ``delayed`` job now (BullMQ's ``job.promote()``): ``delayed`` → ``waiting``, published
    after commit.

    One conditional UPDATE, so a promotion racing beat's promoter or a cancel moves the job once.
    Works for a first run held by ``delay`` and for a retry waiting out its backoff alike. Raises
    :class:`JobStateConflict` in any other state.
    """
    now = timezone.now()
    with transaction.atomic():
        if not Job.objects.filter(pk=job.pk, state=JobState.DELAYED).update(
            state=JobState.WAITING, run_at=None, enqueued_at=now
        ):
            job.refresh_from_db()
            raise JobStateConflict(f"job {job.pk} is {job.state}; only delayed jobs can be promoted")
        job.refresh_from_db()
        transaction.on_commit(lambda: job_enqueue(job))
    return job


def job_delete(*, job: Job) -> None:
    """Delete any job that is not ``active`` (BullMQ's rule: ``job.remove()`` fails on a locked job).

    A waiting job's message then finds no row and does nothing; a delayed one is never promoted.
    Raises :class:`JobStateConflict` for an active job (cancel it first).

    Flows (docs/flows.md): the job's children (and theirs) are deleted with it (CASCADE); a child
    deleted while its parent waits is a removed dependency (BullMQ's ``job.remove()``), so the parent
    goes on when it was the last one (``jobs.dependencies.dependency_removed``).
    """
    if job.parent_id is None:
        deleted, _ = Job.objects.filter(pk=job.pk).exclude(state=JobState.ACTIVE).delete()
    else:
        with transaction.atomic():
            current = Job.objects.filter(pk=job.pk).exclude(state=JobState.ACTIVE).first()
            deleted = 0
            if current is not None:
                deleted, _ = Job.objects.filter(pk=job.pk).exclude(state=JobState.ACTIVE).delete()
                if deleted:
                    dependency_removed(current)
    if not deleted:
        _refresh(job)
        raise JobStateConflict(
            f"job {job.pk} is active; an active job cannot be deleted (BullMQ's rule): cancel it first"
        )
