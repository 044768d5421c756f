"""Reads of jobs, always scoped to the acting user."""

from django.shortcuts import get_object_or_404

from config.ids import id_or_404

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
    """The user's job ``job_id``; ``Http404`` if it does not exist, belongs to someone else or is not an
    id at all (``config.ids``)."""
    return get_object_or_404(Job.objects.owned_by(user).select_related("schedule"), pk=id_or_404(job_id))
