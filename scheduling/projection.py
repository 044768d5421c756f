"""The django-celery-beat projection of schedules (docs/scheduling.md, "The django-celery-beat
projection"): each ``Schedule`` is mirrored by a ``PeriodicTask`` with a crontab, interval or clocked
row stating its timing exactly where django-celery-beat can, so operators see schedules in the tools
they know. Beat never fires from it (``scheduling.firing`` fires from ``Schedule.next_fire_at``).
This module is the only one that writes those rows; after a bulk change it bumps
django-celery-beat's change tracker (``PeriodicTasks.update_changed``).
"""

from __future__ import annotations

import json

from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
)

from . import cron, timing
from .models import Schedule, ScheduleKind, ScheduleState

FIRE_TASK = "scheduling.tasks.fire_schedule"


def project(schedule: Schedule) -> None:
    """Create, update or remove the ``PeriodicTask`` mirroring ``schedule`` (docs/scheduling.md,
    "The django-celery-beat projection").

    The task gets a crontab, interval or clocked row stating the schedule's timing exactly, or no
    task at all when django-celery-beat cannot state it (:func:`_timing_row`). Each task has a row
    of its own: a changed timing gets a new row and the old one is deleted once no task refers to it,
    so changes leave no orphan rows behind.
    """
    timing_row = _timing_row(schedule)
    task = schedule.periodic_task
    if timing_row is None:
        if task is not None:
            Schedule.objects.filter(pk=schedule.pk).update(periodic_task=None)
            schedule.periodic_task = None
            unproject(task)
        return
    task = task or PeriodicTask(name=f"schedule:{schedule.pk}", task=FIRE_TASK)
    task.args = json.dumps([schedule.pk])
    task.queue = "schedules"
    task.enabled = schedule.state == ScheduleState.ACTIVE
    task.start_time = schedule.start_at
    task.expires = schedule.end_at
    task.one_off = schedule.kind == ScheduleKind.AT
    task.description = f"{schedule.owner_id}:{schedule.scheduler_id} {timing.describe(schedule)}"[:2000]
    old = [row for row in (task.crontab, task.interval, task.clocked) if row is not None]
    kept = next((row for row in old if _same_timing(row, timing_row)), None)
    if kept is None:
        timing_row.save()
        kept = timing_row
    task.crontab = task.interval = task.clocked = None
    setattr(task, _TIMING_FIELD[type(kept)], kept)
    task.save()
    _drop_unused(row for row in old if row is not kept)
    if schedule.periodic_task_id != task.pk:
        schedule.periodic_task = task
        Schedule.objects.filter(pk=schedule.pk).update(periodic_task=task)


_TIMING_FIELD = {CrontabSchedule: "crontab", IntervalSchedule: "interval", ClockedSchedule: "clocked"}


def _timing_row(schedule: Schedule) -> CrontabSchedule | IntervalSchedule | ClockedSchedule | None:
    """An unsaved django-celery-beat row stating the schedule's timing exactly, or ``None`` if none can.

    None for a cron Celery's crontab cannot state (:func:`cron.celery_crontab_fields`: seconds other
    than 0, ``L``/``W``/``#``, the day-of-month OR day-of-week rule) and for an interval that is neither
    a whole number of days/hours/minutes/seconds nor below 2^31 microseconds (:func:`_interval_projection`).
    """
    if schedule.kind == ScheduleKind.CRON:
        columns = cron.celery_crontab_fields(schedule.cron_expression)
        return None if columns is None else CrontabSchedule(**columns, timezone=schedule.time_zone)
    if schedule.kind == ScheduleKind.EVERY:
        assert schedule.every_ms is not None
        projected = _interval_projection(schedule.every_ms)
        return None if projected is None else IntervalSchedule(every=projected[0], period=projected[1])
    return ClockedSchedule(clocked_time=schedule.at)


def _same_timing(row, wanted) -> bool:
    if type(row) is not type(wanted):
        return False
    if isinstance(row, CrontabSchedule):
        names = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week", "timezone")
        return all(str(getattr(row, n)) == str(getattr(wanted, n)) for n in names)
    if isinstance(row, IntervalSchedule):
        return (row.every, row.period) == (wanted.every, wanted.period)
    return row.clocked_time == wanted.clocked_time


def _drop_unused(rows) -> None:
    """Delete crontab/interval/clocked rows no ``PeriodicTask`` refers to any more.

    Rows are not shared by schedules, but django-celery-beat's own ``from_schedule`` (system tasks of
    ``CELERY_BEAT_SCHEDULE``) may pick up any row with equal fields, and deleting a referenced row
    would cascade to that task: the filter keeps such a row.
    """
    for row in rows:
        type(row).objects.filter(pk=row.pk, periodictask__isnull=True).delete()


def unproject(task: PeriodicTask) -> None:
    """Delete a schedule's ``PeriodicTask`` and its crontab/interval/clocked row; bump beat's tracker."""
    rows = [row for row in (task.crontab, task.interval, task.clocked) if row is not None]
    PeriodicTask.objects.filter(pk=task.pk).delete()
    _drop_unused(rows)
    PeriodicTasks.update_changed()


def schedule_deleted(*, instance: Schedule, **_) -> None:
    """``post_delete`` receiver of ``Schedule`` (connected in ``SchedulingConfig.ready``): its projection
    goes with it, on every path that deletes a schedule (``services.schedule_delete``, the admin, and the
    cascade when its owner is deleted)."""
    if instance.periodic_task_id is None:
        return
    task = (
        PeriodicTask.objects.select_related("crontab", "interval", "clocked")
        .filter(pk=instance.periodic_task_id)
        .first()
    )
    if task is not None:
        unproject(task)


def _interval_projection(every_ms: int) -> tuple[int, str] | None:
    """``(every, period)`` for django-celery-beat's ``IntervalSchedule``: the coarsest exact unit.

    Its ``every`` is a 32-bit integer, so microseconds only fit below ~35.8 minutes; an interval
    that is not a whole number of seconds and longer than that cannot be stated exactly: ``None``
    (no projection; beat fires from ``Schedule.every_ms`` in any case).
    """
    for period, size in (
        (IntervalSchedule.DAYS, 86_400_000),
        (IntervalSchedule.HOURS, 3_600_000),
        (IntervalSchedule.MINUTES, 60_000),
        (IntervalSchedule.SECONDS, 1000),
    ):
        if every_ms % size == 0 and every_ms // size <= 2**31 - 1:
            return every_ms // size, period
    if every_ms * 1000 <= 2**31 - 1:
        return every_ms * 1000, IntervalSchedule.MICROSECONDS
    return None


def projection_disable(schedules: list[Schedule]) -> None:
    """Disable the ``PeriodicTask`` of each (ended) schedule in one UPDATE; bump beat's tracker."""
    PeriodicTask.objects.filter(pk__in=[r.periodic_task_id for r in schedules if r.periodic_task_id]).update(
        enabled=False
    )
    PeriodicTasks.update_changed()
