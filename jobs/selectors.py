"""Reads of jobs, always scoped to the acting user."""

from datetime import timedelta

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import Job, JobState

# BullMQ's list names that are not states of ours (GET /jobs?status=): ``paused`` (waiting in a
# paused queue: no queue of ours is ever paused, so none) and ``stuck`` (BullMQ's word for an active
# job whose lock expired: here an active job whose heartbeat is older than JOB_STALE_AFTER_S, which the
# reconciler is about to retry or fail).
LIST_STATUSES = [*JobState.values, "paused", "stuck"]


def job_list(*, user, state: str | None = None, name: str | None = None):
    """The user's jobs, newest first, optionally filtered by state (one of :data:`LIST_STATUSES`)
    and handler name."""
    qs = Job.objects.owned_by(user).select_related("schedule")
    if state == "paused":
        qs = qs.none()
    elif state == "stuck":
        cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S)
        qs = qs.filter(state=JobState.ACTIVE, heartbeat_at__lt=cutoff)
    elif state:
        qs = qs.filter(state=state)
    if name:
        qs = qs.filter(name=name)
    return qs.order_by("-id")


def job_get(*, user, job_id) -> Job:
    """The user's job ``job_id``; ``Http404`` if it does not exist or belongs to someone else."""
    if not (str(job_id).isascii() and str(job_id).isdigit()):  # "²".isdigit() is True, int("²") fails
        from django.http import Http404

        raise Http404
    return get_object_or_404(Job.objects.owned_by(user).select_related("schedule"), pk=int(job_id))
