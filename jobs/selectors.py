"""Reads of jobs, always scoped to the acting user."""

from django.shortcuts import get_object_or_404

from .models import Job


def job_list(*, user, state: str | None = None, name: str | None = None):
    """The user's jobs, newest first, optionally filtered by state and handler name."""
    qs = Job.objects.owned_by(user).select_related("schedule")
    if state:
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
