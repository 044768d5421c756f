"""Celery tasks of queue ``schedules``: turn due fires into jobs."""

from celery import shared_task
from django.utils.dateparse import parse_datetime

from config.celery import DatabaseRetryTask

from . import services


@shared_task(name="scheduling.tasks.fire_schedules", ignore_result=True, base=DatabaseRetryTask)
def fire_schedules(fires: list) -> None:
    """Create the job of each ``[schedule_pk, fire_at ISO]`` pair (idempotent per pair)."""
    services.schedules_fire(fires=[(schedule_id, parse_datetime(fire_at)) for schedule_id, fire_at in fires])


@shared_task(name="scheduling.tasks.fire_schedule", ignore_result=True, base=DatabaseRetryTask)
def fire_schedule(schedule_id: int, fire_at: str | None = None) -> None:
    """The ``PeriodicTask`` projection's task: one fire (``fire_at`` ISO), or a manual run when omitted."""
    services.schedule_fire(schedule_id=schedule_id, fire_at=parse_datetime(fire_at) if fire_at else None)
