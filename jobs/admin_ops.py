"""Job operations used by Django admin and the Queues page: retry, cancel, clean finished jobs.

Stand-ins until the jobs engine's ``jobs.services.job_retry`` / ``job_cancel`` are merged; the
admin calls only these three functions, so switching is a one-line change each. Every change is
a conditional UPDATE on the expected states (safe against a worker finishing the job meanwhile),
and the message / event goes out after commit.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import FINISHED_STATES, Job, JobState
from .realtime import publish_job_event
from .services import job_enqueue

RETRYABLE = (JobState.FAILED, JobState.CANCELLED)
CANCELLABLE = (JobState.WAITING, JobState.DELAYED, JobState.ACTIVE)


@transaction.atomic
def job_retry(*, job: Job) -> bool:
    """Put a failed or cancelled job back to ``waiting`` and enqueue it after commit.

    Returns ``False`` (nothing changed) when the job is in any other state.
    """
    changed = Job.objects.filter(pk=job.pk, state__in=RETRYABLE).update(
        state=JobState.WAITING,
        failed_reason="",
        stacktrace="",
        result=None,
        progress=0,
        started_at=None,
        finished_at=None,
        run_at=None,
        cancel_requested=False,
    )
    if changed:
        fresh = Job.objects.select_related("schedule").get(pk=job.pk)
        transaction.on_commit(lambda: job_enqueue(fresh))
    return bool(changed)


@transaction.atomic
def job_cancel(*, job: Job) -> bool:
    """Cancel a waiting or delayed job at once; ask an active one to stop (its handler sees
    ``ctx.cancelled``). Returns ``False`` for a finished job."""
    now = timezone.now()
    changed = Job.objects.filter(pk=job.pk, state__in=(JobState.WAITING, JobState.DELAYED)).update(
        state=JobState.CANCELLED,
        finished_at=now,
        cancel_requested=True,
        failed_reason="cancelled by an admin",
    )
    if changed:
        fresh = Job.objects.select_related("schedule").get(pk=job.pk)
        transaction.on_commit(lambda: publish_job_event(fresh, "cancelled"))
        return True
    return bool(Job.objects.filter(pk=job.pk, state=JobState.ACTIVE).update(cancel_requested=True))


def jobs_retry_failed(*, jobs: QuerySet) -> int:
    """Retry every failed job of ``jobs`` (an owner-scoped queryset); returns how many."""
    return sum(job_retry(job=job) for job in jobs.filter(state=JobState.FAILED).only("pk"))


@transaction.atomic
def jobs_clean_finished(*, jobs: QuerySet) -> int:
    """Delete the completed, failed and cancelled jobs of ``jobs``; returns how many."""
    deleted, _ = Job.objects.filter(pk__in=jobs.filter(state__in=FINISHED_STATES).values("pk")).delete()
    return deleted
