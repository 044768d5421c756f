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


def schedule_get_in_queue(*, user, queue: str, scheduler_id: str) -> Schedule:
    """:func:`schedule_get`, and the schedule's jobs must go to named queue ``queue`` (JobRunner v0.0.2's
    ``/jobs/:queueName/schedule/:schedulerId``); ``NotFoundError`` otherwise."""
    row = schedule_get(user=user, scheduler_id=scheduler_id)
    if row.queue != queue:
        raise NotFoundError
    return row
