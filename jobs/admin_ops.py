"""Bulk job operations of the admin's Queues page, built on the same services as the API.

``jobs.services.job_retry`` and ``job_cancel`` hold the rules; these only apply them to many jobs.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from .models import FINISHED_STATES, Job, JobState
from .services import JobStateConflict, job_cancel, job_retry


def applied(service, job: Job) -> bool:
    """Run ``service(job=job)``; ``False`` when the job's state does not allow it (the API's 409)."""
    try:
        service(job=job)
    except JobStateConflict:
        return False
    return True


def jobs_retry_failed(*, jobs: QuerySet) -> int:
    """Retry every failed job of ``jobs`` (an owner-scoped queryset); returns how many."""
    return sum(applied(job_retry, job) for job in jobs.filter(state=JobState.FAILED))


def jobs_cancel(*, jobs: QuerySet) -> int:
    """Cancel each job of ``jobs`` that can be (active ones are asked to stop); returns how many."""
    return sum(applied(job_cancel, job) for job in jobs)


@transaction.atomic
def jobs_clean_finished(*, jobs: QuerySet) -> int:
    """Delete the completed, failed and cancelled jobs of ``jobs``; returns how many."""
    deleted, _ = Job.objects.filter(pk__in=jobs.filter(state__in=FINISHED_STATES).values("pk")).delete()
    return deleted
