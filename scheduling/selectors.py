"""Reads of schedules, always scoped to the acting user."""

from config.errors import NotFoundError

from .models import Schedule


def schedule_list(*, user):
    """The user's schedules, newest first (indexed by owner)."""
    return Schedule.objects.owned_by(user).order_by("-id")


def schedule_get(*, user, scheduler_id: str) -> Schedule:
    """The user's schedule ``scheduler_id``; ``NotFoundError`` if it does not exist or is someone else's."""
    row = Schedule.objects.owned_by(user).filter(scheduler_id=scheduler_id).first()
    if row is None:
        raise NotFoundError
    return row
