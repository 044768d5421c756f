"""Reads of schedules, always scoped to the acting user."""

from django.http import Http404

from .models import Schedule


def schedule_list(*, user):
    """The user's schedules, newest first (indexed by owner)."""
    return Schedule.objects.owned_by(user).order_by("-id")


def schedule_get(*, user, scheduler_id: str) -> Schedule:
    """The user's schedule ``scheduler_id``; ``Http404`` if it does not exist or is someone else's."""
    row = Schedule.objects.owned_by(user).filter(scheduler_id=scheduler_id).first()
    if row is None:
        raise Http404
    return row
