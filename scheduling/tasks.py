"""Celery tasks of queue ``schedules``: turn due fires into jobs."""

from datetime import datetime

from celery import shared_task
from django.utils.dateparse import parse_datetime

from config.celery import DatabaseRetryTask

from . import firing


def _instant(text: str) -> datetime:
    """A fire time as beat sends it (ISO 8601 with offset); ``ValueError`` for anything else."""
    parsed = parse_datetime(text)
    if parsed is None:
        raise ValueError(f"not an ISO 8601 instant: {text!r}")
    return parsed


@shared_task(name="scheduling.tasks.fire_schedules", ignore_result=True, base=DatabaseRetryTask)
def fire_schedules(fires: list) -> None:
    """Create the job of each ``[schedule_pk, fire_at ISO]`` pair (idempotent per pair)."""
    firing.schedules_fire(fires=[(schedule_id, _instant(fire_at)) for schedule_id, fire_at in fires])


@shared_task(name="scheduling.tasks.fire_schedule", ignore_result=True, base=DatabaseRetryTask)
def fire_schedule(schedule_id: int, fire_at: str | None = None) -> None:
    """The ``PeriodicTask`` projection's task: one fire (``fire_at`` ISO), or a manual run when omitted."""
    firing.schedule_fire(schedule_id=schedule_id, fire_at=parse_datetime(fire_at) if fire_at else None)
